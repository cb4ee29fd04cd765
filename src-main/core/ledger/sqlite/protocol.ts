/** Messages between the SQLite store (main thread) and its worker (./worker.ts). Type-only. */
import type { LedgerRow } from '../rows';

export type Request = { id: number } & (
  | { op: 'open'; dbPath: string; busyTimeoutMs: number }
  | { op: 'append'; rows: LedgerRow[] }
  | { op: 'deleteBefore'; cutoff: number; batchRows: number }
  | { op: 'close' }
);

export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; reason: string; retry: boolean };
