/**
 * SQLite read side of the ledger: totals, time series, latency percentiles, recent requests and
 * CSV export over a read-only connection of its own (WAL lets it read while the worker writes).
 * Statements are prepared once per distinct SQL text and reused. Synchronous (better-sqlite3);
 * `SqliteStore` (./store.ts) offers it behind the promise-returning `LedgerStore` read methods.
 */
import type Database from 'better-sqlite3';
import { errors } from '../../errors';
import { CSV_COLUMNS, CSV_HEADER, CSV_TIME_COLUMNS, csvLine } from '../csv';
import { bucketOf, histogramPercentiles } from '../histogram';
import {
  addInto, agg, ceilTo, EXACT_PERCENTILE_ROWS, floorTo, GROUP_COLUMN, keyOf, percentiles, sortLatency, spans, statusRange, zero,
} from '../plan';
import { DAY, HOUR, type Sums } from '../rows';
import type { RecentPage, SeriesQuery, TotalsQuery } from '../store';
import type {
  RecentQuery, UsageFilters, UsageGroup, UsageLatency, UsageRange, UsageRow, UsageSeries, UsageTotals,
} from '../types';

/** Sums over raw rows and over rollup rows, with the same output names. */
const AGG_RAW = `COUNT(*) AS requests, SUM(status >= 400 OR error_type IS NOT NULL) AS errors,
  TOTAL(prompt_tokens) AS promptTokens, TOTAL(completion_tokens) AS completionTokens,
  TOTAL(reasoning_tokens) AS reasoningTokens, TOTAL(cached_tokens) AS cachedTokens,
  SUM(cost_usd) AS costUsd, TOTAL(total_ms) AS totalMs`;
const AGG_ROLLUP = `SUM(requests) AS requests, SUM(errors) AS errors,
  SUM(prompt_tokens) AS promptTokens, SUM(completion_tokens) AS completionTokens,
  SUM(reasoning_tokens) AS reasoningTokens, SUM(cached_tokens) AS cachedTokens,
  SUM(cost_usd) AS costUsd, SUM(total_ms) AS totalMs`;

/** A raw row that succeeded: below 400 and no error (a stream that broke after its first byte has one). */
const OK_RAW = '(status < 400 AND error_type IS NULL)';

/**
 * A status filter as SQL (see `statusRange`); null when unreadable. `raw`: over raw rows, where
 * 'ok' and 'error' also sort a stream that broke after its first byte (200 with an error type)
 * as an error; rollups have no error type.
 */
export function statusClause(s: string, raw = false): string | null {
  const r = statusRange(s);
  if (!r) return null;
  const [lo, hi] = r;
  if (raw && lo === 0 && hi === 399) return OK_RAW;
  if (raw && lo === 400 && hi === 999) return '(status >= 400 OR error_type IS NOT NULL)';
  if (lo === hi) return `status = ${lo}`;
  if (lo === 0) return `status < ${hi + 1}`;
  if (hi === 999) return `status >= ${lo}`;
  return `status BETWEEN ${lo} AND ${hi}`;
}

interface Where {
  sql: string;
  params: Record<string, unknown>;
}

function where(f: UsageFilters, range?: UsageRange, extra: string[] = [], timeCol = 'received_at', modelMatchesRequested = false, raw = false): Where {
  const parts: string[] = [];
  const params: Record<string, unknown> = {};
  if (range) {
    parts.push(`${timeCol} >= @from AND ${timeCol} < @to`);
    params.from = range.from;
    params.to = range.to;
  }
  if (f.model !== undefined) {
    parts.push(modelMatchesRequested ? '(label = @model OR requested_model = @model)' : 'label = @model');
    params.model = f.model;
  }
  if (f.provider !== undefined) {
    parts.push('provider = @provider');
    params.provider = f.provider;
  }
  if (f.instance !== undefined) {
    parts.push('instance = @instance');
    params.instance = f.instance;
  }
  if (f.key !== undefined) {
    parts.push('api_key_id = @key');
    params.key = f.key;
  }
  if (f.status !== undefined) {
    const c = statusClause(f.status, raw);
    if (!c) throw errors.invalid(`Status filter must be a status code (429), a class (5xx), 'ok' or 'error', got '${String(f.status).slice(0, 20)}'.`, 'status');
    parts.push(c);
  }
  parts.push(...extra);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

const ROW_COLUMNS = `id, request_id, received_at, first_byte_at, finished_at, api_key_id, user_agent, endpoint,
  protocol, requested_model, alias, provider, instance, model, label, stream, status, error_type, switches,
  switch_reasons, session_reuse, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens,
  tokens_estimated, ttft_ms, total_ms, cost_usd`;

type Raw = Record<string, unknown>;

const opt = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (v as T));

