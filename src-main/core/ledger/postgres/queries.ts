/**
 * PostgreSQL read side of the ledger: the engine-neutral statements of ../sql.ts (the same the
 * SQLite reader runs), their named parameters numbered for pg, run over the store's pool and
 * folded by the same functions, so totals, series, latency, the request list and the CSV export
 * answer alike on both engines.
 */
import type { Pool } from 'pg';
import { CSV_COLUMNS, CSV_HEADER, CSV_TIME_COLUMNS, csvLine } from '../csv';
import { EXACT_PERCENTILE_ROWS } from '../plan';
import {
  ERROR_RAW, exactLatency, foldSeries, foldTotals, histogramDays, histogramLatency, histogramStmt, latencyRowsStmt, mergeSums,
  recentPage, ROW_COLUMNS, seriesBuckets, sumStatements, TOKENS_BY_KEY_SQL, where,
  type LatencyRow, type Raw, type SqlDialect, type Stmt, type SumEntry,
} from '../sql';
import type { RecentPage, SeriesQuery, TotalsQuery } from '../store';
import type { RecentQuery, UsageFilters, UsageGroup, UsageLatency, UsageRange, UsageSeries, UsageTotals } from '../types';

/** Sums over raw rows and over rollup rows, with the names `addInto` reads (quoted: PostgreSQL folds case). */
export const PG_DIALECT: SqlDialect = {
  aggRaw: `COUNT(*) AS requests, COUNT(*) FILTER (WHERE ${ERROR_RAW}) AS errors,
  COALESCE(SUM(prompt_tokens), 0) AS "promptTokens", COALESCE(SUM(completion_tokens), 0) AS "completionTokens",
  COALESCE(SUM(reasoning_tokens), 0) AS "reasoningTokens", COALESCE(SUM(cached_tokens), 0) AS "cachedTokens",
  SUM(cost_usd) AS "costUsd", COALESCE(SUM(total_ms), 0) AS "totalMs"`,
  aggRollup: `SUM(requests) AS requests, SUM(errors) AS errors,
  SUM(prompt_tokens) AS "promptTokens", SUM(completion_tokens) AS "completionTokens",
  SUM(reasoning_tokens) AS "reasoningTokens", SUM(cached_tokens) AS "cachedTokens",
  SUM(cost_usd) AS "costUsd", SUM(total_ms) AS "totalMs"`,
};

/** `@name` parameters as `$1, $2, ...` (each name once, however often it appears). */
export function positional(s: Stmt): { text: string; values: unknown[] } {
  const index = new Map<string, number>();
  const values: unknown[] = [];
  const text = s.sql.replace(/@([A-Za-z_]\w*)/g, (_, name: string) => {
    let i = index.get(name);
    if (i === undefined) {
      values.push(s.params[name]);
      i = values.length;
      index.set(name, i);
    }
    return `$${i}`;
  });
  return { text, values };
}

const CSV_PAGE = 2000;
const CSV_TIME_INDEXES = CSV_COLUMNS.flatMap((c, i) => (CSV_TIME_COLUMNS.has(c) ? [i] : []));

export class PgQueries {
  constructor(
    private readonly pool: Pool,
    private readonly exactPercentileRows = EXACT_PERCENTILE_ROWS,
  ) {}

  private async all(s: Stmt): Promise<Raw[]> {
    const p = positional(s);
    return (await this.pool.query(p.text, p.values)).rows as Raw[];
  }

  private async arrays<T extends unknown[]>(s: Stmt): Promise<T[]> {
    const p = positional(s);
    return (await this.pool.query({ text: p.text, values: p.values, rowMode: 'array' })).rows as T[];
  }

  private async sums(
    q: UsageRange & UsageFilters, group: UsageGroup | undefined, bucket: number | null, extra: string[] = [], offset = 0,
  ): Promise<Map<string, SumEntry>> {
    const out = new Map<string, SumEntry>();
    const stmts = sumStatements(PG_DIALECT, q, group, bucket, extra, offset);
    const results = await Promise.all(stmts.map((s) => this.all(s)));
    results.forEach((rows, i) => mergeSums(out, rows, stmts[i].t));
    return out;
  }

