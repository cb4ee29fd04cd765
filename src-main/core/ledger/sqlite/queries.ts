/**
 * SQLite read side of the ledger: totals, time series, latency percentiles, recent requests and
 * CSV export over a read-only connection of its own (WAL lets it read while the worker writes).
 * Statements are prepared once per distinct SQL text and reused. Synchronous (better-sqlite3);
 * `SqliteStore` (./store.ts) offers it behind the promise-returning `LedgerStore` read methods.
 */
import type Database from 'better-sqlite3';
import { CSV_COLUMNS, CSV_HEADER, CSV_TIME_COLUMNS, csvLine } from '../csv';
import { EXACT_PERCENTILE_ROWS } from '../plan';
import {
  ERROR_RAW, exactLatency, foldSeries, foldTotals, histogramDays, histogramLatency, histogramStmt, latencyRowsStmt, mergeSums,
  recentPage, ROW_COLUMNS, seriesBuckets, sumStatements, TOKENS_BY_KEY_SQL, where, type LatencyRow, type Raw, type SqlDialect, type SumEntry,
} from '../sql';
import type { RecentPage, SeriesQuery, TotalsQuery } from '../store';
import type { RecentQuery, UsageFilters, UsageGroup, UsageLatency, UsageRange, UsageSeries, UsageTotals } from '../types';

export { statusClause } from '../sql';

/** Sums over raw rows and over rollup rows, with the same output names. */
export const SQLITE_DIALECT: SqlDialect = {
  aggRaw: `COUNT(*) AS requests, SUM(${ERROR_RAW}) AS errors,
  TOTAL(prompt_tokens) AS promptTokens, TOTAL(completion_tokens) AS completionTokens,
  TOTAL(reasoning_tokens) AS reasoningTokens, TOTAL(cached_tokens) AS cachedTokens,
  SUM(cost_usd) AS costUsd, TOTAL(total_ms) AS totalMs`,
  aggRollup: `SUM(requests) AS requests, SUM(errors) AS errors,
  SUM(prompt_tokens) AS promptTokens, SUM(completion_tokens) AS completionTokens,
  SUM(reasoning_tokens) AS reasoningTokens, SUM(cached_tokens) AS cachedTokens,
  SUM(cost_usd) AS costUsd, SUM(total_ms) AS totalMs`,
};

/** ISO 8601 UTC with milliseconds, formatted by SQLite (cheaper than a Date per value in JS). */
const isoSql = (col: string): string => `strftime('%Y-%m-%dT%H:%M:%fZ', ${col} / 1000.0, 'unixepoch')`;
const CSV_SELECT = CSV_COLUMNS.map((c) => (CSV_TIME_COLUMNS.has(c) ? isoSql(c) : c)).join(', ');

const CSV_PAGE = 2000;
/** First id window of a request-list search, and the time after which it stops widening. */
const RECENT_WINDOW = 50_000;
const RECENT_BUDGET_MS = 80;

