/**
 * The usage ledger: one row per client request, written off the hot path, over a `LedgerStore`
 * (./store.ts; SQLite by default, ./sqlite/store.ts, whose commits run in a worker thread).
 *
 * `record()` only counts budgets and pushes onto a bounded in-memory queue. A flusher hands the
 * store one batch of up to `batchSize` rows at a time (rows + rollups + histograms, one
 * transaction), every `flushIntervalMs` or at once when a full batch waits; the next batch goes
 * when the store confirmed the commit.
 *
 * What a crash can lose: only records not yet committed: those queued since the last batch and
 * the batch being committed (`status().queued` counts both), never older than about
 * `flushIntervalMs` plus one commit (defaults: 500 records / 250 ms). While the store refuses
 * writes the queue keeps up to `queueMax` records for retry. A graceful stop (`flush()`/`close()`,
 * awaited on SIGTERM and app quit) loses nothing. SQLite: WAL + synchronous=NORMAL: a committed
 * batch survives a process crash; an OS crash or power cut can also lose the last batches.
 *
 * A store that cannot open (corrupt, locked, newer schema, worker not loadable, server away) or
 * stops accepting writes makes the ledger `degraded` with a reason; the gateway keeps serving,
 * records are kept queued, up to `queueMax`, while the cause may pass (writes failing at run time,
 * a lock or an unreachable server at open: opened again every `retryMs`), else counted as dropped, and
 * budgets keep counting in memory (`ledger.onDegraded` decides whether they still admit).
 */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Config } from '../config/schema';
import { errors } from '../errors';
import { systemClock, type Clock } from '../ports';
import { BudgetCounters, utcDay, type KeyLimits } from './budget';
import { PriceTable } from './prices';
import { DAY, toRowParams, type LedgerRow } from './rows';
import { createSqliteStore } from './sqlite/store';
import { StoreFailure, type LedgerStore } from './store';
import type { Ledger, LedgerStatus, UsageRecord } from './types';

export type { Ledger, LedgerStatus, UsageRecord } from './types';
export type { LedgerStore } from './store';
export { StoreFailure } from './store';
export { parseExpiry } from './budget';
export { PriceTable } from './prices';
export { labelOf, toRowParams, type LedgerRow } from './rows';

export interface LedgerOptions {
  dbPath: string;
  config: Config['ledger'];
  log: Logger;
  registry?: Registry;
  clock?: Clock;
  /** The engine (default: SQLite at `dbPath`, writing in a worker thread). */
  store?: LedgerStore;
  /** How long SQLite waits on a lock before giving up (ms). Default 5000. */
  busyTimeoutMs?: number;
  /** Rows deleted per retention statement. Default 1000. */
  retentionBatch?: number;
  /** How often retention runs (ms). Default one hour; the first run is a minute after start. */
  retentionIntervalMs?: number;
  /** Retry delay after a failed write or a locked database at start (ms). Default 5000. */
  retryMs?: number;
  /** Ranges with more successful requests than this get histogram percentiles. Default 100000. */
  exactPercentileRows?: number;
}

const OVERFLOW_LOG_EVERY_MS = 10_000;

function metric<T>(registry: Registry | undefined, name: string, make: (registers: Registry[]) => T): T {
  const existing = registry?.getSingleMetric(name);
  if (existing) return existing as unknown as T;
  return make(registry ? [registry] : []);
}

const failure = (e: unknown): StoreFailure =>
  e instanceof StoreFailure ? e : new StoreFailure(`usage database error: ${e instanceof Error ? e.message : String(e)}`, false);

