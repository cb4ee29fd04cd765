/**
 * Engine-neutral SQL of the ledger: the text both stores (SQLite, PostgreSQL) run, with named
 * parameters (`@name`; SQLite binds them as they are, the PostgreSQL store numbers them), and the
 * folding of what comes back. What differs per engine is only its `SqlDialect` (the aggregate
 * expressions) and how a statement is executed (sync in SQLite's reader, async over a pool in
 * PostgreSQL), so both answer the usage queries the same way from the same rows.
 */
import { errors } from '../errors';
import { bucketOf, histogramPercentiles } from './histogram';
import {
  addInto, agg, ceilTo, floorTo, GROUP_COLUMN, keyOf, percentiles, sortLatency, spans, statusRange, zero,
} from './plan';
import { DAY, HOUR, type Sums } from './rows';
import type { RecentPage, SeriesQuery, TotalsQuery } from './store';
import type { UsageFilters, UsageGroup, UsageLatency, UsageRange, UsageRow, UsageSeries, UsageTotals } from './types';

export type Raw = Record<string, unknown>;

/** Aggregates over raw rows (`aggRaw`) and over rollup rows (`aggRollup`), with the output names `addInto` reads. */
export interface SqlDialect {
  aggRaw: string;
  aggRollup: string;
}

/** The `usage` columns a store writes, in `LedgerRow` order (snake_case of its keys). */
export const USAGE_COLUMNS = [
  'request_id', 'received_at', 'first_byte_at', 'finished_at', 'api_key_id', 'user_agent', 'endpoint', 'protocol',
  'requested_model', 'alias', 'provider', 'instance', 'model', 'label', 'stream', 'status', 'error_type', 'switches',
  'switch_reasons', 'session_reuse', 'prompt_tokens', 'completion_tokens', 'reasoning_tokens', 'cached_tokens',
  'tokens_estimated', 'ttft_ms', 'total_ms', 'cost_usd',
] as const;
/** `request_id` -> `requestId`: the `LedgerRow` key of a column. */
export const camel = (c: string): string => c.replace(/_([a-z])/g, (_, x: string) => x.toUpperCase());

export const ROLLUP_KEY = ['t', 'label', 'provider', 'instance', 'api_key_id', 'status'] as const;
export const ROLLUP_SUMS = ['requests', 'errors', 'prompt_tokens', 'completion_tokens', 'reasoning_tokens', 'cached_tokens', 'cost_usd', 'total_ms'] as const;

/** The upsert tail of a rollup insert: sums added to the stored ones (cost stays null until a priced row comes). */
export function rollupConflictSql(table: string): string {
  const add = (c: string): string => `${c} = ${table}.${c} + excluded.${c}`;
  return `ON CONFLICT (${ROLLUP_KEY.join(', ')}) DO UPDATE SET
  ${ROLLUP_SUMS.filter((c) => c !== 'cost_usd').map(add).join(', ')},
  cost_usd = CASE WHEN excluded.cost_usd IS NULL THEN ${table}.cost_usd ELSE COALESCE(${table}.cost_usd, 0) + excluded.cost_usd END`;
}
export const LATENCY_CONFLICT_SQL = 'ON CONFLICT (t, label, kind, bucket) DO UPDATE SET n = latency_daily.n + excluded.n';

/**
 * Retention, one statement per table, run until it deletes nothing more: raw rows in batches of
 * `@batch`, rollups and histograms one period (hour or day) per statement.
 */
export const RETENTION_SQL: ReadonlyArray<{ table: string; sql: string; batched: boolean }> = [
  { table: 'usage', sql: 'DELETE FROM usage WHERE id IN (SELECT id FROM usage WHERE received_at < @cutoff LIMIT @batch)', batched: true },
  ...['usage_hourly', 'usage_daily', 'latency_daily'].map((table) => ({
    table, sql: `DELETE FROM ${table} WHERE t = (SELECT MIN(t) FROM ${table} WHERE t < @cutoff)`, batched: false,
  })),
];

/** A raw row that succeeded: below 400 and no error (a stream that broke after its first byte has one). */
export const OK_RAW = '(status < 400 AND error_type IS NULL)';
/** A raw row counted as an error: a failure, or a stream that broke after its first byte (`requestOutcomeKind`). */
export const ERROR_RAW = '(status >= 400 OR error_type IS NOT NULL)';

/**
 * A status filter as SQL (see `statusRange`); null when unreadable. `raw`: over raw rows only,
 * where 'ok' and 'error' also sort a stream that broke after its first byte (200 with an error
 * type) as an error; rollups have no error type.
 */
export function statusClause(s: string, raw = false): string | null {
  const r = statusRange(s);
  if (!r) return null;
  const [lo, hi] = r;
  if (raw && lo === 0 && hi === 399) return OK_RAW;
  if (raw && lo === 400 && hi === 999) return ERROR_RAW;
  if (lo === hi) return `status = ${lo}`;
  if (lo === 0) return `status < ${hi + 1}`;
  if (hi === 999) return `status >= ${lo}`;
  return `status BETWEEN ${lo} AND ${hi}`;
}

