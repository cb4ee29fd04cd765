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

// ---- Added by the ledger: the Ledger interface and its query shapes. ----

/** Dimensions usage can be grouped by. `model` is the resolved `provider/model` (the requested model when nothing resolved). */
export type UsageGroup = 'model' | 'provider' | 'instance' | 'key' | 'status';

/** Row filters shared by the usage queries. `status` is a code (`429`), a class (`5xx`), `ok` (< 400) or `error` (>= 400). */
export interface UsageFilters {
  model?: string;
  provider?: string;
  instance?: string;
  key?: string;
  status?: string;
}

export interface UsageRange {
  /** Epoch ms, inclusive. */
  from: number;
  /** Epoch ms, exclusive. */
  to: number;
}

export interface UsageAggregate {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  cachedTokens: number;
  /** Sum over the rows with a known cost; null when no row had one. */
  costUsd: number | null;
  avgTotalMs: number | null;
}

export interface UsageTotals extends UsageRange {
  group: UsageGroup | null;
  total: UsageAggregate;
  rows: Array<UsageAggregate & { key: string | null }>;
}

export interface UsageSeries extends UsageRange {
  bucket: 'hour' | 'day';
  group: UsageGroup | null;
  /** Minutes east of UTC the buckets are aligned to (0: UTC hours/days). */
  tzOffsetMinutes: number;
  /** Sorted by time, then key. `t` is the bucket start (epoch ms): a UTC hour/day, or a local one with tzOffsetMinutes. */
  points: Array<UsageAggregate & { t: number; key: string | null }>;
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface UsageLatency extends UsageRange {
  /** Per resolved model, successful requests only (status < 400); nearest-rank percentiles in ms. */
  rows: Array<{ model: string; ttft: Percentiles; total: Percentiles }>;
  /**
   * false: exact (every request of the range was ranked). true: long range read from the daily
   * latency histograms; each percentile is within about 1.6% of the exact value.
   */
  approximate: boolean;
}

/** A stored row as the admin API shows it. */
export interface UsageRow extends UsageRecord {
  id: number;
  label: string;
  costUsd: number | null;
}

export interface RecentQuery extends UsageFilters {
  requestId?: string;
  limit?: number;
  /** Only rows with an id below this (the `nextBefore` of the previous page). */
  before?: number;
}

export interface LedgerStatus {
  state: 'ok' | 'degraded' | 'disabled';
  reason?: string;
  queued: number;
  written: number;
  dropped: number;
  dbPath: string;
}

/**
 * The usage ledger as the rest of the relay sees it (`createLedger` in ./index.ts): the write side
 * never blocks a request; the read side answers from the store (`LedgerStore`, ./store.ts).
 */
export interface Ledger {
  /** Never blocks, never throws: queues the record for the background writer. */
  record(rec: UsageRecord): void;
  /** Throws a RelayError (401 expired, 429 over budget or ledger unavailable) or counts the request. */
  checkBudget(keyId: string, limits: { rpm?: number; tokensPerDay?: number; expiresAt?: string } | undefined, now: number): void;
  /** Resolves once the first attempt to open the store has finished (ok or degraded). Never rejects. */
  ready(): Promise<void>;
  /** Resolves when everything queued so far is committed (or kept queued, if the store refuses writes). */
  flush(): Promise<void>;
  /**
   * Hears every batch the store confirmed: the request ids of its rows and when (epoch ms). The
   * request inspector's capture gets its `ledger_written` event from it (wired in relay.ts).
   * Returns the unsubscribe.
   */
  onWritten(listener: (requestIds: string[], at: number) => void): () => void;
  /** Flushes, stops timers and closes the store (and its worker). Idempotent. */
  close(): Promise<void>;
  status(): LedgerStatus;
  /** Deletes rows older than retentionDays in small batches, yielding between them. Returns rows deleted. */
  runRetention(): Promise<number>;
  /** The reads reject with a RelayError (503 `ledger_disabled` / `ledger_unavailable`) when there is nothing to read. */
  totals(q: UsageRange & UsageFilters & { group?: UsageGroup }): Promise<UsageTotals>;
  series(q: UsageRange & UsageFilters & { bucket: 'hour' | 'day'; group?: UsageGroup; tzOffsetMinutes?: number }): Promise<UsageSeries>;
  latency(q: UsageRange & UsageFilters): Promise<UsageLatency>;
  recent(q: RecentQuery): Promise<{ rows: UsageRow[]; nextBefore: number | null }>;
  /** CSV of a time range, header row first, produced in chunks (keyset pages) so it never holds a long read. Throws at once when disabled/unavailable. */
  exportCsv(q: UsageRange & UsageFilters): AsyncIterable<string>;
}
