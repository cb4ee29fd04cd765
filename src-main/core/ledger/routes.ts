/**
 * Usage endpoints of the admin API, as a fastify plugin. `buildGateway` registers it inside the
 * admin scope, which already enforces the admin token: this plugin adds no auth of its own.
 *
 *   GET /admin/usage/status                 ledger state, queue, written/dropped counts
 *   GET /admin/usage/totals                 totals, optionally grouped (group=model|provider|instance|key|status)
 *   GET /admin/usage/series                 time series (bucket=hour|day), optionally grouped; tz=<minutes east
 *                                           of UTC> aligns buckets to local hours/days (e.g. 120, -300, 330)
 *   GET /admin/usage/latency                TTFB and total p50/p90/p99 per model (successful requests)
 *   GET /admin/usage/recent                 newest requests first; filters; limit; before=<id> cursor
 *   GET /admin/usage/export.csv             CSV of a time range (streamed)
 *
 * Ranges: `from` (inclusive) and `to` (exclusive) as epoch ms or ISO 8601; default: the last 24 h
 * (30 days for bucket=day). Filters: model (resolved `provider/model`), provider, instance, key
 * (API key id), status (`429`, `5xx`, `ok`, `error`).
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { errors } from '../errors';
import { statusRange, USAGE_GROUPS } from './plan';
import type { Ledger, UsageFilters, UsageGroup, UsageRange } from './types';

export interface LedgerRoutesOptions {
  ledger: Ledger;
  /** Where the routes live; default `/admin/usage`. Pass `/usage` if the admin scope is already prefixed with `/admin`. */
  basePath?: string;
  now?: () => number;
}

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Hourly series longer than this get a 400 asking for bucket=day (keeps answers a sane size). */
const MAX_HOURLY_RANGE = 93 * DAY;
const MAX_RECENT = 500;

type Query = Record<string, unknown>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw errors.invalid(`Query parameter '${name}' must be given once.`, name);
  return v;
}

function allowOnly(q: Query, names: string[]): void {
  for (const k of Object.keys(q)) {
    if (!names.includes(k)) throw errors.invalid(`Unknown query parameter '${k}'. Allowed: ${names.join(', ')}.`, k);
  }
}

/** Epoch ms or ISO 8601. */
export function parseTime(v: string, name: string): number {
  const t = /^\d{1,15}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t)) {
    throw errors.invalid(`Query parameter '${name}' must be epoch milliseconds or an ISO 8601 date, got '${v.slice(0, 40)}'.`, name);
  }
  return t;
}

function range(q: Query, now: number, defaultSpan: number): UsageRange {
  const toS = one(q, 'to');
  const fromS = one(q, 'from');
  const to = toS === undefined ? now + 1 : parseTime(toS, 'to');
  const from = fromS === undefined ? (toS === undefined ? now : to) - defaultSpan : parseTime(fromS, 'from');
  if (from >= to) throw errors.invalid(`'from' (${new Date(from).toISOString()}) must be before 'to' (${new Date(to).toISOString()}).`, 'from');
  return { from, to };
}

function filters(q: Query): UsageFilters {
  const f: UsageFilters = {};
  for (const name of ['model', 'provider', 'instance', 'key'] as const) {
    const v = one(q, name);
    if (v !== undefined) {
      if (!v.length || v.length > 256) throw errors.invalid(`Query parameter '${name}' must be 1 to 256 characters.`, name);
      f[name] = v;
    }
  }
  const status = one(q, 'status');
  if (status !== undefined) {
    if (!statusRange(status)) {
      throw errors.invalid(`Query parameter 'status' must be a status code (429), a class (5xx), 'ok' or 'error', got '${status.slice(0, 20)}'.`, 'status');
    }
    f.status = status;
  }
  return f;
}

function group(q: Query): UsageGroup | undefined {
  const g = one(q, 'group');
  if (g === undefined) return undefined;
  if (!(USAGE_GROUPS as string[]).includes(g)) {
    throw errors.invalid(`Query parameter 'group' must be one of ${USAGE_GROUPS.join(', ')}, got '${g.slice(0, 20)}'.`, 'group');
  }
  return g as UsageGroup;
}

