/**
 * The usage ledger: one SQLite row per client request, written off the hot path.
 *
 * `record()` only pushes onto a bounded in-memory queue. A flusher writes the queue in batches of
 * `batchSize`, each batch in one transaction (rows + hourly/daily rollups + latency histograms),
 * every `flushIntervalMs` or on the next event-loop turn once a full batch waits.
 *
 * What a crash can lose: only records not yet committed, i.e. those queued since the last batch:
 * normally fewer than `batchSize` (plus whatever arrived in the same event-loop turn) and never
 * older than `flushIntervalMs` (defaults: 500 records / 250 ms). While the disk refuses writes the
 * queue keeps up to `queueMax` records for retry. A graceful stop (`flush()`/`close()`, called on
 * SIGTERM and app quit) loses nothing. WAL + synchronous=NORMAL: a committed batch survives a
 * process crash; an OS crash or power cut can also lose the last committed batches.
 *
 * A database that cannot be opened (corrupt, locked, newer schema) or stops accepting writes makes
 * the ledger `degraded` with a reason; the gateway keeps serving, records are counted as dropped,
 * and budgets keep counting in memory (`ledger.onDegraded` decides whether they still admit).
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/schema';
import { errors } from '../errors';
import { systemClock, type Clock } from '../ports';
import { BudgetCounters, utcDay, type KeyLimits } from './budget';
import { bucketOf } from './histogram';
import { PriceTable } from './prices';
import { UsageQueries, type Sums } from './queries';
import { migrate } from './schema';
import type { Ledger, LedgerStatus, UsageRecord } from './types';

export type { Ledger, LedgerStatus, UsageRecord } from './types';
export { parseExpiry } from './budget';
export { PriceTable } from './prices';

export interface LedgerOptions {
  dbPath: string;
  config: Config['ledger'];
  log: Logger;
  registry?: Registry;
  clock?: Clock;
  /** How long SQLite waits on a lock before giving up (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** Rows deleted per retention statement. Default 1000. */
  retentionBatch?: number;
  /** How often retention runs (ms). Default one hour; the first run is a minute after start. */
  retentionIntervalMs?: number;
  /** Retry delay after a failed write or a locked database at start (ms). Default 5000. */
  retryMs?: number;
  /**
   * Rows written per event-loop turn by the background writer (a batch is written as several
   * such chunks, one per turn), so a large batch never holds requests up for milliseconds.
   */
  chunkRows?: number;
  /** Ranges with more successful requests than this get histogram percentiles. Default 100000. */
  exactPercentileRows?: number;
}

const DAY = 86_400_000;
const OVERFLOW_LOG_EVERY_MS = 10_000;

export const INSERT_SQL = `INSERT INTO usage (
  request_id, received_at, first_byte_at, finished_at, api_key_id, user_agent, endpoint, protocol,
  requested_model, alias, provider, instance, model, label, stream, status, error_type, switches,
  switch_reasons, session_reuse, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens,
  tokens_estimated, ttft_ms, total_ms, cost_usd
) VALUES (
  @requestId, @receivedAt, @firstByteAt, @finishedAt, @apiKeyId, @userAgent, @endpoint, @protocol,
  @requestedModel, @alias, @provider, @instance, @model, @label, @stream, @status, @errorType, @switches,
  @switchReasons, @sessionReuse, @promptTokens, @completionTokens, @reasoningTokens, @cachedTokens,
  @tokensEstimated, @ttftMs, @totalMs, @costUsd
)`;

const rollupSql = (table: string): string => `INSERT INTO ${table} (t, label, provider, instance, api_key_id, status,
  requests, errors, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd, total_ms)
VALUES (@t, @label, @provider, @instance, @apiKeyId, @status, @requests, @errors, @promptTokens, @completionTokens,
  @reasoningTokens, @cachedTokens, @costUsd, @totalMs)
ON CONFLICT (t, label, provider, instance, api_key_id, status) DO UPDATE SET
  requests = requests + excluded.requests, errors = errors + excluded.errors,
  prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
  reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, cached_tokens = cached_tokens + excluded.cached_tokens,
  cost_usd = CASE WHEN excluded.cost_usd IS NULL THEN cost_usd ELSE COALESCE(cost_usd, 0) + excluded.cost_usd END,
  total_ms = total_ms + excluded.total_ms`;

/** One rollup row: its key (period start and dimensions) and the sums the queries read. */
interface RollupRow extends Sums {
  t: number;
  label: string;
  provider: string;
  instance: string;
  apiKeyId: string;
  status: number;
}