export class UsageQueries {
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly exactPercentileRows = EXACT_PERCENTILE_ROWS,
    private readonly recentWindow = RECENT_WINDOW,
  ) {}

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** Sums per (bucket, group) over a range: the shared statements (../sql.ts), run here and merged. */
  private sums(
    q: UsageRange & UsageFilters, group: UsageGroup | undefined, bucket: number | null, extra: string[] = [], offset = 0,
  ): Map<string, SumEntry> {
    const out = new Map<string, SumEntry>();
    for (const s of sumStatements(SQLITE_DIALECT, q, group, bucket, extra, offset)) mergeSums(out, this.stmt(s.sql).all(s.params) as Raw[], s.t);
    return out;
  }

  /** prompt + completion tokens per key since `since`, from the hourly rollup (a few rows per hour, not every request). */
  tokensByKeySince(since: number): Map<string, number> {
    const rows = this.stmt(TOKENS_BY_KEY_SQL).all({ since }) as Array<{ k: string; t: number }>;
    return new Map(rows.map((r) => [r.k, r.t]));
  }

  totals(q: TotalsQuery): UsageTotals {
    return foldTotals(q, this.sums(q, q.group, null).values());
  }

  series(q: SeriesQuery): UsageSeries {
    const { size, offset } = seriesBuckets(q);
    return foldSeries(q, this.sums(q, q.group, size, [], offset).values());
  }

  /**
   * Nearest-rank percentiles per resolved model over successful requests. Exact when the range
   * holds at most EXACT_PERCENTILE_ROWS of them (or filters other than model are set): an ordered
   * scan of the covering time index limited to the range, values sorted per model. Longer ranges
   * read whole days from the daily latency histograms and only the edge days from rows.
   */
  latency(q: UsageRange & UsageFilters): UsageLatency {
    const days = histogramDays(q);
    if (days) {
      let n = 0;
      for (const e of this.sums(q, undefined, null, ['status < 400']).values()) n += e.s.requests;
      if (n > this.exactPercentileRows) {
        const h = histogramStmt(q, days.d1, days.d2);
        const bins = this.stmt(h.sql).raw(true).all(h.params) as Array<[string, number, number, number]>;
        const edges = [{ from: q.from, to: days.d1 }, { from: days.d2, to: q.to }].filter((r) => r.from < r.to);
        return histogramLatency(q, bins, (function* (self) {
          for (const r of edges) yield* self.latencyRows(q, r);
        })(this));
      }
    }
    return exactLatency(q, this.latencyRows(q, q));
  }

  private latencyRows(f: UsageFilters, r: UsageRange): IterableIterator<LatencyRow> {
    const s = latencyRowsStmt(f, r);
    return this.stmt(s.sql).raw(true).iterate(s.params) as IterableIterator<LatencyRow>;
  }

  /**
   * Newest first, keyset-paged on id. A single filter (or a request id) is one index range. Several
   * filters together are searched in windows of ids going back in time, growing until the page is
   * full, the oldest row is reached, or about RECENT_BUDGET_MS passed; so a combination that
   * matches nothing answers quickly instead of walking the whole table. `nextBefore` continues
   * further back; null once the oldest row was searched.
   */
  recent(q: RecentQuery): RecentPage {
    const limit = q.limit ?? 50;
    const filterCount = (['model', 'provider', 'instance', 'key', 'status'] as const).filter((k) => q[k] !== undefined).length;
    const exactStatus = q.status === undefined || /^\s*\d{3}\s*$/.test(q.status);
    const direct = q.requestId !== undefined || filterCount === 0 || (filterCount === 1 && q.provider === undefined && exactStatus);
    const extra: string[] = ['id < @before'];
    if (!direct) extra.push('id >= @floor');
    // A request id matches as a prefix (the dashboard shows 12 characters; pasting them finds the
    // request): a range on the request id index (binary collation: exactly the prefixed ids).
    if (q.requestId !== undefined) extra.push('request_id >= @requestId AND request_id < @requestIdEnd');
    // In the request list, `model` also finds requests by the name the client sent (an alias, say).
    const w = where(q, undefined, extra, 'received_at', true, true);
    if (q.requestId !== undefined) {
      w.params.requestId = q.requestId;
      w.params.requestIdEnd = `${q.requestId}\u{10FFFF}`;
    }
    // Windowed: walk the index of the most selective equality filter inside each id window (the
    // planner would otherwise scan the window by rowid).
    let hint = '';
    if (!direct) {
      const code = q.status !== undefined && exactStatus ? Number(q.status) : 0;
      if (code >= 300) hint = 'INDEXED BY usage_status_id';
      else if (q.instance !== undefined) hint = 'INDEXED BY usage_instance_id';
      else if (q.key !== undefined) hint = 'INDEXED BY usage_key_id';
      else if (code) hint = 'INDEXED BY usage_status_id';
    }
    const page = this.stmt(`SELECT ${ROW_COLUMNS} FROM usage ${hint} ${w.sql} ORDER BY id DESC LIMIT @limit`);
    const before0 = q.before ?? Number.MAX_SAFE_INTEGER;
    const finish = (raw: Raw[], more: number | null): RecentPage => recentPage(raw, limit, more);
    if (direct) return finish(page.all({ ...w.params, before: before0, limit: limit + 1 }) as Raw[], null);

    const bounds = this.stmt('SELECT (SELECT MIN(id) FROM usage) AS lo, (SELECT MAX(id) FROM usage) AS hi').get() as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return { rows: [], nextBefore: null };
    let before = Math.min(before0, bounds.hi + 1);
    const started = performance.now();
    let window = this.recentWindow;
    const out: Raw[] = [];
    while (before > bounds.lo) {
      const floor = Math.max(bounds.lo, before - window);
      out.push(...(page.all({ ...w.params, before, floor, limit: limit + 1 - out.length }) as Raw[]));
      if (out.length > limit) return finish(out, null);
      before = floor;
      window = Math.min(window * 2, this.recentWindow * 4);
      if (performance.now() - started > RECENT_BUDGET_MS) break;
    }
    return finish(out, before > bounds.lo ? before : null);
  }

  /**
   * Rows of a range in id order, one page per call: rows are inserted roughly in time order, so
   * the range's rows lie between the smallest and largest id found through the time index; pages
   * then walk the primary key (no sort, no long-lived cursor).
   */
  async *exportCsv(q: UsageRange & UsageFilters): AsyncGenerator<string> {
    yield CSV_HEADER;
    const bounds = this.stmt('SELECT MIN(id) AS lo, MAX(id) AS hi FROM usage WHERE received_at >= @from AND received_at < @to')
      .get({ from: q.from, to: q.to }) as { lo: number | null; hi: number | null };
    if (bounds.lo === null || bounds.hi === null) return;
    const w = where(q, q, ['id >= @cursor AND id <= @hi'], 'received_at', false, true);
    const page = this.stmt(`SELECT ${CSV_SELECT} FROM usage ${w.sql} ORDER BY id LIMIT ${CSV_PAGE}`).raw(true);
    let cursor = bounds.lo;
    for (;;) {
      const rows = page.all({ ...w.params, cursor, hi: bounds.hi }) as unknown[][];
      if (rows.length) yield rows.map(csvLine).join('');
      if (rows.length < CSV_PAGE) return;
      cursor = (rows[rows.length - 1][0] as number) + 1;
      // Let other work run between pages.
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}
