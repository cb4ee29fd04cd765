/**
 * Pure data shapes of state and live events (instance and login states, health, alias reloads,
 * log lines, requests in flight), shared by core (backends/types.ts, routing/types.ts, events.ts)
 * and the admin wire types (admin/api-types.ts), which the renderer compiles with DOM libs only:
 * no imports here.
 */

export type InstanceState = 'stopped' | 'starting' | 'ready' | 'reconnecting' | 'failed' | 'closed';

export type LoginState =
  | { state: 'not_applicable' }
  | { state: 'logged_out' }
  | { state: 'logging_in' }
  | { state: 'logged_in'; user?: string; quotaExceeded?: boolean }
  | { state: 'needs_manual'; url: string; reason: string }
  /** `rejected`: the sign-in page refused the user name or password (a person must fix it). */
  | { state: 'failed'; reason: string; rejected?: boolean };

/**
 * Can an instance serve, in one word (core/pool/availability.ts decides; /healthz, the pool, the
 * dispatcher, the dashboard and the tray all read that one answer). Exactly one per instance:
 * `serving`; `starting` (process starting or reconnecting); `signing_in` (an automatic sign-in is
 * under way); `needs_person` (signed out, sign-in refused, or a captcha/verification page);
 * `cooling_down` (health backoff after failures); `out_of_credits` (quota/credits used up until a
 * reset); `failed` (the process could not start); `stopped` (stopped, disabled or removed).
 */
export type AvailabilityStatus =
  | 'serving'
  | 'starting'
  | 'signing_in'
  | 'needs_person'
  | 'cooling_down'
  | 'out_of_credits'
  | 'failed'
  | 'stopped';

export interface AvailabilityView {
  serving: boolean;
  status: AvailabilityStatus;
  /** One short, client-safe sentence naming the instance (no URLs, no secrets). */
  reason: string;
  /** Epoch ms when a health backoff or a credit cool-down is expected to end, when known. */
  until?: number;
  /** Account limits, for accounts with a known limit. */
  quota?: { exceeded: boolean; resetsAt?: number };
  /** A cool-down (health backoff or credits) a person may clear by hand. */
  clearable: boolean;
  /** What a person reads: the one status word, its detail and the process as secondary text (core/pool/status.ts). */
  display: StatusDisplay;
}

/**
 * The one status a person sees per instance (core/pool/status.ts maps the availability answer to
 * it): the dashboard's pill, the tray, `/healthz` all show this.
 */
export type StatusKind = 'serving' | 'cooling_down' | 'needs_person' | 'out_of_credits' | 'starting' | 'stopped';

/**
 * What a person can do about it, matching the state: `fix_password` (the password was refused),
 * `finish_sign_in` (a captcha or verification page waits), `sign_in` (signed out, or a sign-in
 * failed for another reason), `restart` (the process stopped or failed), `clear_cooldown`.
 */
export type StatusAction = 'fix_password' | 'finish_sign_in' | 'sign_in' | 'restart' | 'clear_cooldown';

export interface StatusDisplay {
  kind: StatusKind;
  /** `Serving`, `Cooling down`, `Needs a person`, `Out of credits`, `Starting`, `Stopped`. */
  label: string;
  /** One client-safe line saying why (no URLs, no secrets); empty when serving. */
  detail: string;
  /** The process (and sign-in) state as secondary text: `process ready`, `process failed`, `signing in`... */
  process: string;
  /** Epoch ms: end of a cool-down (cooling_down) or the credit reset (out_of_credits), when known. */
  until?: number;
  /** The last error behind a cool-down, with when it happened. */
  lastError?: { text: string; at?: number };
  action?: StatusAction;
}

export interface HealthSnapshot {
  instance: string;
  healthy: boolean;
  consecutiveFailures: number;
  lastError?: string;
  lastErrorAt?: number;
  unhealthyUntil?: number;
}

export interface ReloadOutcome {
  at: number;
  ok: boolean;
  source: string;
  error?: string;
  aliases: number;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogLine {
  time: number;
  level: LogLevel;
  msg: string;
  requestId?: string;
  instance?: string;
  /** Other structured fields, already free of secrets. */
  fields?: Record<string, unknown>;
}

/** One request in flight, as the "live requests" screen shows it. */
export interface LiveRequest {
  /** Unique per request; the client's `requestId` may repeat. */
  id: string;
  requestId: string;
  protocol: string;
  endpoint: string;
  model: string;
  stream: boolean;
  apiKeyId: string;
  startedAt: number;
  /** Set once routed. */
  provider?: string;
  instance?: string;
  resolved?: string;
  firstByteAt?: number;
  /** Set on end. */
  finishedAt?: number;
  status?: number;
  errorCode?: string;
}

/** The admin event socket's own subprotocol; the server selects it and never echoes another. */
export const ADMIN_WS_PROTOCOL = 'relay-admin';
/** Browsers cannot set headers on a WebSocket: the admin token rides as subprotocol `bearer.<token>`. */
export const ADMIN_WS_TOKEN_PREFIX = 'bearer.';
/** The local OpenAI-compatible servers discovery knows, by provider name. */
export type LocalServerId = 'ollama' | 'lmstudio' | 'llamacpp' | 'vllm';

/** A local server found on 127.0.0.1 (`core/backends/discovery.ts`). */
export interface DiscoveredServer {
  /** Also the provider name it is added as. */
  id: LocalServerId;
  /** `Ollama`, `LM Studio`, `llama.cpp server`, `vLLM`. */
  label: string;
  port: number;
  /** `http://127.0.0.1:PORT/v1`. */
  baseUrl: string;
  models: string[];
  /** `offered`: waits for a person to confirm; `in_use`: a provider serves it (added here or configured). */
  status: 'offered' | 'in_use';
}

/** What discovery found on this machine, offered to a person (never used before they confirm). */
export interface DiscoveryView {
  /** When the last scan finished (ms since epoch); absent before the first one. */
  scannedAt?: number;
  scanning: boolean;
  /** The ports probed on 127.0.0.1 by the last scan. */
  probed: { id: LocalServerId; port: number }[];
  servers: DiscoveredServer[];
  /** An installed Lingma runtime (IDE plugin, desktop app, Qoder CN): a person can add an account. */
  lingma?: { installed: true; label: string; version?: string; inUse: boolean };
}

/**
 * What a finished request came to, as a person reads it: `ok`; `stream_broken` (the client got a
 * 200 and the first bytes, then the stream failed: status < 400 with an error); `failed` (status
 * >= 400). The one rule the ledger's error figures, the metrics and the dashboard all use.
 */
export type RequestOutcomeKind = 'ok' | 'stream_broken' | 'failed';

export function requestOutcomeKind(status: number | undefined, errorCode?: string | null): RequestOutcomeKind {
  const s = status ?? 200;
  if (s >= 400) return 'failed';
  return errorCode ? 'stream_broken' : 'ok';
}

/** Counted in the error figures: a failed request or a stream that broke after its first byte. */
export const isErrorOutcome = (status: number | undefined, errorCode?: string | null): boolean =>
  requestOutcomeKind(status, errorCode) !== 'ok';
