/**
 * Ledger benchmark: bulk-load 1,000,000 usage rows (30 days, 8 models, 6 instances, 5 keys) into a
 * temp database, then time each admin query the dashboard uses. Target: < 200 ms each.
 * `ms` is the median of 3 runs, `firstMs` the first (cold) run.
 * Run alone: `npx tsx test/bench/sections/ledger.ts`. LEDGER_BENCH_ROWS overrides the row count
 * (BENCH_QUICK=1: 100,000); LEDGER_BENCH_DIR keeps and reuses the database.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createLedger, PriceTable, toRowParams, type LedgerRow } from '../../../src-main/core/ledger/index';
import { batchWriter } from '../../../src-main/core/ledger/sqlite/writer';
import type { UsageRecord } from '../../../src-main/core/ledger/types';

const DAY = 86_400_000;
const TARGET_MS = 200;

const MODELS = [
  ['lingma', 'dashscope_qwen3_coder'], ['lingma', 'qwen3-max'], ['lingma', 'kimi-k2'], ['ollama', 'qwen2.5-coder'],
  ['ollama', 'llama3.1'], ['openrouter', 'anthropic/claude-sonnet-4'], ['openrouter', 'openai/gpt-5'], ['deepseek', 'deepseek-chat'],
] as const;
const INSTANCES = ['lingma-a', 'lingma-b', 'lingma-c', 'ollama', 'openrouter', 'deepseek'];
const KEYS = ['k1a2b3c4d5e6', 'k2b3c4d5e6f7', 'k3c4d5e6f7a8', 'k4d5e6f7a8b9', 'k5e6f7a8b9c0'];

/** Deterministic PRNG so runs are comparable. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

function time<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: round(performance.now() - t0), value };
}

/** A query run 3 times: the median (what a dashboard refresh sees) and the first, cold run. */
async function query<T>(fn: () => Promise<T>): Promise<{ ms: number; firstMs: number; value: T }> {
  const runs = [await timeAsync(fn), await timeAsync(fn), await timeAsync(fn)];
  const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
  return { ms: sorted[1], firstMs: runs[0].ms, value: runs[0].value };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: Math.round((performance.now() - t0) * 10) / 10, value };
}

