/**
 * Typed errors: every failure in core is a RelayError with a stable `code`, an HTTP `status` and a
 * client-safe `message`. They are mapped to wire shapes in exactly one place per protocol
 * (front ends call `toOpenAIError` / their own mapper); nothing else builds error bodies.
 *
 * Messages are shown to clients: never put a secret, a password, a token, a login URL or
 * login-automation detail in one. Put diagnostic detail in `detail` (logged, never sent).
 */

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'upstream_error'
  | 'service_unavailable'
  | 'timeout';

export interface RelayErrorInit {
  status: number;
  type: ErrorType;
  code: string;
  message: string;
  param?: string | null;
  /** Seconds, for 429/503. */
  retryAfter?: number;
  /** May the dispatcher try another instance/target? Decided by the thrower, defaulted from status. */
  retryable?: boolean;
  /** Upstream status that caused this (for error rules and metrics). */
  upstreamStatus?: number;
  /** Diagnostic detail for logs only. Never sent to clients. Must still hold no secret. */
  detail?: string;
  cause?: unknown;
}

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

export class RelayError extends Error {
  readonly status: number;
  readonly type: ErrorType;
  readonly code: string;
  readonly param: string | null;
  readonly retryAfter?: number;
  readonly retryable: boolean;
  readonly upstreamStatus?: number;
  readonly detail?: string;

  constructor(init: RelayErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'RelayError';
    this.status = init.status;
    this.type = init.type;
    this.code = init.code;
    this.param = init.param ?? null;
    this.retryAfter = init.retryAfter;
    this.upstreamStatus = init.upstreamStatus;
    this.detail = init.detail;
    this.retryable = init.retryable ?? RETRYABLE_STATUS.has(init.status);
  }
}

/** A RelayError that says the instance's account cannot serve until a reset (see `errors.quotaExceeded`). */
export class QuotaError extends RelayError {
  readonly resetsAt?: number;
  constructor(init: RelayErrorInit & { resetsAt?: number }) {
    super(init);
    this.resetsAt = init.resetsAt;
  }
}

export const isRelayError = (e: unknown): e is RelayError => e instanceof RelayError;

/** Constructors for the contract's errors. */
export const errors = {
  invalid(message: string, param?: string, code = 'invalid_request'): RelayError {
    return new RelayError({ status: 400, type: 'invalid_request_error', code, message, param, retryable: false });
  },
  unauthorized(message = 'Invalid or missing API key.'): RelayError {
    return new RelayError({ status: 401, type: 'authentication_error', code: 'invalid_api_key', message, retryable: false });
  },
  forbidden(message: string, code = 'forbidden'): RelayError {
    return new RelayError({ status: 403, type: 'permission_error', code, message, retryable: false });
  },
  modelNotFound(model: string, suggestions: string[] = []): RelayError {
    const hint = suggestions.length ? ` Try one of: ${suggestions.slice(0, 8).join(', ')}.` : '';
    return new RelayError({
      status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model', retryable: false,
      message: `The model '${model}' does not exist or is not routable.${hint}`,
    });
  },
  notFound(message: string, code = 'not_found'): RelayError {
    return new RelayError({ status: 404, type: 'not_found_error', code, message, retryable: false });
  },
  tooLarge(limitBytes: number): RelayError {
    return new RelayError({
      status: 413, type: 'request_too_large', code: 'request_too_large', retryable: false,
      message: `Request body exceeds the limit of ${limitBytes} bytes.`,
    });
  },
  rateLimited(message: string, retryAfter: number, code = 'rate_limited'): RelayError {
    return new RelayError({ status: 429, type: 'rate_limit_error', code, message, retryAfter: Math.max(1, Math.ceil(retryAfter)) });
  },
  /**
   * The account behind an instance is out of credits or rate-limited by its upstream (Lingma
   * spec §8). Retryable elsewhere; the availability model cools the instance down until
   * `resetsAt` (epoch ms) when given, else with an exponential cool-down.
   */
  quotaExceeded(message: string, init: Partial<RelayErrorInit> & { resetsAt?: number } = {}): QuotaError {
    return new QuotaError({ status: 429, type: 'rate_limit_error', code: 'quota_exceeded', message, retryable: true, ...init });
  },
  upstream(message: string, init: Partial<RelayErrorInit> = {}): RelayError {
    return new RelayError({ status: 502, type: 'upstream_error', code: 'upstream_error', message, ...init });
  },
  unavailable(message: string, init: Partial<RelayErrorInit> = {}): RelayError {
    return new RelayError({ status: 503, type: 'service_unavailable', code: 'service_unavailable', message, ...init });
  },
  timeout(message: string, init: Partial<RelayErrorInit> = {}): RelayError {
    return new RelayError({ status: 504, type: 'timeout', code: 'timeout', message, ...init });
  },
  /** The client went away; never sent to anyone, used to unwind. */
  cancelled(): RelayError {
    return new RelayError({ status: 499, type: 'invalid_request_error', code: 'client_closed', message: 'Client closed the request.', retryable: false });
  },
};

/** Normalise anything thrown into a RelayError (unknown errors become a safe 502/500 without leaking text). */
export function toRelayError(e: unknown): RelayError {
  if (e instanceof RelayError) return e;
  const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new RelayError({ status: 500, type: 'upstream_error', code: 'internal_error', message: 'Internal error.', detail, retryable: false, cause: e });
}

/** The OpenAI error body. Used by the OpenAI chat/embeddings/models/Responses front ends and the admin API. */
export function toOpenAIError(e: RelayError): { error: { message: string; type: string; code: string; param: string | null } } {
  return { error: { message: e.message, type: e.type, code: e.code, param: e.param } };
}