export interface Stmt {
  sql: string;
  params: Record<string, unknown>;
}

export function where(f: UsageFilters, range?: UsageRange, extra: string[] = [], timeCol = 'received_at', modelMatchesRequested = false, raw = false): Stmt {
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
  for (const [k, col] of [['provider', 'provider'], ['instance', 'instance'], ['key', 'api_key_id']] as const) {
    if (f[k] === undefined) continue;
    parts.push(`${col} = @${k}`);
    params[k] = f[k];
  }
  if (f.status !== undefined) {
    const c = statusClause(f.status, raw);
    if (!c) throw errors.invalid(`Status filter must be a status code (429), a class (5xx), 'ok' or 'error', got '${String(f.status).slice(0, 20)}'.`, 'status');
    parts.push(c);
  }
  parts.push(...extra);
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export const ROW_COLUMNS = `id, ${USAGE_COLUMNS.join(', ')}`;

const opt = <T>(v: unknown): T | undefined => (v === null || v === undefined ? undefined : (v as T));

/** A stored row (snake_case columns, numbers as numbers) as the admin API shows it. */
export function toRow(r: Raw): UsageRow {
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

/** One page of the request list from `limit + 1` rows fetched newest first. */
export function recentPage(raw: Raw[], limit: number, more: number | null): RecentPage {
  if (raw.length > limit) {
    const rows = raw.slice(0, limit).map(toRow);
    return { rows, nextBefore: rows[rows.length - 1].id };
  }
  return { rows: raw.map(toRow), nextBefore: more };
}

export const TOKENS_BY_KEY_SQL = 'SELECT api_key_id AS k, SUM(prompt_tokens + completion_tokens) AS t FROM usage_hourly WHERE t >= @since GROUP BY api_key_id';

// ---- sums over spans (totals, series) ----

/** A summing statement; `t` fixes the bucket start of all its rows (buckets summed one by one). */
export interface SumStmt extends Stmt {
  t?: number;
}
export interface SumEntry {
  t: number;
  k: string | null;
  s: Sums;
}

/**
 * The statements that sum a range per (bucket, group), span by span (rollups for whole hours and
 * days, raw rows for the edges). `offset` (ms east of UTC) shifts bucket starts to local hours or
 * days; when it is not a whole hour, hourly rollup rows straddle bucket edges, so each bucket is
 * summed on its own (rollups inside, rows at its edges).
 */
export function sumStatements(
  d: SqlDialect, q: UsageRange & UsageFilters, group: UsageGroup | undefined, bucket: number | null, extra: string[] = [], offset = 0,
): SumStmt[] {
  if (bucket !== null && offset % HOUR !== 0) {
    const out: SumStmt[] = [];
    for (let b = Math.floor((q.from + offset) / bucket) * bucket - offset; b < q.to; b += bucket) {
      const part = { ...q, from: Math.max(q.from, b), to: Math.min(q.to, b + bucket) };
      for (const s of spanStatements(d, part, group, null, extra, 0, false)) out.push({ ...s, t: b });
    }
    return out;
  }
  return spanStatements(d, q, group, bucket, extra, offset, bucket === null || (bucket === DAY && offset === 0));
}

function spanStatements(
  d: SqlDialect, q: UsageRange & UsageFilters, group: UsageGroup | undefined, bucket: number | null, extra: string[], offset: number, allowDaily: boolean,
): SumStmt[] {
  const kExpr = group ? GROUP_COLUMN[group] : 'NULL';
  return spans(q.from, q.to, allowDaily).map((sp) => {
    const timeCol = sp.table === 'usage' ? 'received_at' : 't';
    const w = where(q, sp, extra, timeCol);
    const tExpr = bucket === null ? '0' : `((${timeCol} + ${offset}) / ${bucket}) * ${bucket} - ${offset}`;
    return {
      sql: `SELECT ${tExpr} AS b, ${kExpr} AS k, ${sp.table === 'usage' ? d.aggRaw : d.aggRollup} FROM ${sp.table} ${w.sql} GROUP BY b, k`,
      params: w.params,
    };
  });
}

/** Add one statement's rows into the sums per (bucket, key). */
export function mergeSums(out: Map<string, SumEntry>, rows: Raw[], fixedT?: number): void {
  for (const r of rows) {
    const k = keyOf(r.k);
    const t = fixedT ?? Number(r.b);
    const id = `${t}|${k ?? ''}`;
    let e = out.get(id);
    if (!e) {
      e = { t, k, s: zero() };
      out.set(id, e);
    }
    addInto(e.s, r);
  }
}

export function foldTotals(q: TotalsQuery, entries: Iterable<SumEntry>): UsageTotals {
  const total = zero();
  const rows: UsageTotals['rows'] = [];
  for (const e of entries) {
    addInto(total, e.s as unknown as Raw);
    if (q.group) rows.push({ key: e.k, ...agg(e.s) });
  }
  rows.sort((a, b) => b.requests - a.requests || String(a.key).localeCompare(String(b.key)));
  return { from: q.from, to: q.to, group: q.group ?? null, total: agg(total), rows };
}

/** The bucket size and offset a series query sums with. */
export function seriesBuckets(q: SeriesQuery): { size: number; offset: number } {
  return { size: q.bucket === 'hour' ? HOUR : DAY, offset: Math.round(q.tzOffsetMinutes ?? 0) * 60_000 };
}

export function foldSeries(q: SeriesQuery, entries: Iterable<SumEntry>): UsageSeries {
  const points = [...entries]
    .sort((a, b) => a.t - b.t || String(a.k).localeCompare(String(b.k)))
    .map((e) => ({ t: e.t, key: e.k, ...agg(e.s) }));
  return { from: q.from, to: q.to, bucket: q.bucket, group: q.group ?? null, tzOffsetMinutes: Math.round(q.tzOffsetMinutes ?? 0), points };
}

// ---- latency ----

export type LatencyRow = [label: string, totalMs: number, ttftMs: number | null];

/**
 * Whether a latency query may be answered from the daily histograms, and the whole days they
 * cover: only without filters other than model, and only when the range spans a whole UTC day.
 */
export function histogramDays(q: UsageRange & UsageFilters): { d1: number; d2: number } | null {
  const usable = q.provider === undefined && q.instance === undefined && q.key === undefined && q.status === undefined;
  const d1 = ceilTo(q.from, DAY);
  const d2 = floorTo(q.to, DAY);
  return usable && d1 < d2 ? { d1, d2 } : null;
}

/** The successful rows of a range: label, total time, time to first byte. */
export function latencyRowsStmt(f: UsageFilters, r: UsageRange): Stmt {
  const w = where(f, r, [OK_RAW]);
  return { sql: `SELECT label, total_ms, ttft_ms FROM usage ${w.sql}`, params: w.params };
}

/** The daily histogram counts of whole days [d1, d2): label, kind, bucket, n. */
export function histogramStmt(q: UsageFilters, d1: number, d2: number): Stmt {
  const params: Record<string, unknown> = { from: d1, to: d2 };
  let sql = 'SELECT label, kind, bucket, SUM(n) AS n FROM latency_daily WHERE t >= @from AND t < @to';
  if (q.model !== undefined) {
    sql += ' AND label = @model';
    params.model = q.model;
  }
  return { sql: `${sql} GROUP BY label, kind, bucket`, params };
}

/** Exact nearest-rank percentiles per model from every successful row of the range. */
export function exactLatency(q: UsageRange, rows: Iterable<LatencyRow>): UsageLatency {
  const perModel = new Map<string, { total: number[]; ttft: number[] }>();
  for (const [label, total, ttft] of rows) {
    let e = perModel.get(label);
    if (!e) {
      e = { total: [], ttft: [] };
      perModel.set(label, e);
    }
    e.total.push(total);
    if (ttft !== null) e.ttft.push(ttft);
  }
  const out = [...perModel.entries()].map(([model, e]) => ({ model, ttft: percentiles(e.ttft), total: percentiles(e.total) }));
  return { from: q.from, to: q.to, rows: sortLatency(out), approximate: false };
}

/** Approximate percentiles: whole days from the histograms, the partial days at both ends from rows binned the same way. */
export function histogramLatency(q: UsageRange, bins: Iterable<[string, number, number, number]>, edgeRows: Iterable<LatencyRow>): UsageLatency {
  const byLabel = new Map<string, { total: Map<number, number>; ttft: Map<number, number> }>();
  const binsOf = (label: string) => {
    let e = byLabel.get(label);
    if (!e) {
      e = { total: new Map(), ttft: new Map() };
      byLabel.set(label, e);
    }
    return e;
  };
  const add = (m: Map<number, number>, b: number, n: number) => m.set(b, (m.get(b) ?? 0) + n);
  for (const [label, kind, bucket, n] of bins) add(kind === 0 ? binsOf(label).total : binsOf(label).ttft, Number(bucket), Number(n));
  for (const [label, total, ttft] of edgeRows) {
    const e = binsOf(label);
    add(e.total, bucketOf(total), 1);
    if (ttft !== null) add(e.ttft, bucketOf(ttft), 1);
  }
  const out = [...byLabel.entries()].map(([model, e]) => ({ model, ttft: histogramPercentiles(e.ttft), total: histogramPercentiles(e.total) }));
  return { from: q.from, to: q.to, rows: sortLatency(out), approximate: true };
}
