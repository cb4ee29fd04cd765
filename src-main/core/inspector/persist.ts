/**
 * The inspector's SQLite file (`<data dir>/inspector.db`, 0600), used only with
 * `inspector.persist: true`. Captures are already redacted when they get here. Writes are batched
 * (one transaction per event-loop turn), retention (`retentionDays`) and the size cap
 * (`maxDbBytes`, oldest first) are enforced on open and then every few minutes; deleted rows are
 * overwritten (`secure_delete`).
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { Capture, CaptureSummary } from './types';

export interface CaptureQuery {
  status?: number | 'ok' | 'error';
  model?: string;
  instance?: string;
  key?: string;
  q?: string;
  limit: number;
  /** Only requests received before this time (ms), for paging. */
  before?: number;
}

export interface CaptureDb {
  put(c: Capture): void;
  get(id: string): Capture | undefined;
  list(q: CaptureQuery, match: (c: Capture) => boolean): CaptureSummary[];
  prune(now: number): void;
  close(): void;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS captures (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  bytes INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_request ON captures (request_id, received_at);
CREATE INDEX IF NOT EXISTS captures_time ON captures (received_at);
`;

export function openCaptureDb(path: string, opts: { retentionDays: number; maxDbBytes: number; now: () => number }): CaptureDb {
  // SECURITY: created owner-only before SQLite opens it (its journal inherits the mode).
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  else if (process.platform !== 'win32') chmodSync(path, 0o600);
  const db = new Database(path);
  db.pragma('secure_delete = ON');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  const insert = db.prepare('INSERT OR REPLACE INTO captures (id, request_id, received_at, bytes, body) VALUES (?, ?, ?, ?, ?)');
  const byId = db.prepare('SELECT body FROM captures WHERE id = ? OR request_id = ? ORDER BY received_at DESC LIMIT 1');
  const total = db.prepare('SELECT COALESCE(SUM(bytes), 0) AS n FROM captures');
  const oldest = db.prepare('SELECT id, bytes FROM captures ORDER BY received_at ASC LIMIT 200');
  const del = db.prepare('DELETE FROM captures WHERE id = ?');
  const expire = db.prepare('DELETE FROM captures WHERE received_at < ?');

  let pending: Capture[] = [];
  let scheduled = false;
  let writes = 0;
  const writeAll = db.transaction((rows: Capture[]) => {
    for (const c of rows) {
      const body = JSON.stringify(c);
      insert.run(c.id, c.requestId, c.receivedAt, Buffer.byteLength(body), body);
    }
  });
  const flush = (): void => {
    scheduled = false;
    if (!pending.length) return;
    const rows = pending;
    pending = [];
    writeAll(rows);
    writes += rows.length;
    if (writes >= 200) api.prune(opts.now());
  };

  const api: CaptureDb = {
    put(c) {
      pending.push(c);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    get(id) {
      flush();
      const row = byId.get(id, id) as { body: string } | undefined;
      return row ? (JSON.parse(row.body) as Capture) : undefined;
    },
    list(q, match) {
      flush();
      const out: CaptureSummary[] = [];
      let before = q.before ?? Number.MAX_SAFE_INTEGER;
      // Newest first, a page at a time, until `limit` match (filters run on the parsed capture).
      for (let pages = 0; out.length < q.limit && pages < 50; pages++) {
        const rows = db.prepare('SELECT body, received_at FROM captures WHERE received_at < ? ORDER BY received_at DESC LIMIT 500').all(before) as Array<{ body: string; received_at: number }>;
        if (!rows.length) break;
        for (const r of rows) {
          const c = JSON.parse(r.body) as Capture;
          if (match(c)) out.push(summary(c));
          if (out.length >= q.limit) break;
        }
        before = rows[rows.length - 1].received_at;
      }
      return out;
    },
    prune(now) {
      writes = 0;
      expire.run(now - opts.retentionDays * 86_400_000);
      let size = (total.get() as { n: number }).n;
      while (size > opts.maxDbBytes) {
        const rows = oldest.all() as Array<{ id: string; bytes: number }>;
        if (!rows.length) break;
        for (const r of rows) {
          if (size <= opts.maxDbBytes) break;
          del.run(r.id);
          size -= r.bytes;
        }
      }
    },
    close() {
      flush();
      db.close();
    },
  };
  api.prune(opts.now());
  return api;
}

/** The list row of a capture (its bodies left out). */
export function summary(c: Capture): CaptureSummary {
  const { request: _r, response: _a, upstream: _u, error: _e, timeline: _t, userAgent: _ua, ...s } = c;
  return s;
}