/** Sum a batch's rows per rollup key, so each batch does one upsert per key rather than per row. */
export function rollUp(rows: Array<Record<string, unknown>>, size: number): RollupRow[] {
  const out = new Map<string, RollupRow>();
  for (const p of rows) {
    const t = Math.floor((p.receivedAt as number) / size) * size;
    const provider = (p.provider as string | null) ?? '';
    const instance = (p.instance as string | null) ?? '';
    const key = `${t}\u0000${p.label}\u0000${provider}\u0000${instance}\u0000${p.apiKeyId}\u0000${p.status}`;
    let e = out.get(key);
    if (!e) {
      e = {
        t, label: p.label as string, provider, instance, apiKeyId: p.apiKeyId as string, status: p.status as number,
        requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, reasoningTokens: 0, cachedTokens: 0, costUsd: null, totalMs: 0,
      };
      out.set(key, e);
    }
    e.requests += 1;
    if ((p.status as number) >= 400) e.errors += 1;
    e.promptTokens += (p.promptTokens as number | null) ?? 0;
    e.completionTokens += (p.completionTokens as number | null) ?? 0;
    e.reasoningTokens += (p.reasoningTokens as number | null) ?? 0;
    e.cachedTokens += (p.cachedTokens as number | null) ?? 0;
    if (p.costUsd !== null) e.costUsd = (e.costUsd ?? 0) + (p.costUsd as number);
    e.totalMs += p.totalMs as number;
  }
  return [...out.values()];
}

/** Per-day latency histogram counts of a batch's successful rows: [t, label, kind, bucket, n]. */
export function latencyBins(rows: Array<Record<string, unknown>>): Array<[number, string, number, number, number]> {
  const out = new Map<string, [number, string, number, number, number]>();
  const add = (t: number, label: string, kind: number, v: number): void => {
    const b = bucketOf(v);
    const key = `${t}\u0000${label}\u0000${kind}\u0000${b}`;
    const e = out.get(key);
    if (e) e[4] += 1;
    else out.set(key, [t, label, kind, b, 1]);
  };
  for (const p of rows) {
    if ((p.status as number) >= 400) continue;
    const t = Math.floor((p.receivedAt as number) / DAY) * DAY;
    add(t, p.label as string, 0, p.totalMs as number);
    if (p.ttftMs !== null) add(t, p.label as string, 1, p.ttftMs as number);
  }
  return [...out.values()];
}

/** Prepared statements that write one batch: the rows, both rollups and the latency histograms, in one transaction. */
export function batchWriter(db: Database.Database): (params: Array<Record<string, unknown>>) => void {
  const ins = db.prepare(INSERT_SQL);
  const hourly = db.prepare(rollupSql('usage_hourly'));
  const daily = db.prepare(rollupSql('usage_daily'));
  const latency = db.prepare(`INSERT INTO latency_daily (t, label, kind, bucket, n) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (t, label, kind, bucket) DO UPDATE SET n = n + excluded.n`);
  return db.transaction((params: Array<Record<string, unknown>>) => {
    for (const p of params) ins.run(p);
    for (const r of rollUp(params, 3_600_000)) hourly.run(r);
    for (const r of rollUp(params, DAY)) daily.run(r);
    for (const b of latencyBins(params)) latency.run(b);
  });
}

/** `provider/model` when the request resolved, else the model the client asked for. */
export function labelOf(rec: Pick<UsageRecord, 'provider' | 'model' | 'requestedModel'>): string {
  return rec.provider && rec.model ? `${rec.provider}/${rec.model}` : rec.requestedModel;
}

const int = (v: number | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? Math.round(v) : null);
/** Text columns are capped: a client-chosen user agent or model name cannot bloat the database. */
const str = (v: string | undefined, max = 256): string | null => (typeof v === 'string' ? v.slice(0, max) : null);
const text = (v: unknown, max = 256): string => String(v ?? '').slice(0, max);

/** The INSERT parameters for one record (cost priced here, at write time). Exported for the benchmark's bulk load. */
export function toRowParams(r: UsageRecord, prices: PriceTable, now: number): Record<string, unknown> {
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

function metric<T>(registry: Registry | undefined, name: string, make: (registers: Registry[]) => T): T {
  const existing = registry?.getSingleMetric(name);
  if (existing) return existing as unknown as T;
  return make(registry ? [registry] : []);
}

function describe(e: unknown): { reason: string; retry: boolean } {
  const code = (e as { code?: string })?.code ?? '';
  const msg = e instanceof Error ? e.message : String(e);
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return { reason: 'usage database is locked by another process', retry: true };
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return { reason: `usage database file is corrupt or not a SQLite database (${msg}); move it aside to start a new one`, retry: false };
  }
  if (code.startsWith('SQLITE_FULL')) return { reason: 'disk full: usage database cannot grow', retry: true };
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM')) {
    return { reason: `usage database cannot be opened for writing (${msg})`, retry: false };
  }
  return { reason: `usage database error: ${msg}`, retry: false };
}