  async tokensByKeySince(since: number): Promise<Map<string, number>> {
    const rows = await this.all({ sql: TOKENS_BY_KEY_SQL, params: { since } });
    return new Map(rows.map((r) => [String(r.k), Number(r.t ?? 0)]));
  }

  async totals(q: TotalsQuery): Promise<UsageTotals> {
    return foldTotals(q, (await this.sums(q, q.group, null)).values());
  }

  async series(q: SeriesQuery): Promise<UsageSeries> {
    const { size, offset } = seriesBuckets(q);
    return foldSeries(q, (await this.sums(q, q.group, size, [], offset)).values());
  }

  /** Exact percentiles from the rows, or (long ranges with many requests) the daily histograms plus the edge days' rows. */
  async latency(q: UsageRange & UsageFilters): Promise<UsageLatency> {
    const days = histogramDays(q);
    if (days) {
      let n = 0;
      for (const e of (await this.sums(q, undefined, null, ['status < 400'])).values()) n += e.s.requests;
      if (n > this.exactPercentileRows) {
        const bins = await this.arrays<[string, number, number, number]>(histogramStmt(q, days.d1, days.d2));
        const edges: LatencyRow[] = [];
        for (const r of [{ from: q.from, to: days.d1 }, { from: days.d2, to: q.to }]) {
          if (r.from < r.to) edges.push(...(await this.arrays<LatencyRow>(latencyRowsStmt(q, r))));
        }
        return histogramLatency(q, bins, edges);
      }
    }
    return exactLatency(q, await this.arrays<LatencyRow>(latencyRowsStmt(q, q)));
  }

  /** Newest first, keyset-paged on id (`nextBefore` continues further back; null on the last page). */
  async recent(q: RecentQuery): Promise<RecentPage> {
    const limit = q.limit ?? 50;
    const extra = ['id < @before'];
    // A request id matches as a prefix (the dashboard shows 12 characters; pasting them finds it);
    // `starts_with` is exact whatever the database's collation.
    if (q.requestId !== undefined) extra.push('starts_with(request_id, @requestId)');
    // In the request list, `model` also finds requests by the name the client sent (an alias, say).
    const w = where(q, undefined, extra, 'received_at', true, true);
    w.params.before = q.before ?? Number.MAX_SAFE_INTEGER;
    w.params.limit = limit + 1;
    if (q.requestId !== undefined) w.params.requestId = q.requestId;
    return recentPage(await this.all({ sql: `SELECT ${ROW_COLUMNS} FROM usage ${w.sql} ORDER BY id DESC LIMIT @limit`, params: w.params }), limit, null);
  }

  /** Rows of a range in id order, a page per query (keyset on id: no long-lived cursor, no sort of the range). */
  async *exportCsv(q: UsageRange & UsageFilters): AsyncGenerator<string> {
    yield CSV_HEADER;
    // The range's id bounds through the time index, then pages walk the primary key between them.
    const [bounds] = await this.all({ sql: 'SELECT MIN(id) AS lo, MAX(id) AS hi FROM usage WHERE received_at >= @from AND received_at < @to', params: { from: q.from, to: q.to } });
    if (bounds.lo === null || bounds.hi === null) return;
    const w = where(q, q, ['id > @cursor AND id <= @hi'], 'received_at', false, true);
    const sql = `SELECT ${CSV_COLUMNS.join(', ')} FROM usage ${w.sql} ORDER BY id LIMIT ${CSV_PAGE}`;
    let cursor = Number(bounds.lo) - 1;
    for (;;) {
      const rows = await this.arrays<unknown[]>({ sql, params: { ...w.params, cursor, hi: bounds.hi } });
      if (rows.length) {
        for (const r of rows) for (const i of CSV_TIME_INDEXES) if (r[i] !== null) r[i] = new Date(r[i] as number).toISOString();
        yield rows.map(csvLine).join('');
      }
      if (rows.length < CSV_PAGE) return;
      cursor = rows[rows.length - 1][0] as number;
    }
  }
}
