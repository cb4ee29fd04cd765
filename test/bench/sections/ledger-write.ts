/**
 * Ledger write cost on the main thread (the event loop that serves requests), per request:
 * - worker: the ledger as shipped (`record()` → queue → batches handed to the worker thread,
 *   which commits them);
 * - inline: what the ledger did before it had a worker: the same rows converted and committed on
 *   the main thread with the same batch writer (rows + rollups + histograms, one transaction).
 * Records arrive in bursts of 50 with the loop idle in between (a 1 ms timer). Main-thread time is
 * the event loop's active time (`performance.eventLoopUtilization`), so the worker's own commits
 * are not counted; `worst delay` is the longest the event loop was held up (monitorEventLoopDelay).
 * Run alone: `npx tsx test/bench/sections/ledger-write.ts` (LEDGER_WRITE_ROWS, default 20,000).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import pino from 'pino';
import { createLedger, PriceTable, toRowParams } from '../../../src-main/core/ledger/index';
import { migrate } from '../../../src-main/core/ledger/sqlite/schema';
import { batchWriter } from '../../../src-main/core/ledger/sqlite/writer';
import type { UsageRecord } from '../../../src-main/core/ledger/types';

const BURST = 50; // records per event-loop turn, like a busy gateway finishing requests

function record(i: number, now: number): UsageRecord {
  return {
    requestId: `w${i}`, receivedAt: now, firstByteAt: now + 3, finishedAt: now + 9, apiKeyId: `k${i % 4}`, userAgent: 'bench/1.0',
    endpoint: '/v1/chat/completions', protocol: 'openai-chat', requestedModel: 'coder', alias: 'coder', provider: 'up',
    instance: 'up', model: `m${i % 3}`, stream: i % 2 === 0, status: 200, switches: 0, switchReasons: [], sessionReuse: false,
    promptTokens: 120, completionTokens: 40, tokensEstimated: false, ttftMs: 3, totalMs: 9,
  };
}

/** Between bursts the loop idles (a 1 ms timer), so idle time is not counted as active. */
const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 1));

/** Main-thread active ms (event-loop utilization) and the worst event-loop delay while `body` runs. */
async function measure(body: () => Promise<void>): Promise<{ activeMs: number; wallMs: number; longestMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await body();
  const wallMs = performance.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  delay.disable();
  return { activeMs: elu.active, wallMs, longestMs: delay.max / 1e6 };
}

export async function run(): Promise<{ name: string; rows: Array<Record<string, string | number>>; json: unknown }> {
  const N = Number(process.env.LEDGER_WRITE_ROWS ?? (process.env.BENCH_QUICK === '1' ? 10_000 : 20_000));
  const dir = mkdtempSync(join(tmpdir(), 'relay-ledger-write-bench-'));
  const config = { enabled: true, retentionDays: 90, flushIntervalMs: 250, batchSize: 500, queueMax: 50_000, onDegraded: 'open' as const, prices: {} };
  try {
    // Worker: the shipped ledger.
    const ledger = createLedger({ dbPath: join(dir, 'worker.db'), config, log: pino({ level: 'silent' }) });
    await ledger.ready();
    const now = Date.now();
    const worker = await measure(async () => {
      for (let i = 0; i < N; i++) {
        ledger.record(record(i, now));
        if (i % BURST === BURST - 1) await pause();
      }
      await ledger.flush();
    });
    const status = ledger.status();
    await ledger.close();

    // Inline: the pre-worker path, same rows and batch writer on this thread (a batch per 500 rows).
    const db = new Database(join(dir, 'inline.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db);
    const write = batchWriter(db);
    const prices = new PriceTable({});
    const inline = await measure(async () => {
      let queue: UsageRecord[] = [];
      for (let i = 0; i < N; i++) {
        queue.push(record(i, now));
        if (queue.length >= config.batchSize) {
          write(queue.map((r) => toRowParams(r, prices, now)));
          queue = [];
        }
        if (i % BURST === BURST - 1) await pause();
      }
      if (queue.length) write(queue.map((r) => toRowParams(r, prices, now)));
    });
    db.close();

    const us = (ms: number): number => Math.round((ms * 1000 * 100) / N) / 100;
    const row = (mode: string, m: { activeMs: number; wallMs: number; longestMs: number }, detail: string) => ({
      mode, 'main µs/request': us(m.activeMs), 'worst delay ms': Math.round(m.longestMs * 100) / 100, 'wall ms': Math.round(m.wallMs), detail,
    });
    const rows = [
      row('worker (shipped)', worker, `${status.written} rows written, ${status.dropped} dropped`),
      row('inline (before)', inline, `${N} rows committed on the main thread`),
    ];
    return { name: 'ledger-write', rows, json: { rows: N, burst: BURST, worker, inline, written: status.written } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then((r) => console.table(r.rows), (e) => { console.error(e); process.exit(1); });
}