function toRow(r: Raw): UsageRow {
  return {
    id: r.id as number,
    requestId: r.request_id as string,
    receivedAt: r.received_at as number,
    firstByteAt: opt<number>(r.first_byte_at),
    finishedAt: r.finished_at as number,
    apiKeyId: r.api_key_id as string,
    userAgent: opt<string>(r.user_agent),
    endpoint: r.endpoint as string,
    protocol: r.protocol as string,
    requestedModel: r.requested_model as string,
    alias: opt<string>(r.alias),
    provider: opt<string>(r.provider),
    instance: opt<string>(r.instance),
    model: opt<string>(r.model),
    label: r.label as string,
    stream: r.stream === 1,
    status: r.status as number,
    errorType: opt<string>(r.error_type),
    switches: r.switches as number,
    switchReasons: r.switch_reasons ? (JSON.parse(r.switch_reasons as string) as string[]) : [],
    sessionReuse: r.session_reuse === 1,
    promptTokens: opt<number>(r.prompt_tokens),
    completionTokens: opt<number>(r.completion_tokens),
    reasoningTokens: opt<number>(r.reasoning_tokens),
    cachedTokens: opt<number>(r.cached_tokens),
    tokensEstimated: r.tokens_estimated === 1,
    ttftMs: opt<number>(r.ttft_ms),
    totalMs: r.total_ms as number,
    costUsd: r.cost_usd === null || r.cost_usd === undefined ? null : (r.cost_usd as number),
  };
}

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

  /**
   * Sums per (bucket, group) over a range, answered span by span (rollups for whole hours/days,
   * raw rows for the edges) and merged here. `offset` (ms east of UTC) shifts bucket starts to local hours/days.
   * When the offset is not a whole hour, hourly rollup rows straddle bucket edges, so each bucket
   * is summed on its own (rollups inside, rows at its edges).
   */
  private sums(
    q: UsageRange & UsageFilters, group: UsageGroup | undefined, bucket: number | null, extra: string[] = [], offset = 0,
  ): Map<string, { t: number; k: string | null; s: Sums }> {
    const out = new Map<string, { t: number; k: string | null; s: Sums }>();
    if (bucket !== null && offset % HOUR !== 0) {
      for (let b = Math.floor((q.from + offset) / bucket) * bucket - offset; b < q.to; b += bucket) {
        const part = { ...q, from: Math.max(q.from, b), to: Math.min(q.to, b + bucket) };
        for (const e of this.sumSpans(part, group, null, extra, 0, false).values()) {
          out.set(`${b}|${e.k ?? ''}`, { ...e, t: b });
        }
      }
      return out;
    }
    return this.sumSpans(q, group, bucket, extra, offset, bucket === null || (bucket === DAY && offset === 0));
  }

  private sumSpans(
    q: UsageRange & UsageFilters, group: UsageGroup | undefined, bucket: number | null, extra: string[], offset: number, allowDaily: boolean,
  ): Map<string, { t: number; k: string | null; s: Sums }> {
    const col = group ? GROUP_COLUMN[group] : null;
    const out = new Map<string, { t: number; k: string | null; s: Sums }>();
    for (const sp of spans(q.from, q.to, allowDaily)) {
      const timeCol = sp.table === 'usage' ? 'received_at' : 't';
      const w = where(q, sp, extra, timeCol);
      const tExpr = bucket === null ? '0' : `((${timeCol} + ${offset}) / ${bucket}) * ${bucket} - ${offset}`;
      const kExpr = col ?? 'NULL';
      const sql = `SELECT ${tExpr} AS b, ${kExpr} AS k, ${sp.table === 'usage' ? AGG_RAW : AGG_ROLLUP}
        FROM ${sp.table} ${w.sql} GROUP BY b, k`;
      for (const r of this.stmt(sql).all(w.params) as Raw[]) {
        const k = keyOf(r.k);
        const id = `${r.b}|${k ?? ''}`;
        let e = out.get(id);
        if (!e) {
          e = { t: Number(r.b), k, s: zero() };
          out.set(id, e);
        }
        addInto(e.s, r);
      }
    }
    return out;
  }

  /** prompt + completion tokens per key since `since`, from the hourly rollup (a few rows per hour, not every request). */
  tokensByKeySince(since: number): Map<string, number> {
    const rows = this.stmt('SELECT api_key_id AS k, SUM(prompt_tokens + completion_tokens) AS t FROM usage_hourly WHERE t >= ? GROUP BY api_key_id')
      .all(since) as Array<{ k: string; t: number }>;
    return new Map(rows.map((r) => [r.k, r.t]));
  }

  totals(q: TotalsQuery): UsageTotals {
    const total = zero();
    const rows: UsageTotals['rows'] = [];
    for (const e of this.sums(q, q.group, null).values()) {
      addInto(total, e.s as unknown as Record<string, unknown>);
      if (q.group) rows.push({ key: e.k, ...agg(e.s) });
    }
    rows.sort((a, b) => b.requests - a.requests || String(a.key).localeCompare(String(b.key)));
    return { from: q.from, to: q.to, group: q.group ?? null, total: agg(total), rows };
  }

  series(q: SeriesQuery): UsageSeries {
    const size = q.bucket === 'hour' ? HOUR : DAY;
    const offset = Math.round(q.tzOffsetMinutes ?? 0) * 60_000;
    const points = [...this.sums(q, q.group, size, [], offset).values()]
      .sort((a, b) => a.t - b.t || String(a.k).localeCompare(String(b.k)))
      .map((e) => ({ t: e.t, key: e.k, ...agg(e.s) }));
    return { from: q.from, to: q.to, bucket: q.bucket, group: q.group ?? null, tzOffsetMinutes: Math.round(q.tzOffsetMinutes ?? 0), points };
  }

  /**
   * Nearest-rank percentiles per resolved model over successful requests. Exact when the range
   * holds at most EXACT_PERCENTILE_ROWS of them (or filters other than model are set): an ordered
   * scan of the covering time index limited to the range, values sorted per model. Longer ranges
   * read whole days from the daily latency histograms and only the edge days from rows.
   */
  latency(q: UsageRange & UsageFilters): UsageLatency {
    const histogramUsable = q.provider === undefined && q.instance === undefined && q.key === undefined && q.status === undefined;
    const d1 = ceilTo(q.from, DAY);
    const d2 = floorTo(q.to, DAY);
    if (histogramUsable && d1 < d2) {
      let n = 0;
      for (const e of this.sums(q, undefined, null, ['status < 400']).values()) n += e.s.requests;
      if (n > this.exactPercentileRows) return this.latencyFromHistograms(q, d1, d2);
    }
    const perModel = new Map<string, { total: number[]; ttft: number[] }>();
    for (const [label, total, ttft] of this.latencyRows(q, q)) {
      let e = perModel.get(label);
      if (!e) {
        e = { total: [], ttft: [] };
        perModel.set(label, e);
      }
      e.total.push(total);
      if (ttft !== null) e.ttft.push(ttft);
    }
    const rows = [...perModel.entries()].map(([model, e]) => ({ model, ttft: percentiles(e.ttft), total: percentiles(e.total) }));
    return { from: q.from, to: q.to, rows: sortLatency(rows), approximate: false };
  }

  private latencyRows(f: UsageFilters, r: UsageRange): IterableIterator<[string, number, number | null]> {
    const w = where(f, r, [OK_RAW]);
    return this.stmt(`SELECT label, total_ms, ttft_ms FROM usage ${w.sql}`).raw(true).iterate(w.params) as IterableIterator<[string, number, number | null]>;
  }

  private latencyFromHistograms(q: UsageRange & UsageFilters, d1: number, d2: number): UsageLatency {
    const bins = new Map<string, { total: Map<number, number>; ttft: Map<number, number> }>();
    const binsOf = (label: string) => {
      let e = bins.get(label);
      if (!e) {
        e = { total: new Map(), ttft: new Map() };
        bins.set(label, e);
      }
      return e;
    };
    const add = (m: Map<number, number>, b: number, n: number) => m.set(b, (m.get(b) ?? 0) + n);
    const params: Record<string, unknown> = { from: d1, to: d2 };
    let sql = 'SELECT label, kind, bucket, SUM(n) AS n FROM latency_daily WHERE t >= @from AND t < @to';
    if (q.model !== undefined) {
      sql += ' AND label = @model';
      params.model = q.model;
    }
    sql += ' GROUP BY label, kind, bucket';
    for (const [label, kind, bucket, n] of this.stmt(sql).raw(true).all(params) as Array<[string, number, number, number]>) {
      const e = binsOf(label);
      add(kind === 0 ? e.total : e.ttft, bucket, n);
    }
    // The partial days at both ends come from rows, binned the same way.
    for (const edge of [{ from: q.from, to: d1 }, { from: d2, to: q.to }]) {
      if (edge.from >= edge.to) continue;
      for (const [label, total, ttft] of this.latencyRows(q, edge)) {
        const e = binsOf(label);
        add(e.total, bucketOf(total), 1);
        if (ttft !== null) add(e.ttft, bucketOf(ttft), 1);
      }
    }
    const rows = [...bins.entries()].map(([model, e]) => ({ model, ttft: histogramPercentiles(e.ttft), total: histogramPercentiles(e.total) }));
    return { from: q.from, to: q.to, rows: sortLatency(rows), approximate: true };
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
    // request): a range on the request id index.
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
    const finish = (raw: Raw[], more: number | null) => {
      if (raw.length > limit) {
        const rows = raw.slice(0, limit).map(toRow);
        return { rows, nextBefore: rows[rows.length - 1].id };
      }
      return { rows: raw.map(toRow), nextBefore: more };
    };
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
