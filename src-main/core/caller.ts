/**
 * Who is calling: the API key's identity and limits. Defined here, below config (which reads the
 * keys) and the gateway (which authenticates them), so neither imports the other for it.
 */

/** Per-key limits (from `server.apiKeys[]` objects or keys created in the dashboard). */
export interface KeyLimits {
  /** Requests per minute. */
  rpm?: number;
  /** Prompt + completion tokens per UTC day. */
  tokensPerDay?: number;
  /** ISO date/date-time after which the key is refused. */
  expiresAt?: string;
  /** Concurrent requests (defaults to limits.perKeyConcurrency). */
  concurrency?: number;
}

/** The authenticated caller. */
export interface Caller {
  /** Short, stable, non-reversible id of the API key (e.g. first 12 hex of sha256). */
  keyId: string;
  keyName?: string;
  /** The key's own limits, when it has any. */
  limits?: KeyLimits;
}