export async function run(): Promise<{ name: string; rows: Array<Record<string, string | number>>; json: unknown }> {
  const N = Number(process.env.LEDGER_BENCH_ROWS ?? (process.env.BENCH_QUICK === '1' ? 100_000 : 1_000_000));
  // LEDGER_BENCH_DIR: keep the database there and reuse it on the next run (for tuning queries).
  const keep = process.env.LEDGER_BENCH_DIR;
  const dir = keep ?? mkdtempSync(join(tmpdir(), 'relay-ledger-bench-'));
  const dbPath = join(dir, 'usage.db');
  const log = pino({ level: 'silent' });
  const config = {
    enabled: true, retentionDays: 90, flushIntervalMs: 250, batchSize: 500, queueMax: 50_000, onDegraded: 'open' as const,
    prices: { 'lingma/*': { input: 0, output: 0 }, 'openrouter/*': { input: 3, output: 15, cachedInput: 0.3 }, 'deepseek/*': { input: 0.27, output: 1.1 } },
  };
  try {
    const reuse = keep !== undefined && existsSync(dbPath);
    // Schema through the real ledger, then the bulk load on a connection of our own.
    if (!reuse) await createLedger({ dbPath, config, log }).close();
    const now = reuse ? (() => {
      const db = new Database(dbPath, { readonly: true });
      const t = (db.prepare('SELECT MAX(received_at) AS t FROM usage').get() as { t: number }).t;
      db.close();
      return t;
    })() : Date.now();
    const start = now - 30 * DAY;
    const prices = new PriceTable(config.prices);
    const rand = rng(42);
    const load = time(() => {
      if (reuse) return;
      const db = new Database(dbPath);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = OFF');
      const write = batchWriter(db);
      let chunk: LedgerRow[] = [];
      db.transaction(() => {
        for (let i = 0; i < N; i++) {
          const [provider, model] = MODELS[Math.floor(rand() * rand() * MODELS.length)];
          const receivedAt = start + Math.floor((i / N) * 30 * DAY);
          const r = rand();
          const status = r < 0.95 ? 200 : r < 0.97 ? 429 : r < 0.99 ? 502 : 499;
          const ttft = Math.round(80 + rand() * rand() * 4000);
          const total = ttft + Math.round(rand() * 20000);
          const rec: UsageRecord = {
            requestId: `req_${i.toString(36)}`, receivedAt, firstByteAt: receivedAt + ttft, finishedAt: receivedAt + total,
            apiKeyId: KEYS[i % KEYS.length], userAgent: 'bench/1.0', endpoint: '/v1/chat/completions', protocol: 'openai-chat',
            requestedModel: model, provider, instance: provider === 'lingma' ? INSTANCES[i % 3] : INSTANCES[3 + (MODELS.findIndex((m) => m[0] === provider) % 3)],
            model, stream: i % 3 !== 0, status, errorType: status === 200 ? undefined : status === 429 ? 'rate_limited' : status === 502 ? 'upstream_error' : 'client_closed',
            switches: status === 502 ? 1 : 0, switchReasons: status === 502 ? ['lingma-a:upstream_error:500'] : [], sessionReuse: i % 4 === 0,
            promptTokens: 200 + Math.floor(rand() * 4000), completionTokens: Math.floor(rand() * 1500), cachedTokens: i % 5 === 0 ? 128 : undefined,
            tokensEstimated: provider === 'lingma', ttftMs: status === 200 ? ttft : undefined, totalMs: total,
          };
          chunk.push(toRowParams(rec, prices, now));
          if (chunk.length === 5000 || i === N - 1) {
            write(chunk); // the ledger's own batch writer (rows + rollups), nested in the big transaction
            chunk = [];
          }
        }
      })();
      db.pragma('analysis_limit = 1000');
      db.exec('ANALYZE');
      db.close();
    });

    const ledger = createLedger({ dbPath, config, log });
    await ledger.ready();
    const lastDay = { from: now - DAY, to: now + 1 };
    const lastWeek = { from: now - 7 * DAY, to: now + 1 };
    const results: Array<Record<string, string | number>> = [];
    const add = (name: string, r: { ms: number; firstMs?: number }, detail: string): void => {
      results.push({ query: name, ms: r.ms, firstMs: r.firstMs ?? r.ms, target: TARGET_MS, ok: r.ms < TARGET_MS ? 'yes' : 'NO', detail });
    };

    let t = await query(() => ledger.totals({ ...lastDay, group: 'model' }));
    add('totals by model, last day', t, `${t.value.total.requests} rows in range, ${t.value.rows.length} groups`);
    t = await query(() => ledger.totals({ ...lastWeek, group: 'instance' }));
    add('totals by instance, last week', t, `${t.value.total.requests} rows in range`);
    const s = await query(() => ledger.series({ ...lastWeek, bucket: 'hour' }));
    add('series by hour, last week', s, `${s.value.points.length} points`);
    const sd = await query(() => ledger.series({ from: start, to: now + 1, bucket: 'day', group: 'model' }));
    add('series by day per model, 30 days', sd, `${sd.value.points.length} points`);
    const sl = await query(() => ledger.series({ from: start, to: now + 1, bucket: 'day', group: 'model', tzOffsetMinutes: -300 }));
    add('series by local day per model, 30 days, UTC-5', sl, `${sl.value.points.length} points (hourly rollups)`);
    const si = await query(() => ledger.series({ from: start, to: now + 1, bucket: 'day', group: 'model', tzOffsetMinutes: 330 }));
    add('series by local day per model, 30 days, UTC+5:30', si, `${si.value.points.length} points (per-bucket spans)`);
    const t30 = await query(() => ledger.totals({ from: start, to: now + 1, group: 'key' }));
    add('totals by key, 30 days', t30, `${t30.value.total.requests} rows in range`);
    const sh = await query(() => ledger.series({ from: start, to: now + 1, bucket: 'hour', group: 'status' }));
    add('series by hour per status, 30 days', sh, `${sh.value.points.length} points`);
    const p = await query(() => ledger.latency(lastDay));
    add('percentiles per model, last day', p, `${p.value.rows.length} models, ${p.value.approximate ? 'from daily histograms + edge rows' : 'exact'}`);
    const pw = await query(() => ledger.latency(lastWeek));
    add('percentiles per model, last week', pw, `${pw.value.rows.length} models, ${pw.value.approximate ? 'from daily histograms + edge rows' : 'exact'}`);
    const r1 = await query(() => ledger.recent({ limit: 50 }));
    add('recent 50', r1, `${r1.value.rows.length} rows`);
    const r2 = await query(() => ledger.recent({ limit: 50, status: '502', instance: 'lingma-b' }));
    add('recent 50, status=502 instance=lingma-b', r2, `${r2.value.rows.length} rows`);
    const r3 = await query(() => ledger.recent({ limit: 50, model: 'deepseek/deepseek-chat', status: 'error', before: r1.value.rows[49]?.id }));
    add('recent 50, model + error + cursor', r3, `${r3.value.rows.length} rows`);
    const r5 = await query(() => ledger.recent({ limit: 50, model: 'deepseek/deepseek-chat', instance: 'lingma-a' }));
    add('recent 50, two filters matching nothing', r5, `${r5.value.rows.length} rows, search bounded by time (nextBefore ${r5.value.nextBefore === null ? 'null' : 'set'})`);
    const r4 = await query(() => ledger.recent({ requestId: `req_${(N - 10).toString(36)}` }));
    add('recent by request id', r4, `${r4.value.rows.length} rows`);
    let firstChunkMs = 0;
    const csvStart = performance.now();
    const csv = await timeAsync(async () => {
      let bytes = 0;
      let lines = 0;
      for await (const chunk of ledger.exportCsv(lastDay)) {
        if (lines > 0 && !firstChunkMs) firstChunkMs = Math.round((performance.now() - csvStart) * 10) / 10;
        bytes += chunk.length;
        for (let i = chunk.indexOf('\n'); i >= 0; i = chunk.indexOf('\n', i + 1)) lines++;
      }
      return { bytes, lines };
    });
    add('CSV export, last day (first rows)', { ms: firstChunkMs }, 'time to the first page of rows (streamed)');
    add('CSV export, last day (whole)', csv, `${csv.value.lines - 1} rows, ${(csv.value.bytes / 1e6).toFixed(1)} MB`);
    await ledger.close();

    return {
      name: 'ledger',
      rows: [{ query: `bulk load ${N} rows (one transaction)`, ms: load.ms, firstMs: load.ms, target: '-', ok: '-', detail: reuse ? `reused the database in ${dir}` : `${Math.round(N / (load.ms / 1000))} rows/s, rows + rollups + histograms` }, ...results],
      json: { rows: N, loadMs: load.ms, targetMs: TARGET_MS, queries: results },
    };
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then((r) => console.table(r.rows), (e) => { console.error(e); process.exit(1); });
}
