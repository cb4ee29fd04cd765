/**
 * `LedgerStore` over SQLite. Writes (commits, retention deletes, the final optimize) run in a
 * worker thread (./worker.ts) that owns the write connection, so no commit ever blocks the event
 * loop that serves requests. Reads (the dashboard's queries) run here on the main thread, on a
 * read-only connection of their own (WAL: they never wait for the writer nor hold it up).
 *
 * Where the worker's code is: builds define `__RELAY_LEDGER_WORKER__` (the file name emitted next
 * to the bundle: `ledger-worker.mjs` for the CLI, `ledger-worker.cjs` for Electron, where
 * Electron loads it from the asar archive); from source (tests, tsx) it is ./worker-shim.mjs.
 *
 * The worker is referenced (keeps the process alive) only while a call is pending, so a pending
 * final flush holds the process until it is committed, and an idle ledger never does.
 *
 * Memory: a worker thread is a V8 isolate of its own (~10 MB of RSS). After `idleMs` without a
 * call the worker closes its connection (with SQLite's `optimize`) and ends; the next write starts
 * a new one, which opens the database again first (a few ms, off the request path: writes are
 * batched behind the ledger's queue). An idle gateway holds no writer thread.
 */
import Database from 'better-sqlite3';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LedgerRow } from '../rows';
import { StoreFailure, type LedgerStore } from '../store';
import type { Reply, Request } from './protocol';
import { UsageQueries } from './queries';
import { describe } from './writer';

declare const __RELAY_LEDGER_WORKER__: string | undefined;

/** The worker's entry: next to the bundle in builds, the tsx shim beside this file from source. */
export function ledgerWorkerFile(): string | URL {
  if (typeof __RELAY_LEDGER_WORKER__ === 'string') {
    // CJS bundle (Electron): __filename is the bundle; ESM bundle (CLI): import.meta.url is.
    if (typeof __filename === 'string') return join(dirname(__filename), __RELAY_LEDGER_WORKER__);
    return new URL(`./${__RELAY_LEDGER_WORKER__}`, import.meta.url);
  }
  return new URL('./worker-shim.mjs', import.meta.url);
}

export interface SqliteStoreOptions {
  dbPath: string;
  /** How long SQLite waits on a lock before giving up (ms). */
  busyTimeoutMs: number;
  /** Ranges with more successful requests than this get histogram percentiles. */
  exactPercentileRows?: number;
  /** The worker's entry (default `ledgerWorkerFile()`). */
  workerFile?: string | URL;
  /** After this long without a call the worker closes and ends (ms; default 5000; 0: never). */
  idleMs?: number;
}

type Call = { op: Request['op'] } & Record<string, unknown>;

export function createSqliteStore(o: SqliteStoreOptions): LedgerStore {
  let worker: Worker | null = null;
  let seq = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  let reader: Database.Database | null = null;
  let queries: UsageQueries | null = null;
  let closed = false;
  /** The worker whose write connection is open: a worker started after one died must open first. */
  let openedOn: Worker | null = null;
  const idleMs = o.idleMs ?? 5000;
  let idleTimer: NodeJS.Timeout | null = null;
  /** A worker closing after being idle: settles when its thread has ended. */
  let retiring: Promise<void> | null = null;

  const clearIdle = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
  };
  /** The idle worker closes its connection and ends on its own; a later write starts another. */
  const retire = (w: Worker): void => {
    idleTimer = null;
    if (worker !== w || pending.size || closed) return;
    worker = null;
    openedOn = null;
    const done = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    retiring = done;
    void done.then(() => {
      if (retiring === done) retiring = null;
    });
    // Its reply (and a failure to close: the database is closed with the thread anyway) is not awaited.
    w.postMessage({ op: 'close', id: ++seq });
  };

  const failAll = (w: Worker, reason: string): void => {
    if (worker !== w) return;
    worker = null;
    const calls = [...pending.values()];
    pending.clear();
    for (const c of calls) c.reject(new StoreFailure(reason, true));
  };

  const start = (): Worker => {
    const w = new Worker(o.workerFile ?? ledgerWorkerFile(), { name: 'usage-ledger' });
    w.unref();
    w.on('message', (r: Reply) => {
      const c = pending.get(r.id);
      if (!c) return;
      pending.delete(r.id);
      if (!pending.size) {
        w.unref();
        if (idleMs > 0 && worker === w && !closed) {
          clearIdle();
          idleTimer = setTimeout(() => retire(w), idleMs);
          idleTimer.unref();
        }
      }
      if (r.ok) c.resolve(r.value);
      else c.reject(new StoreFailure(r.reason, r.retry));
    });
    w.on('error', (e) => failAll(w, `usage ledger worker failed: ${e instanceof Error ? e.message : String(e)}`));
    w.on('exit', (code) => failAll(w, `usage ledger worker stopped (exit code ${code})`));
    return w;
  };

  const call = <T>(req: Call): Promise<T> => new Promise<T>((resolve, reject) => {
    clearIdle();
    if (!worker) {
      try {
        worker = start();
      } catch (e) {
        reject(new StoreFailure(`usage ledger worker failed: ${e instanceof Error ? e.message : String(e)}`, true));
        return;
      }
    }
    const id = ++seq;
    pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    if (pending.size === 1) worker.ref();
    worker.postMessage({ ...req, id });
  });

  const openWorker = async (): Promise<void> => {
    await call({ op: 'open', dbPath: o.dbPath, busyTimeoutMs: o.busyTimeoutMs });
    openedOn = worker;
  };
  /** Every write goes to a worker with the database open (after a crash, a new one opens it again). */
  const writing = async <T>(req: Call): Promise<T> => {
    // A retired worker finishes its close before another opens the database.
    while (retiring && !worker) await retiring;
    if (!worker || openedOn !== worker) await openWorker();
    return call<T>(req);
  };

  const closeReader = (): void => {
    try { reader?.close(); } catch { /* already closed */ }
    reader = null;
    queries = null;
  };

  const read = (): UsageQueries => {
    if (!queries) throw new StoreFailure('usage database is not open', true);
    return queries;
  };

  return {
    location: o.dbPath,
    async open() {
      closeReader();
      await openWorker();
      try {
        const r = new Database(o.dbPath, { readonly: true, fileMustExist: true, timeout: o.busyTimeoutMs });
        reader = r;
        r.pragma(`busy_timeout = ${o.busyTimeoutMs}`);
        queries = new UsageQueries(r, o.exactPercentileRows);
      } catch (e) {
        closeReader();
        const d = describe(e);
        throw new StoreFailure(d.reason, d.retry);
      }
    },
    append: (rows: LedgerRow[]) => writing<void>({ op: 'append', rows }),
    deleteBefore: (cutoff: number, batchRows: number) => writing<number>({ op: 'deleteBefore', cutoff, batchRows }),
    async close() {
      if (closed) return;
      closed = true;
      clearIdle();
      const w = worker;
      if (w) {
        await call({ op: 'close' }).catch(() => undefined);
        await w.terminate();
      }
      await retiring;
      closeReader();
    },
    tokensByKeySince: async (since) => read().tokensByKeySince(since),
    totals: async (q) => read().totals(q),
    series: async (q) => read().series(q),
    latency: async (q) => read().latency(q),
    recent: async (q) => read().recent(q),
    exportCsv: (q) => read().exportCsv(q),
  };
}
