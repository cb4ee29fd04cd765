/**
 * The request inspector's wire shapes (`GET /admin/requests`, `GET /admin/requests/:id`, replay,
 * backend test). Import-free: the dispatcher's trace (core/dispatch/trace.ts), the inspector
 * store and the dashboard share them.
 */

/** What a timeline entry marks. */
export type TimelineKind =
  /** Admission let the request in (`waitMs` in the queues named by `queues`). */
  | 'admitted'
  /** Budget or admission refused it before any backend. */
  | 'refused'
  /** The requested name resolved (`detail`: the alias, `targets`: the chain in order). */
  | 'resolved'
  /** A target was not tried (`reason`: tools_unsupported, provider_removed ...). */
  | 'skipped'
  /** One backend attempt: instance taken (after `waitMs` in the pool), called, until its first event or failure. */
  | 'attempt'
  /** The walk moved on (`from` → `to`, `reason`: upstream_error:429, first_byte_timeout, no_instance ...). */
  | 'switch'
  | 'first_byte'
  /** The request ended (`status`, `reason`: error code). */
  | 'end'
  /** The usage record was handed to the ledger's write queue (the row: GET /admin/usage/recent?requestId=). */
  | 'ledger_queued'
  /** The ledger's store confirmed the batch holding the request's row (`Ledger.onWritten`). */
  | 'ledger_written';

/** One timeline entry; times in ms relative to the request's arrival. */
export interface TimelineEvent {
  at: number;
  kind: TimelineKind;
  /** Attempts: ms from `at` to the first event or the failure. */
  durationMs?: number;
  /** Attempts: ms the pool made it wait for an instance; admitted: ms in the admission queues. */
  waitMs?: number;
  target?: string;
  instance?: string;
  /** Attempts: `first_byte` | `failed` | `no_instance` | `cancelled`. */
  outcome?: string;
  /** Short machine reason (`upstream_error:429`, `first_byte_timeout`, `busy` ...). */
  reason?: string;
  /** Client-safe words (the error message, redacted). */
  detail?: string;
  from?: string;
  to?: string;
  queues?: string[];
  targets?: string[];
  status?: number;
}

/** The final answer as the client got it (streams: assembled). */
export interface CapturedAnswer {
  text: string;
  reasoning: string;
  toolCalls: Array<{ id: string; name: string; arguments: string }>;
  finishReason?: string;
  usage?: { promptTokens: number; completionTokens: number; reasoningTokens?: number; cachedTokens?: number; estimated?: boolean };
}

/** The upstream request as sent by the backend that served it (or the last one tried). */
export interface CapturedUpstream {
  kind: string;
  instance?: string;
  body?: unknown;
  prompt?: string;
  info?: Record<string, string | number | boolean>;
}

/** One row of `GET /admin/requests`. */
export interface CaptureSummary {
  /** The `x-request-id`. */
  requestId: string;
  /** Unique per request (the live view's id). */
  id: string;
  protocol: string;
  endpoint: string;
  apiKeyId: string;
  requestedModel: string;
  /** `provider/model` that served it. */
  resolved?: string;
  alias?: string;
  provider?: string;
  instance?: string;
  stream: boolean;
  status: number;
  errorCode?: string;
  receivedAt: number;
  ttftMs?: number;
  totalMs: number;
  switches: number;
  promptTokens?: number;
  completionTokens?: number;
  /** The request id this one replays. */
  replayOf?: string;
  /** Some body was cut at `inspector.maxBodyBytes`. */
  truncated: boolean;
}

/** `GET /admin/requests/:id`. Every string has been through `redactSecrets`. */
export interface Capture extends CaptureSummary {
  /** The client's request body as parsed (secrets masked; long strings cut with a marker). */
  request: unknown;
  response?: CapturedAnswer;
  upstream?: CapturedUpstream;
  error?: { code: string; status: number; message: string };
  timeline: TimelineEvent[];
  userAgent?: string;
}

export interface CaptureList {
  requests: CaptureSummary[];
  /** The inspector is on (`inspector.enabled`). */
  enabled: boolean;
  persisted: boolean;
}

/** `POST /admin/requests/:id/replay`. */
export interface ReplayResult {
  requestId: string;
  replayOf: string;
  status: number;
  capture?: Capture;
}

/** `POST /admin/instances/:name/test` and `/admin/providers/:name/test`. */
export interface BackendTestResult {
  ok: boolean;
  instance: string;
  model: string;
  /** ms from the call to the first event. */
  ttftMs?: number;
  totalMs: number;
  answer?: string;
  /** Plain words when it failed. */
  error?: string;
  errorCode?: string;
}
