/** One row of the usage ledger: one client request, whatever its outcome. No secrets. */
export interface UsageRecord {
  requestId: string;
  /** Epoch ms. */
  receivedAt: number;
  firstByteAt?: number;
  finishedAt: number;
  /** Short hash of the API key, never the key. */
  apiKeyId: string;
  userAgent?: string;
  /** `/v1/chat/completions`, `/v1/messages`, ... */
  endpoint: string;
  /** `openai-chat`, `anthropic`, `responses`, `responses-ws`, `openai-embeddings`. */
  protocol: string;
  requestedModel: string;
  alias?: string;
  provider?: string;
  instance?: string;
  /** Resolved upstream model id. */
  model?: string;
  stream: boolean;
  /** HTTP status the client got (200 for a stream that started, even if it later failed; 499 client closed). */
  status: number;
  /** Error code when it failed (`upstream_error`, `timeout`, `client_closed`, ... ) */
  errorType?: string;
  /** How many times the dispatcher switched instance or target. */
  switches: number;
  /** One short reason per switch, e.g. `lingma-a:upstream_error:500`. */
  switchReasons: string[];
  sessionReuse: boolean;
  promptTokens?: number;
  completionTokens?: number;
  reasoningTokens?: number;
  cachedTokens?: number;
  /** true when tokens were estimated by the gateway rather than reported by the backend. */
  tokensEstimated: boolean;
  ttftMs?: number;
  totalMs: number;
}
