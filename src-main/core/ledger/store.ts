/**
 * `LedgerStore`: what a usage database engine implements. The engine-neutral ledger
 * (`createLedger` in ./index.ts) owns everything above it: the bounded in-memory queue, batching,
 * retry, the degraded state and its reason, budgets, metrics and the retention schedule. A store
 * only opens, writes committed batches, deletes old data and answers the usage queries, all
 * asynchronously, so an engine may run in a worker thread (SQLite: ./sqlite/store.ts) or across
 * a network (PostgreSQL, issue #18) behind the same interface.
 *
 * Rules every store keeps:
 * - `append(rows)` writes the rows AND their rollups (`rollUp` for hours and days) and latency
 *   histograms (`latencyBins`) in ONE transaction, and resolves only once it is committed.
 * - Failures reject with a `StoreFailure` (reason for people, and whether a retry may help); the
 *   ledger then keeps the batch, turns degraded with that reason and calls again later.
 * - The read methods answer the same shapes for the same rows whatever the engine (the admin
 *   usage routes and the dashboard see no difference); they may be called while writes go on.
 * - The ledger calls nothing after `close()` has been called.
 */
import type { LedgerRow } from './rows';
import type {
  RecentQuery, UsageFilters, UsageGroup, UsageLatency, UsageRange, UsageRow, UsageSeries, UsageTotals,
} from './types';

export type TotalsQuery = UsageRange & UsageFilters & { group?: UsageGroup };
export type SeriesQuery = UsageRange & UsageFilters & { bucket: 'hour' | 'day'; group?: UsageGroup; tzOffsetMinutes?: number };
export type LatencyQuery = UsageRange & UsageFilters;
export type ExportQuery = UsageRange & UsageFilters;
export interface RecentPage {
  rows: UsageRow[];
  nextBefore: number | null;
}

/** Why a store cannot open or write: shown as the ledger's degraded reason. */
export class StoreFailure extends Error {
  constructor(
    /** One sentence for people (no secrets): "usage database is locked by another process". */
    readonly reason: string,
    /** true when the same call may succeed later (lock, full disk, server unreachable). */
    readonly retry: boolean,
  ) {
    super(reason);
    this.name = 'StoreFailure';
  }
}

export interface LedgerStore {
  /** Where the data lives, for the status and logs (a file path; a server URL without credentials). */
  readonly location: string;

  // ---- write side ----
  /**
   * Open (create, migrate) the database. Rejects with a StoreFailure; after a retryable one the
   * ledger calls `open()` again later. Called before anything else, and again after a failure.
   */
  open(): Promise<void>;
  /** Commit rows with their rollups and histograms in one transaction. Rejects with a StoreFailure. */
  append(rows: LedgerRow[]): Promise<void>;
  /**
   * Delete raw rows, rollups and histograms older than `cutoff` (a UTC day start, epoch ms) in
   * batches of about `batchRows` so writes get through meanwhile. Resolves to the raw rows deleted.
   */
  deleteBefore(cutoff: number, batchRows: number): Promise<number>;
  /** Finish the work in hand and release connections (and threads). Idempotent. */
  close(): Promise<void>;

  // ---- read side ----
  /** prompt + completion tokens per API key id since `since` (epoch ms): seeds the daily budgets at start. */
  tokensByKeySince(since: number): Promise<Map<string, number>>;
  totals(q: TotalsQuery): Promise<UsageTotals>;
  series(q: SeriesQuery): Promise<UsageSeries>;
  latency(q: LatencyQuery): Promise<UsageLatency>;
  recent(q: RecentQuery): Promise<RecentPage>;
  /** CSV of a range, header first, in pages (never one long read); lines as `csv.ts` formats them. */
  exportCsv(q: ExportQuery): AsyncIterable<string>;
}
