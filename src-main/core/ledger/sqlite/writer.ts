/**
 * The SQLite write side: open (0600 file, WAL, synchronous=NORMAL, busy timeout, migrations),
 * commit batches (rows + hourly/daily rollups + latency histograms in one transaction), delete old
 * data in small batches, close. It runs inside the ledger's worker thread (./worker.ts), so no
 * commit ever runs on the event loop that serves requests; the bench loads rows with it directly.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { DAY, HOUR, latencyBins, rollUp, type LedgerRow } from '../rows';
import { camel, LATENCY_CONFLICT_SQL, RETENTION_SQL, ROLLUP_KEY, ROLLUP_SUMS, rollupConflictSql, USAGE_COLUMNS } from '../sql';
import { migrate } from './schema';

export const INSERT_SQL = `INSERT INTO usage (${USAGE_COLUMNS.join(', ')})
VALUES (${USAGE_COLUMNS.map((c) => `@${camel(c)}`).join(', ')})`;

const rollupSql = (table: string): string => `INSERT INTO ${table} (${[...ROLLUP_KEY, ...ROLLUP_SUMS].join(', ')})
VALUES (${[...ROLLUP_KEY, ...ROLLUP_SUMS].map((c) => `@${camel(c)}`).join(', ')})
${rollupConflictSql(table)}`;

/** Prepared statements that write one batch: the rows, both rollups and the latency histograms, in one transaction. */
export function batchWriter(db: Database.Database): (rows: LedgerRow[]) => void {
  const ins = db.prepare(INSERT_SQL);
  const hourly = db.prepare(rollupSql('usage_hourly'));
  const daily = db.prepare(rollupSql('usage_daily'));
  const latency = db.prepare(`INSERT INTO latency_daily (t, label, kind, bucket, n) VALUES (?, ?, ?, ?, ?) ${LATENCY_CONFLICT_SQL}`);
  return db.transaction((rows: LedgerRow[]) => {
    for (const p of rows) ins.run(p);
    for (const r of rollUp(rows, HOUR)) hourly.run(r);
    for (const r of rollUp(rows, DAY)) daily.run(r);
    for (const b of latencyBins(rows)) latency.run(b);
  });
}

/** A SQLite error as a reason for people, and whether retrying later may help. */
export function describe(e: unknown): { reason: string; retry: boolean } {
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

export interface SqliteWriter {
  append(rows: LedgerRow[]): void;
  deleteBefore(cutoff: number, batchRows: number): Promise<number>;
  close(): void;
}

/** Open, configure and migrate the database for writing. Throws (a SQLite error) when it cannot. */
export function openWriter(dbPath: string, busyTimeoutMs: number): SqliteWriter {
  mkdirSync(dirname(dbPath), { recursive: true, mode: 0o700 });
  // Usage history is private, like the other data-dir files: 0600 before SQLite opens it (the
  // WAL and shared-memory files SQLite creates take the database file's mode).
  if (!existsSync(dbPath)) closeSync(openSync(dbPath, 'a', 0o600));
  else if (process.platform !== 'win32') chmodSync(dbPath, 0o600);
  const db = new Database(dbPath, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // Reading the schema fails fast on a file that is not a database.
    migrate(db);
    db.pragma('analysis_limit = 1000');
    db.pragma('optimize = 0x10002');
  } catch (e) {
    db.close();
    throw e;
  }
  const write = batchWriter(db);
  let closed = false;
  return {
    append: write,
    async deleteBefore(cutoff, batchRows) {
      let total = 0;
      for (const { sql, batched } of RETENTION_SQL) {
        const del = db.prepare(sql);
        for (;;) {
          if (closed) return total;
          const n = del.run(batched ? { cutoff, batch: batchRows } : { cutoff }).changes;
          if (batched) total += n;
          if (batched ? n < batchRows : n === 0) break;
          // Small batches with a turn between them: appends waiting in the worker's queue get through.
          await new Promise<void>((r) => setImmediate(r));
        }
      }
      return total;
    },
    close() {
      if (closed) return;
      closed = true;
      try { db.pragma('optimize'); } catch { /* best effort */ }
      db.close();
    },
  };
}