function bucket(q: Query): 'hour' | 'day' {
  const b = one(q, 'bucket') ?? 'hour';
  if (b !== 'hour' && b !== 'day') throw errors.invalid(`Query parameter 'bucket' must be 'hour' or 'day', got '${b.slice(0, 20)}'.`, 'bucket');
  return b;
}

function positiveInt(q: Query, name: string, max: number): number | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v) || Number(v) < 1 || Number(v) > max) {
    throw errors.invalid(`Query parameter '${name}' must be a whole number from 1 to ${max}, got '${v.slice(0, 20)}'.`, name);
  }
  return Number(v);
}

const FILTERS = ['model', 'provider', 'instance', 'key', 'status'];

export const ledgerRoutes: FastifyPluginAsync<LedgerRoutesOptions> = async (app, opts) => {
  const { ledger } = opts;
  const base = (opts.basePath ?? '/admin/usage').replace(/\/$/, '');
  const now = opts.now ?? Date.now;

  app.get(`${base}/status`, async (req) => {
    allowOnly(req.query as Query, []);
    return ledger.status();
  });

  app.get(`${base}/totals`, async (req) => {
    const q = req.query as Query;
    allowOnly(q, ['from', 'to', 'group', ...FILTERS]);
    return ledger.totals({ ...range(q, now(), DAY), ...filters(q), group: group(q) });
  });

  app.get(`${base}/series`, async (req) => {
    const q = req.query as Query;
    allowOnly(q, ['from', 'to', 'bucket', 'group', 'tz', ...FILTERS]);
    const b = bucket(q);
    const tzS = one(q, 'tz');
    if (tzS !== undefined && (!/^[+-]?\d{1,3}$/.test(tzS) || Math.abs(Number(tzS)) > 14 * 60)) {
      throw errors.invalid(`Query parameter 'tz' must be the UTC offset in minutes, from -840 to 840 (e.g. 120 for UTC+2), got '${tzS.slice(0, 20)}'.`, 'tz');
    }
    const r = range(q, now(), b === 'day' ? 30 * DAY : DAY);
    if (b === 'hour' && r.to - r.from > MAX_HOURLY_RANGE) {
      throw errors.invalid(`An hourly series may span at most ${MAX_HOURLY_RANGE / DAY} days (${Math.ceil((r.to - r.from) / HOUR)} hours asked); use bucket=day.`, 'bucket');
    }
    return ledger.series({ ...r, ...filters(q), bucket: b, group: group(q), tzOffsetMinutes: tzS === undefined ? 0 : Number(tzS) });
  });

  app.get(`${base}/latency`, async (req) => {
    const q = req.query as Query;
    allowOnly(q, ['from', 'to', ...FILTERS]);
    return ledger.latency({ ...range(q, now(), DAY), ...filters(q) });
  });

  app.get(`${base}/recent`, async (req) => {
    const q = req.query as Query;
    allowOnly(q, ['limit', 'before', 'requestId', ...FILTERS]);
    const requestId = one(q, 'requestId');
    if (requestId !== undefined && (!requestId.length || requestId.length > 256)) {
      throw errors.invalid(`Query parameter 'requestId' must be 1 to 256 characters.`, 'requestId');
    }
    return ledger.recent({
      ...filters(q),
      requestId,
      limit: positiveInt(q, 'limit', MAX_RECENT) ?? 50,
      before: positiveInt(q, 'before', Number.MAX_SAFE_INTEGER),
    });
  });

  app.get(`${base}/export.csv`, async (req, reply) => {
    const q = req.query as Query;
    allowOnly(q, ['from', 'to', ...FILTERS]);
    const r = range(q, now(), DAY);
    // Throws here (before any byte is sent) when the ledger is unavailable.
    await ledger.ready();
    const chunks = ledger.exportCsv({ ...r, ...filters(q) });
    const name = `lingma-relay-usage-${new Date(r.from).toISOString().slice(0, 10)}-${new Date(r.to - 1).toISOString().slice(0, 10)}.csv`;
    reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${name}"`)
      .header('cache-control', 'no-store');
    return reply.send(Readable.from(chunks));
  });
};
