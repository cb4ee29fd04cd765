/**
 * Engine-neutral query planning and folding for the read side: which table answers which part of
 * a range (`spans`), what a status filter means (`statusRange`), nearest-rank percentiles, and
 * folding summed rows into the API's aggregates. A store translates these into its own SQL.
 */
import { DAY, HOUR, type Sums } from './rows';
import type { Percentiles, UsageAggregate, UsageGroup } from './types';

/** The column each grouping reads (the same in rows and rollups). */
export const GROUP_COLUMN: Record<UsageGroup, string> = {
  model: 'label',
  provider: 'provider',
  instance: 'instance',
  key: 'api_key_id',
  status: 'status',
};

export const USAGE_GROUPS = Object.keys(GROUP_COLUMN) as UsageGroup[];

export type Table = 'usage' | 'usage_hourly' | 'usage_daily';

export interface Span {
  table: Table;
  from: number;
  to: number;
}

export const floorTo = (t: number, size: number): number => Math.floor(t / size) * size;
export const ceilTo = (t: number, size: number): number => Math.ceil(t / size) * size;

/**
 * Split [from, to) into pieces each answered by the cheapest table: whole UTC days from the daily
 * rollup (when allowed), whole hours from the hourly rollup, and the sub-hour edges from raw rows.
 */
export function spans(from: number, to: number, allowDaily: boolean): Span[] {
  const h1 = ceilTo(from, HOUR);
  const h2 = floorTo(to, HOUR);
  if (h1 >= h2) return [{ table: 'usage', from, to }];
  const out: Span[] = [];
  if (from < h1) out.push({ table: 'usage', from, to: h1 });
  const d1 = ceilTo(h1, DAY);
  const d2 = floorTo(h2, DAY);
  if (allowDaily && d1 < d2) {
    if (h1 < d1) out.push({ table: 'usage_hourly', from: h1, to: d1 });
    out.push({ table: 'usage_daily', from: d1, to: d2 });
    if (d2 < h2) out.push({ table: 'usage_hourly', from: d2, to: h2 });
  } else {
    out.push({ table: 'usage_hourly', from: h1, to: h2 });
  }
  if (h2 < to) out.push({ table: 'usage', from: h2, to });
  return out;
}

/** A status filter: `429`, `5xx`, `ok` (< 400) or `error` (>= 400) as an inclusive range; null when unreadable. */
export function statusRange(s: string): [number, number] | null {
  const v = String(s).trim().toLowerCase();
  if (v === 'ok') return [0, 399];
  if (v === 'error') return [400, 999];
  let m = /^([1-5])xx$/.exec(v);
  if (m) return [Number(m[1]) * 100, Number(m[1]) * 100 + 99];
  m = /^([1-5]\d\d)$/.exec(v);
  if (m) return [Number(m[1]), Number(m[1])];
  return null;
}

export const zero = (): Sums => ({
  requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, reasoningTokens: 0, cachedTokens: 0, costUsd: null, totalMs: 0,
});

/** Add one summed row (from any table; numbers may come back as strings from a driver) into `a`. */
export function addInto(a: Sums, r: Record<string, unknown>): void {
  a.requests += Number(r.requests ?? 0);
  a.errors += Number(r.errors ?? 0);
  a.promptTokens += Number(r.promptTokens ?? 0);
  a.completionTokens += Number(r.completionTokens ?? 0);
  a.reasoningTokens += Number(r.reasoningTokens ?? 0);
  a.cachedTokens += Number(r.cachedTokens ?? 0);
  if (r.costUsd !== null && r.costUsd !== undefined) a.costUsd = (a.costUsd ?? 0) + Number(r.costUsd);
  a.totalMs += Number(r.totalMs ?? 0);
}

export function agg(s: Sums): UsageAggregate {
  return {
    requests: s.requests,
    errors: s.errors,
    promptTokens: s.promptTokens,
    completionTokens: s.completionTokens,
    reasoningTokens: s.reasoningTokens,
    cachedTokens: s.cachedTokens,
    // Rounded to a micro-dollar: sums of floats otherwise show noise like 0.30000000000000004.
    costUsd: s.costUsd === null ? null : Math.round(s.costUsd * 1e6) / 1e6,
    avgTotalMs: s.requests ? Math.round((s.totalMs / s.requests) * 10) / 10 : null,
  };
}

/** Rollups store '' for "no provider / instance"; the API shows null for both. */
export const keyOf = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : String(v));

/** Above this many successful requests in a range, percentiles come from the daily histograms. */
export const EXACT_PERCENTILE_ROWS = 100_000;

/** Nearest-rank percentiles (the value at rank ceil(p * n)) of a list of numbers. */
export function percentiles(values: number[]): Percentiles {
  const n = values.length;
  if (!n) return { count: 0, p50: null, p90: null, p99: null };
  const a = Float64Array.from(values).sort();
  const at = (p: number): number => a[Math.max(0, Math.ceil((p * n) / 100) - 1)];
  return { count: n, p50: at(50), p90: at(90), p99: at(99) };
}

export function sortLatency<T extends { model: string; total: Percentiles }>(rows: T[]): T[] {
  return rows.sort((a, b) => b.total.count - a.total.count || a.model.localeCompare(b.model));
}