export function createLedger(opts: LedgerOptions): Ledger {
  const cfg = opts.config;
  const clock = opts.clock ?? systemClock;
  const log = opts.log;
  const retentionBatch = opts.retentionBatch ?? 1000;
  const retentionIntervalMs = opts.retentionIntervalMs ?? 3_600_000;
  const retryMs = opts.retryMs ?? 5000;
  const prices = new PriceTable(cfg.prices);
  const budgets = new BudgetCounters();
  const store: LedgerStore | null = !cfg.enabled
    ? null
    : (opts.store ?? createSqliteStore({ dbPath: opts.dbPath, busyTimeoutMs: opts.busyTimeoutMs ?? 5000, exactPercentileRows: opts.exactPercentileRows }));
  const location = store?.location ?? opts.dbPath;

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
  /** opening: first open under way (records queue); open; unavailable: open failed (records drop). */
  let phase: 'opening' | 'open' | 'unavailable' = 'opening';
  /** While unavailable: the store will be opened again (records queue meanwhile, up to queueMax). */
  let reopens = false;
  let written = 0;
  let dropped = 0;
  let closed = false;
  let queue: UsageRecord[] = [];
  /** The batch handed to the store, kept until it is committed (sent again after a failure). */
  let inFlight: LedgerRow[] | null = null;
  let writing: Promise<void> | null = null;

  let flushTimer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let retentionTimer: NodeJS.Timeout | null = null;
  let retentionRun: Promise<number> | null = null;
  let closing: Promise<void> | null = null;
  let lastOverflowLog = 0;
  let overflowSinceLog = 0;

  const writtenListeners = new Set<(requestIds: string[], at: number) => void>();
  /** A listener's failure is logged, never the batch's. */
  const tellWritten = (rows: LedgerRow[], at = clock.now()): void => {
    for (const l of writtenListeners) {
      try { l(rows.map((r) => r.requestId), at); } catch (e) { log.warn({ err: e instanceof Error ? e.message : String(e) }, 'usage ledger: a written-batch listener failed'); }
    }
  };

  const queued = (): number => queue.length + (inFlight?.length ?? 0);

  const setDegraded = (why: string): void => {
    if (state !== 'degraded' || reason !== why) log.warn({ location, reason: why }, 'usage ledger degraded');
    state = 'degraded';
    reason = why;
    mDegraded.set(1);
  };
  const setOk = (): void => {
    if (state === 'degraded') log.info({ location }, 'usage ledger recovered');
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

  /** Open the store and seed today's budgets from it; on failure: degraded, and a retry when the cause may pass. */
  const openStore = async (s: LedgerStore): Promise<void> => {
    try {
      await s.open();
      const day = utcDay(clock.now());
      budgets.addSeed(day, await s.tokensByKeySince(day * DAY));
      if (closed) return;
      phase = 'open';
      setOk();
      log.debug({ location }, 'usage ledger open');
      schedule();
      scheduleRetention(60_000);
    } catch (e) {
      const f = failure(e);
      phase = 'unavailable';
      reopens = f.retry && !closed;
      setDegraded(f.reason);
      // A cause that may pass (lock, server away): records stay queued (bounded) for the next
      // open. Otherwise what waited for the open cannot be written.
      if (!reopens) {
        drop(queue.length, 'unavailable');
        queue = [];
        mQueued.set(0);
      }
      if (f.retry && !closed) {
        retryTimer = clock.setTimeout(() => {
          retryTimer = null;
          if (!closed && phase !== 'open') opening = openStore(s);
        }, retryMs);
        retryTimer.unref?.();
      }
    }
  };
  let opening: Promise<void> = store ? openStore(store) : Promise.resolve();
  const firstOpen = opening;

  /** Convert records to rows; a malformed record is dropped alone, it must not block the batch forever. */
  const toRows = (batch: UsageRecord[]): LedgerRow[] => {
    const now = clock.now();
    const rows: LedgerRow[] = [];
    for (const r of batch) {
      try {
        rows.push(toRowParams(r, prices, now));
      } catch (e) {
        drop(1, 'invalid');
        log.warn({ err: e instanceof Error ? e.message : String(e) }, 'usage ledger: malformed record dropped');
      }
    }
    return rows;
  };

  /** Hand the store the next batch (the unconfirmed one first), unless a write is under way or failing. */
  const pump = (): void => {
    if (flushTimer) clock.clearTimeout(flushTimer);
    if (immediate) clearImmediate(immediate);
    flushTimer = null;
    immediate = null;
    if (!store || phase !== 'open' || writing || retryTimer) return;
    while (!inFlight && queue.length) {
      const batch = queue.length <= cfg.batchSize ? queue : queue.slice(0, cfg.batchSize);
      queue = batch === queue ? [] : queue.slice(batch.length);
      const rows = toRows(batch);
      if (rows.length) inFlight = rows;
    }
    const rows = inFlight;
    if (!rows) return;
    writing = store.append(rows).then(
      () => {
        writing = null;
        inFlight = null;
        written += rows.length;
        mWritten.inc(rows.length);
        mQueued.set(queued());
        if (state === 'degraded') setOk();
        tellWritten(rows);
        schedule();
      },
      (e: unknown) => {
        writing = null;
        const f = failure(e);
        setDegraded(f.reason);
        log.warn({ err: f.reason, batch: rows.length }, 'usage ledger write failed; will retry');
        if (!closed && !retryTimer) {
          retryTimer = clock.setTimeout(() => {
            retryTimer = null;
            pump();
          }, retryMs);
          retryTimer.unref?.();
        }
      },
    );
  };

  const schedule = (): void => {
    if (closed || phase !== 'open' || writing || retryTimer || !queued()) return;
    if (inFlight || queue.length >= cfg.batchSize) {
      if (flushTimer) {
        clock.clearTimeout(flushTimer);
        flushTimer = null;
      }
      if (!immediate) immediate = setImmediate(pump);
    } else if (!flushTimer && !immediate) {
      flushTimer = clock.setTimeout(pump, cfg.flushIntervalMs);
      flushTimer.unref?.();
    }
  };

  const record = (rec: UsageRecord): void => {
    try {
      const tokens = (rec.promptTokens ?? 0) + (rec.completionTokens ?? 0);
      if (rec.apiKeyId) budgets.addTokens(rec.apiKeyId, tokens, rec.receivedAt ?? clock.now());
      if (state === 'disabled') return;
      if (closed || (phase === 'unavailable' && !reopens)) {
        drop(1, 'unavailable');
        return;
      }
      if (queued() >= cfg.queueMax) {
        drop(1, 'overflow');
        return;
      }
      queue.push(rec);
      mQueued.set(queued());
      schedule();
    } catch (e) {
      // Never let bookkeeping break a request.
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'usage ledger record failed');
    }
  };

  /** Until everything queued so far is committed, or the store refuses it (then it stays queued). */
  const flush = async (): Promise<void> => {
    // (No await while open: the next batch is handed over before this returns.)
    if (phase !== 'open') await opening;
    for (;;) {
      if (writing) {
        await writing;
        continue;
      }
      if (phase !== 'open' || retryTimer || !queued()) return;
      pump();
      if (!writing) return;
    }
  };

  const runRetention = (): Promise<number> => {
    if (retentionRun) return retentionRun;
    if (!store || phase !== 'open' || closed) return Promise.resolve(0);
    // Cut at a UTC day boundary so the rows and the hourly/daily rollups always cover the same time.
    const cutoff = Math.floor((clock.now() - cfg.retentionDays * DAY) / DAY) * DAY;
    const run = store.deleteBefore(cutoff, retentionBatch).then(
      (n) => {
        if (n) log.info({ deleted: n, retentionDays: cfg.retentionDays }, 'usage ledger retention');
        return n;
      },
      (e: unknown) => {
        log.warn({ err: failure(e).reason }, 'usage ledger retention failed; will retry later');
        return 0;
      },
    ).finally(() => {
      retentionRun = null;
    });
    retentionRun = run;
    return run;
  };

  const scheduleRetention = (delay: number): void => {
    if (closed || retentionTimer) return;
    retentionTimer = clock.setTimeout(() => {
      retentionTimer = null;
      void runRetention().finally(() => scheduleRetention(retentionIntervalMs));
    }, delay);
    retentionTimer.unref?.();
  };

  /** The store, once open; a RelayError naming why not otherwise. */
  const readable = (): LedgerStore => {
    if (!store) throw errors.unavailable('The usage ledger is disabled (ledger.enabled: false).', { code: 'ledger_disabled', retryable: false });
    if (phase !== 'open' || closed) throw errors.unavailable(`The usage ledger is unavailable: ${reason ?? (closed ? 'closed' : 'not open')}.`, { code: 'ledger_unavailable', retryable: false });
    return store;
  };
  const reads = async (): Promise<LedgerStore> => {
    if (store && phase === 'opening') await opening;
    return readable();
  };

  const close = async (): Promise<void> => {
    await opening;
    // One more attempt for what waits on a failed write: a stop should lose nothing it can keep.
    if (retryTimer) {
      clock.clearTimeout(retryTimer);
      retryTimer = null;
    }
    await flush();
    closed = true;
    for (const t of [flushTimer, retryTimer, retentionTimer]) if (t) clock.clearTimeout(t);
    if (immediate) clearImmediate(immediate);
    flushTimer = retryTimer = retentionTimer = null;
    immediate = null;
    if (queued()) {
      log.warn({ lost: queued(), reason }, 'usage ledger closing with unwritten records');
      drop(queued(), 'unavailable');
      queue = [];
      inFlight = null;
      mQueued.set(0);
    }
    await store?.close();
  };

  return {
    record,
    checkBudget(keyId: string, limits: KeyLimits | undefined, now: number): void {
      if (!limits) return;
      if (state === 'degraded' && cfg.onDegraded === 'closed' && (limits.rpm !== undefined || limits.tokensPerDay !== undefined)) {
        throw errors.rateLimited('Usage ledger unavailable: budgets cannot be checked, so this key is refused for now.', retryMs / 1000, 'ledger_unavailable');
      }
      budgets.check(keyId, limits, now);
    },
    ready: () => firstOpen,
    flush,
    onWritten(listener) {
      writtenListeners.add(listener);
      return () => writtenListeners.delete(listener);
    },
    close(): Promise<void> {
      closing ??= close();
      return closing;
    },
    status(): LedgerStatus {
      return { state, ...(reason ? { reason } : {}), queued: queued(), written, dropped, dbPath: location };
    },
    runRetention,
    totals: async (q) => (await reads()).totals(q),
    series: async (q) => (await reads()).series(q),
    latency: async (q) => (await reads()).latency(q),
    recent: async (q) => (await reads()).recent(q),
    exportCsv(q) {
      // Refuses at once (before any byte is sent) when the ledger is disabled or unavailable.
      if (phase !== 'opening') return readable().exportCsv(q);
      return (async function* () {
        yield* (await reads()).exportCsv(q);
      })();
    },
  };
}