export function createLedger(opts: LedgerOptions): Ledger {
  const cfg = opts.config;
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const busyTimeoutMs = opts.busyTimeoutMs ?? 5000;
  const retentionBatch = opts.retentionBatch ?? 1000;
  const retentionIntervalMs = opts.retentionIntervalMs ?? 3_600_000;
  const retryMs = opts.retryMs ?? 5000;
  const chunkRows = Math.max(1, opts.chunkRows ?? 64);
  const prices = new PriceTable(cfg.prices);
  const budgets = new BudgetCounters();

  const mWritten = metric(opts.registry, 'relay_ledger_written_total', (registers) =>
    new Counter({ name: 'relay_ledger_written_total', help: 'Usage records written to the ledger.', registers }));
  const mDropped = metric(opts.registry, 'relay_ledger_dropped_total', (registers) =>
    new Counter({ name: 'relay_ledger_dropped_total', help: 'Usage records not written, by reason (overflow, unavailable, invalid).', labelNames: ['reason'] as const, registers }));
  const mDegraded = metric(opts.registry, 'relay_ledger_degraded', (registers) =>
    new Gauge({ name: 'relay_ledger_degraded', help: '1 when the usage ledger cannot write (see the admin status for the reason).', registers }));
  const mQueued = metric(opts.registry, 'relay_ledger_queued', (registers) =>
    new Gauge({ name: 'relay_ledger_queued', help: 'Usage records waiting to be written.', registers }));

  let state: LedgerStatus['state'] = cfg.enabled ? 'ok' : 'disabled';
  let reason: string | undefined;
  let written = 0;
  let dropped = 0;
  let closed = false;
  let queue: UsageRecord[] = [];

  let db: Database.Database | null = null;
  let reader: Database.Database | null = null;
  let insertBatch: ((rows: UsageRecord[]) => number) | null = null;
  let queries: UsageQueries | null = null;

  let flushTimer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let retentionTimer: NodeJS.Timeout | null = null;
  let retentionRun: Promise<number> | null = null;
  let lastOverflowLog = 0;
  let overflowSinceLog = 0;

  const setDegraded = (why: string): void => {
    if (state !== 'degraded' || reason !== why) log.warn({ dbPath: opts.dbPath, reason: why }, 'usage ledger degraded');
    state = 'degraded';
    reason = why;
    mDegraded.set(1);
  };
  const setOk = (): void => {
    if (state === 'degraded') log.info({ dbPath: opts.dbPath }, 'usage ledger recovered');
    state = 'ok';
    reason = undefined;
    mDegraded.set(0);
  };

  const drop = (n: number, why: 'overflow' | 'unavailable' | 'invalid'): void => {
    if (n <= 0) return;
    dropped += n;
    mDropped.inc({ reason: why }, n);
    if (why === 'overflow') {
      overflowSinceLog += n;
      const now = clock.now();
      // Rate-limited: a flood of overflows must not become a flood of log lines.
      if (now - lastOverflowLog >= OVERFLOW_LOG_EVERY_MS) {
        log.warn({ dropped: overflowSinceLog, queueMax: cfg.queueMax }, 'usage ledger queue full: records dropped');
        lastOverflowLog = now;
        overflowSinceLog = 0;
      }
    }
  };

  const closeHandles = (): void => {
    try { reader?.close(); } catch { /* already closed */ }
    try { db?.close(); } catch { /* already closed */ }
    reader = null;
    db = null;
    insertBatch = null;
    queries = null;
  };

  /** Open, configure and migrate. On failure: degraded, and a retry when the cause may pass. */
  const open = (): void => {
    try {
      mkdirSync(dirname(opts.dbPath), { recursive: true, mode: 0o700 });
      // Usage history is private, like the other data-dir files: 0600 before SQLite opens it (the
      // WAL and shared-memory files SQLite creates take the database file's mode).
      if (!existsSync(opts.dbPath)) closeSync(openSync(opts.dbPath, 'a', 0o600));
      else if (process.platform !== 'win32') chmodSync(opts.dbPath, 0o600);
      const w = new Database(opts.dbPath, { timeout: busyTimeoutMs });
      db = w;
      w.pragma('journal_mode = WAL');
      w.pragma('synchronous = NORMAL');
      w.pragma(`busy_timeout = ${busyTimeoutMs}`);
      // Reading the schema fails fast on a file that is not a database.
      migrate(w);
      w.pragma('analysis_limit = 1000');
      w.pragma('optimize = 0x10002');
      const write = batchWriter(w);
      insertBatch = (rows: UsageRecord[]) => {
        const now = clock.now();
        const params: Array<Record<string, unknown>> = [];
        for (const r of rows) {
          try {
            params.push(toRowParams(r, prices, now));
          } catch (e) {
            // A malformed record is dropped alone; it must not block the batch forever.
            drop(1, 'invalid');
            log.warn({ err: e instanceof Error ? e.message : String(e) }, 'usage ledger: malformed record dropped');
          }
        }
        if (params.length) write(params);
        return params.length;
      };
      const r = new Database(opts.dbPath, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
      reader = r;
      r.pragma(`busy_timeout = ${busyTimeoutMs}`);
      queries = new UsageQueries(r, opts.exactPercentileRows);
      seedBudgets(w);
      setOk();
      log.debug({ dbPath: opts.dbPath }, 'usage ledger open');
      schedule();
      scheduleRetention(60_000);
    } catch (e) {
      closeHandles();
      const d = describe(e);
      setDegraded(d.reason);
      if (d.retry && !closed) {
        retryTimer = clock.setTimeout(() => {
          retryTimer = null;
          if (!closed && !db) open();
        }, retryMs);
        retryTimer.unref?.();
      }
    }
  };

  const seedBudgets = (w: Database.Database): void => {
    const now = clock.now();
    const day = utcDay(now);
    // From the hourly rollup: a few rows per hour of today rather than every request.
    const rows = w
      .prepare('SELECT api_key_id AS k, SUM(prompt_tokens + completion_tokens) AS t FROM usage_hourly WHERE t >= ? GROUP BY api_key_id')
      .all(day * DAY) as Array<{ k: string; t: number }>;
    const seeded = new Map<string, number>();
    for (const r of rows) seeded.set(r.k, Math.max(r.t, budgets.tokensToday(r.k, now)));
    budgets.seed(day, seeded);
  };

  /** Write one batch. Returns false when the database refused it (the batch stays queued). */
  const writeBatch = (limit = cfg.batchSize): boolean => {
    if (!insertBatch || !queue.length) return true;
    const batch = queue.length <= limit ? queue : queue.slice(0, limit);
    let n: number;
    try {
      n = insertBatch(batch);
    } catch (e) {
      const d = describe(e);
      setDegraded(d.reason);
      log.warn({ err: d.reason, batch: batch.length }, 'usage ledger write failed; will retry');
      return false;
    }
    queue = batch === queue ? [] : queue.slice(batch.length);
    written += n;
    mWritten.inc(n);
    mQueued.set(queue.length);
    if (state === 'degraded') setOk();
    return true;
  };

  // Rows still to write in the flush under way: a flush takes the rows queued when it starts and
  // writes them a chunk per event-loop turn; rows that arrive meanwhile wait for the next flush.
  let due = 0;

  const tick = (): void => {
    flushTimer = null;
    immediate = null;
    if (due <= 0) due = queue.length;
    const before = queue.length;
    if (!writeBatch(Math.min(chunkRows, Math.max(1, due)))) {
      if (!closed && !retryTimer) {
        retryTimer = clock.setTimeout(() => {
          retryTimer = null;
          tick();
        }, retryMs);
        retryTimer.unref?.();
      }
      return;
    }
    due -= before - queue.length;
    if (due > 0 && queue.length && !closed) {
      immediate = setImmediate(tick);
      return;
    }
    due = 0;
    schedule();
  };

  const schedule = (): void => {
    if (closed || !insertBatch || !queue.length || retryTimer || due > 0) return;
    if (queue.length >= cfg.batchSize) {
      if (flushTimer) {
        clock.clearTimeout(flushTimer);
        flushTimer = null;
      }
      if (!immediate) immediate = setImmediate(tick);
    } else if (!flushTimer && !immediate) {
      flushTimer = clock.setTimeout(tick, cfg.flushIntervalMs);
      flushTimer.unref?.();
    }
  };

  const record = (rec: UsageRecord): void => {
    try {
      const tokens = (rec.promptTokens ?? 0) + (rec.completionTokens ?? 0);
      if (rec.apiKeyId) budgets.addTokens(rec.apiKeyId, tokens, rec.receivedAt ?? clock.now());
      if (state === 'disabled') return;
      if (closed || !db) {
        drop(1, 'unavailable');
        return;
      }
      if (queue.length >= cfg.queueMax) {
        drop(1, 'overflow');
        return;
      }
      queue.push(rec);
      mQueued.set(queue.length);
      schedule();
    } catch (e) {
      // Never let bookkeeping break a request.
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'usage ledger record failed');
    }
  };

  const flush = async (): Promise<void> => {
    while (queue.length && insertBatch) {
      if (!writeBatch()) return;
      // Yield between batches so a big backlog does not stall the event loop.
      if (queue.length) await new Promise<void>((r) => setImmediate(r));
    }
  };

  const runRetention = (): Promise<number> => {
    if (retentionRun) return retentionRun;
    retentionRun = (async () => {
      let total = 0;
      try {
        // Cut at a UTC day boundary so the rows and the hourly/daily rollups always cover the same time.
        const cutoff = Math.floor((clock.now() - cfg.retentionDays * DAY) / DAY) * DAY;
        for (const table of ['usage', 'usage_hourly', 'usage_daily', 'latency_daily']) {
          const sql = table === 'usage'
            ? 'DELETE FROM usage WHERE id IN (SELECT id FROM usage WHERE received_at < ? LIMIT ?)'
            // Rollups and histograms: one period (hour or day) per statement, a few thousand rows at most.
            : `DELETE FROM ${table} WHERE t = (SELECT MIN(t) FROM ${table} WHERE t < ?)`;
          const del = db?.prepare(sql);
          for (;;) {
            if (!db || !del || closed) break;
            const n = table === 'usage' ? del.run(cutoff, retentionBatch).changes : del.run(cutoff).changes;
            if (table === 'usage') total += n;
            if (table === 'usage' ? n < retentionBatch : n === 0) break;
            // Small batches with a yield between them: the writer never waits behind a long delete.
            await new Promise<void>((r) => setImmediate(r));
          }
        }
        if (total) log.info({ deleted: total, retentionDays: cfg.retentionDays }, 'usage ledger retention');
      } catch (e) {
        log.warn({ err: describe(e).reason }, 'usage ledger retention failed; will retry later');
      } finally {
        retentionRun = null;
      }
      return total;
    })();
    return retentionRun;
  };

  const scheduleRetention = (delay: number): void => {
    if (closed || retentionTimer) return;
    retentionTimer = clock.setTimeout(() => {
      retentionTimer = null;
      void runRetention().finally(() => scheduleRetention(retentionIntervalMs));
    }, delay);
    retentionTimer.unref?.();
  };

  const needQueries = (): UsageQueries => {
    if (state === 'disabled') throw errors.unavailable('The usage ledger is disabled (ledger.enabled: false).', { code: 'ledger_disabled', retryable: false });
    if (!queries) throw errors.unavailable(`The usage ledger is unavailable: ${reason ?? 'not open'}.`, { code: 'ledger_unavailable', retryable: false });
    return queries;
  };

  if (cfg.enabled) open();

  return {
    record,
    checkBudget(keyId: string, limits: KeyLimits | undefined, now: number): void {
      if (!limits) return;
      if (state === 'degraded' && cfg.onDegraded === 'closed' && (limits.rpm !== undefined || limits.tokensPerDay !== undefined)) {
        throw errors.rateLimited('Usage ledger unavailable: budgets cannot be checked, so this key is refused for now.', retryMs / 1000, 'ledger_unavailable');
      }
      budgets.check(keyId, limits, now);
    },
    flush,
    async close(): Promise<void> {
      if (closed) return;
      await flush();
      closed = true;
      for (const t of [flushTimer, retryTimer, retentionTimer]) if (t) clock.clearTimeout(t);
      if (immediate) clearImmediate(immediate);
      flushTimer = retryTimer = retentionTimer = null;
      immediate = null;
      if (queue.length) {
        log.warn({ lost: queue.length, reason }, 'usage ledger closing with unwritten records');
        drop(queue.length, 'unavailable');
        queue = [];
        mQueued.set(0);
      }
      try { db?.pragma('optimize'); } catch { /* best effort */ }
      closeHandles();
    },
    status(): LedgerStatus {
      return { state, ...(reason ? { reason } : {}), queued: queue.length, written, dropped, dbPath: opts.dbPath };
    },
    runRetention,
    totals: (q) => needQueries().totals(q),
    series: (q) => needQueries().series(q),
    latency: (q) => needQueries().latency(q),
    recent: (q) => needQueries().recent(q),
    exportCsv: (q) => needQueries().exportCsv(q),
  };
}
