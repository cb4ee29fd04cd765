/**
 * What routing knows about backends. A backend kind is a folder `core/backends/<kind>/` exporting
 * a `BackendKind` (factory + config schema); routing and the pool only see `Provider` and
 * `Instance`.
 *
 * - A Provider is one routable name (`lingma`, or a configured provider's `name`): the prefix of
 *   `provider/model`. It owns one or more Instances.
 * - An Instance is one thing that can serve a call: one Lingma process (one account), or one
 *   OpenAI-compatible base URL.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { ChatEvent, ChatRequest, EmbeddingsRequest, EmbeddingsResult } from '../chat/model';
import type { InstanceState, LoginState } from '../state-types';

export type { InstanceState, LoginState } from '../state-types';

export interface ModelInfo {
  /** Upstream id (Lingma model key, or the provider's model id). Exposed as `<provider>/<id>`. */
  id: string;
  /** Other names a client may use (Lingma display name). Matched case-insensitively. */
  aliases?: string[];
  displayName?: string;
  reasoning?: boolean;
  vision?: boolean;
  /** Model is for embeddings only. */
  embedding?: boolean;
}

export interface Capabilities {
  /** Native tool calling. */
  tools: boolean;
  /** Image inputs. */
  images: boolean;
  embeddings: boolean;
}

/** Per-call context handed to an instance. */
export interface CallContext {
  requestId: string;
  /** Short hash of the API key (never the key). Session reuse keys on it. */
  apiKeyId: string;
  /** Aborted when the client disconnects, a first-byte timeout fires, or the gateway stops. */
  signal: AbortSignal;
  log: Logger;
  /** Facts the instance reports back for the usage ledger and metrics. */
  meta: CallMeta;
}

export interface CallMeta {
  /** A cached upstream session was reused (Lingma session reuse hit). */
  sessionReuse?: boolean;
  /** Bytes of prompt text sent upstream (for the session-reuse benchmark). */
  promptBytes?: number;
}

export interface QuotaState {
  exceeded: boolean;
  /** Epoch ms when the account is expected to serve again, when known. */
  resetsAt?: number;
}

/** Everything an instance tells the dashboard. No secrets. */
export interface InstanceSnapshot {
  name: string;
  provider: string;
  kind: string;
  state: InstanceState;
  /** Why it is failed/reconnecting. Client-safe. */
  reason?: string;
  login: LoginState;
  startedAt?: number;
  restarts: number;
  lastError?: string;
  /**
   * Account limits the backend knows of (Lingma credits / rate limits, spec §8). `exceeded`: the
   * backend itself says the account cannot serve until `resetsAt` (ms since epoch, when known).
   */
  quota?: QuotaState;
  /** Kind-specific, JSON-safe extras (ports, pid, version, session-cache counts ...). */
  extra?: Record<string, unknown>;
}

export interface InstanceEvents {
  /** Every state transition. */
  state: [snapshot: InstanceSnapshot, previous: InstanceState];
  /** Login state changes. */
  login: [snapshot: InstanceSnapshot];
}

export interface Instance {
  readonly name: string;
  readonly provider: string;
  readonly kind: string;
  /** Max concurrent calls; the pool enforces it. */
  readonly maxConcurrency: number;
  readonly events: EventEmitter<InstanceEvents>;
  state(): InstanceState;
  snapshot(): InstanceSnapshot;
  /**
   * Make it usable if it is not (start the process, reconnect, log in). Resolves when ready or
   * throws a RelayError (503 `service_unavailable` when it cannot become ready in time).
   * Called by the dispatcher before `chat` when `state() !== 'ready'`.
   */
  ensureReady(signal: AbortSignal): Promise<void>;
  /** Stream a chat. `req.model` is the upstream model id. Throws RelayError on failure. */
  chat(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent>;
  embed?(req: EmbeddingsRequest, ctx: CallContext): Promise<EmbeddingsResult>;
  /** Cheap health check for the health cache's background probe (model listing, `auth/status`). */
  probe(signal: AbortSignal): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart?(): Promise<void>;
  login?(): Promise<void>;
  logout?(): Promise<void>;
}

export interface ProviderEvents {
  /** The model list changed (login, refresh). */
  models: [];
}

export interface Provider {
  /** Routable name: `lingma` or a configured provider's `name`. */
  readonly name: string;
  readonly kind: string;
  readonly capabilities: Capabilities;
  readonly events: EventEmitter<ProviderEvents>;
  instances(): readonly Instance[];
  /** Known models (cached; refreshed by the provider itself). */
  models(): ModelInfo[];
  /**
   * Resolve a client-facing model name (id, or alias/display name, case-insensitive) to the
   * upstream id. Undefined when this provider does not know it.
   */
  resolveModel(name: string): string | undefined;
  /**
   * Optional: the instance this request should stick to (e.g. the owner of a reusable Lingma
   * session). The pool prefers it when usable.
   */
  preferredInstance?(req: ChatRequest, ctx: CallContext): string | undefined;
  start(): Promise<void>;
  /**
   * Optional: the gateway begins a graceful stop. From here on the provider must not restart or
   * reconnect anything (in-flight calls finish; `stop()` follows).
   */
  prepareStop?(): void;
  stop(): Promise<void>;
}
