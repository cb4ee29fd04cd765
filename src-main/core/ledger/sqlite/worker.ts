/**
 * The ledger's worker thread: owns the SQLite write connection and runs every commit, retention
 * delete and the final `optimize` off the main event loop. Messages are handled one at a time in
 * arrival order (a retention run yields between its batches, so appends get through meanwhile).
 *
 * Loaded as `ledger-worker.mjs` next to the CLI bundle, `ledger-worker.cjs` next to the Electron
 * main bundle (both emitted by the build scripts from this file), or from source through
 * `worker-shim.mjs` (tests, tsx). Protocol: `./protocol.ts`.
 */
import { parentPort } from 'node:worker_threads';
import type { Reply, Request } from './protocol';
import { describe, openWriter, type SqliteWriter } from './writer';

const port = parentPort;
if (!port) throw new Error('the usage ledger worker must run in a worker thread');

let writer: SqliteWriter | null = null;

const handle = async (m: Request): Promise<unknown> => {
  switch (m.op) {
    case 'open':
      writer?.close();
      writer = null;
      writer = openWriter(m.dbPath, m.busyTimeoutMs);
      return undefined;
    case 'append':
      if (!writer) throw new Error('usage database is not open');
      writer.append(m.rows);
      return undefined;
    case 'deleteBefore':
      if (!writer) throw new Error('usage database is not open');
      return writer.deleteBefore(m.cutoff, m.batchRows);
    case 'close':
      writer?.close();
      writer = null;
      return undefined;
  }
};

port.on('message', (m: Request) => {
  void handle(m).then(
    (value) => port.postMessage({ id: m.id, ok: true, value } satisfies Reply),
    (e: unknown) => port.postMessage({ id: m.id, ok: false, ...describe(e) } satisfies Reply),
  ).then(() => {
    // After the final close, let the thread end on its own (nothing else keeps it alive).
    if (m.op === 'close') port.close();
  });
});
