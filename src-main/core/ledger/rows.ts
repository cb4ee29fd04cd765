/**
 * Engine-neutral row work: a `UsageRecord` becomes one normalized, priced `LedgerRow` (what every
 * store writes), and a batch of rows becomes the hourly/daily rollup sums and the daily latency
 * histogram counts that are written with it. Pure functions: the SQLite writer (in its worker)
 * uses them and a PostgreSQL store can too.
 */
import { isErrorOutcome } from '../state-types';
import { bucketOf } from './histogram';
import type { PriceTable } from './prices';
import type { UsageRecord } from './types';

export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** One stored row: the `usage` table's columns in camelCase (booleans as 0/1, reasons as JSON text). */
export interface LedgerRow {
  requestId: string;
  receivedAt: number;
  firstByteAt: number | null;
  finishedAt: number;
  apiKeyId: string;
  userAgent: string | null;
  endpoint: string;
  protocol: string;
  requestedModel: string;
  alias: string | null;
  provider: string | null;
  instance: string | null;
  model: string | null;
  label: string;
  stream: 0 | 1;
  status: number;
  errorType: string | null;
  switches: number;
  /** JSON array of strings, or null when there was no switch. */
  switchReasons: string | null;
  sessionReuse: 0 | 1;
  promptTokens: number | null;
  completionTokens: number | null;
  reasoningTokens: number | null;
  cachedTokens: number | null;
  tokensEstimated: 0 | 1;
  ttftMs: number | null;
  totalMs: number;
  costUsd: number | null;
}

/** Sums kept per rollup key and read by the queries. */
export interface Sums {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  reasoningTokens: number;
  cachedTokens: number;
  costUsd: number | null;
  totalMs: number;
}

/** One rollup row: its key (period start and dimensions; '' for no provider/instance) and its sums. */
export interface RollupRow extends Sums {
  t: number;
  label: string;
  provider: string;
  instance: string;
  apiKeyId: string;
  status: number;
}

/** `provider/model` when the request resolved, else the model the client asked for. */
export function labelOf(rec: Pick<UsageRecord, 'provider' | 'model' | 'requestedModel'>): string {
  return rec.provider && rec.model ? `${rec.provider}/${rec.model}` : rec.requestedModel;
}

const int = (v: number | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : null);
/** Text columns are capped: a client-chosen user agent or model name cannot bloat the database. */
const str = (v: string | undefined, max = 256): string | null => (typeof v === 'string' ? v.slice(0, max) : null);
const text = (v: unknown, max = 256): string => String(v ?? '').slice(0, max);

/** The row for one record (cost priced here, at write time). Throws on a record it cannot read. */
export function toRowParams(r: UsageRecord, prices: PriceTable, now: number): LedgerRow {
  return {
    requestId: text(r.requestId, 128),
    receivedAt: int(r.receivedAt) ?? now,
    firstByteAt: int(r.firstByteAt),
    finishedAt: int(r.finishedAt) ?? int(r.receivedAt) ?? now,
    apiKeyId: text(r.apiKeyId, 64),
    userAgent: str(r.userAgent, 512),
    endpoint: text(r.endpoint),
    protocol: text(r.protocol, 32),
    requestedModel: text(r.requestedModel),
    alias: str(r.alias),
    provider: str(r.provider),
    instance: str(r.instance),
    model: str(r.model),
    label: text(labelOf(r), 300),
    stream: r.stream ? 1 : 0,
    status: int(r.status) ?? 0,
    errorType: str(r.errorType, 64),
    switches: int(r.switches) ?? 0,
    switchReasons: Array.isArray(r.switchReasons) && r.switchReasons.length
      ? JSON.stringify(r.switchReasons.slice(0, 32).map((x) => text(x, 200)))
      : null,
    sessionReuse: r.sessionReuse ? 1 : 0,
    promptTokens: int(r.promptTokens),
    completionTokens: int(r.completionTokens),
    reasoningTokens: int(r.reasoningTokens),
    cachedTokens: int(r.cachedTokens),
    tokensEstimated: r.tokensEstimated ? 1 : 0,
    ttftMs: int(r.ttftMs),
    totalMs: int(r.totalMs) ?? 0,
    costUsd: prices.cost(r),
  };
}

/** Sum a batch's rows per rollup key, so each batch does one upsert per key rather than per row. */
export function rollUp(rows: readonly LedgerRow[], size: number): RollupRow[] {
  const out = new Map<string, RollupRow>();
  for (const p of rows) {
    const t = Math.floor(p.receivedAt / size) * size;
    const provider = p.provider ?? '';
    const instance = p.instance ?? '';
    const key = `${t}\u0000${p.label}\u0000${provider}\u0000${instance}\u0000${p.apiKeyId}\u0000${p.status}`;
    let e = out.get(key);
    if (!e) {
      e = {
        t, label: p.label, provider, instance, apiKeyId: p.apiKeyId, status: p.status,
        requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, reasoningTokens: 0, cachedTokens: 0, costUsd: null, totalMs: 0,
      };
      out.set(key, e);
    }
    e.requests += 1;
    // A stream that broke after its first byte (200 with an error type) is an error too.
    if (isErrorOutcome(p.status, p.errorType)) e.errors += 1;
    e.promptTokens += p.promptTokens ?? 0;
    e.completionTokens += p.completionTokens ?? 0;
    e.reasoningTokens += p.reasoningTokens ?? 0;
    e.cachedTokens += p.cachedTokens ?? 0;
    if (p.costUsd !== null) e.costUsd = (e.costUsd ?? 0) + p.costUsd;
    e.totalMs += p.totalMs;
  }
  return [...out.values()];
}

/** Per-day latency histogram counts of a batch's successful rows: [t, label, kind (0 total, 1 ttft), bucket, n]. */
export function latencyBins(rows: readonly LedgerRow[]): Array<[number, string, number, number, number]> {
  const out = new Map<string, [number, string, number, number, number]>();
  const add = (t: number, label: string, kind: number, v: number): void => {
    const b = bucketOf(v);
    const key = `${t}\u0000${label}\u0000${kind}\u0000${b}`;
    const e = out.get(key);
    if (e) e[4] += 1;
    else out.set(key, [t, label, kind, b, 1]);
  };
  for (const p of rows) {
    if (isErrorOutcome(p.status, p.errorType)) continue;
    const t = Math.floor(p.receivedAt / DAY) * DAY;
    add(t, p.label, 0, p.totalMs);
    if (p.ttftMs !== null) add(t, p.label, 1, p.ttftMs);
  }
  return [...out.values()];
}
