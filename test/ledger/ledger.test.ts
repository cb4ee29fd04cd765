import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createLedger, type Ledger } from '../../src-main/core/ledger/index';
import { SCHEMA_VERSION } from '../../src-main/core/ledger/sqlite/schema';
import { createSqliteStore } from '../../src-main/core/ledger/sqlite/store';
import { captureLog, DAY, ledgerConfig, rec, silent, tempDir, until, type TempDir } from './helpers';

let dirs: TempDir[] = [];
let ledgers: Ledger[] = [];
let dbs: Database.Database[] = [];

function tmp(): TempDir {
  const d = tempDir();
  dirs.push(d);
  return d;
}
function open(...args: Parameters<typeof createLedger>): Ledger {
  const l = createLedger(...args);
  ledgers.push(l);
  return l;
}
function raw(path: string): Database.Database {
  const db = new Database(path);
  dbs.push(db);
  return db;
}

afterEach(async () => {
  for (const l of ledgers) await l.close();
  for (const db of dbs) if (db.open) db.close();
  for (const d of dirs) d.cleanup();
  ledgers = [];
  dbs = [];
  dirs = [];
});

describe('writing rows', () => {
  it('records success, error, cancelled and failed-over requests with their fields', async () => {
    const d = tmp();
    const ledger = open({
      dbPath: d.path(), log: silent,
      config: ledgerConfig({ prices: { 'lingma/*': { input: 0, output: 0 }, 'openrouter/*': { input: 3, output: 15, cachedInput: 0.3 } } }),
    });
    const t = Date.UTC(2026, 0, 10, 12);
    ledger.record(rec({ requestId: 'ok', receivedAt: t, cachedTokens: 40, reasoningTokens: 7, sessionReuse: true }));
    ledger.record(rec({
      requestId: 'err', receivedAt: t, status: 502, errorType: 'upstream_error', promptTokens: undefined, completionTokens: undefined,
      ttftMs: undefined, firstByteAt: undefined, stream: false,
    }));
    ledger.record(rec({ requestId: 'cancel', receivedAt: t, status: 499, errorType: 'client_closed', completionTokens: 3, tokensEstimated: true }));
    ledger.record(rec({
      requestId: 'failover', receivedAt: t, provider: 'openrouter', instance: 'openrouter', model: 'gpt-5',
      switches: 2, switchReasons: ['lingma-a:upstream_error:500', 'lingma-b:timeout'], promptTokens: 1000, cachedTokens: 400, completionTokens: 200,
    }));
    ledger.record(rec({
      requestId: 'unrouted', receivedAt: t, requestedModel: 'nope', alias: undefined, provider: undefined, instance: undefined, model: undefined,
      status: 404, errorType: 'model_not_found', promptTokens: undefined, completionTokens: undefined, ttftMs: undefined,
    }));
    await ledger.flush();
    expect(ledger.status()).toMatchObject({ state: 'ok', written: 5, dropped: 0, queued: 0 });

    const rows = raw(d.path()).prepare('SELECT * FROM usage ORDER BY id').all() as Array<Record<string, unknown>>;
    const by = Object.fromEntries(rows.map((r) => [r.request_id, r]));
    expect(by.ok).toMatchObject({
      status: 200, label: 'lingma/qwen3-coder', alias: 'coder', provider: 'lingma', instance: 'lingma-a', model: 'qwen3-coder',
      stream: 1, session_reuse: 1, prompt_tokens: 100, completion_tokens: 50, cached_tokens: 40, reasoning_tokens: 7,
      tokens_estimated: 0, ttft_ms: 100, total_ms: 500, received_at: t, first_byte_at: t + 100, finished_at: t + 500,
      api_key_id: 'key1', user_agent: 'test/1.0', endpoint: '/v1/chat/completions', protocol: 'openai-chat', cost_usd: 0, error_type: null,
      switches: 0, switch_reasons: null,
    });
    expect(by.err).toMatchObject({ status: 502, error_type: 'upstream_error', stream: 0, prompt_tokens: null, ttft_ms: null, cost_usd: null });
    expect(by.cancel).toMatchObject({ status: 499, error_type: 'client_closed', completion_tokens: 3, tokens_estimated: 1 });
    expect(by.failover).toMatchObject({ switches: 2, label: 'openrouter/gpt-5', instance: 'openrouter' });
    expect(JSON.parse(by.failover.switch_reasons as string)).toEqual(['lingma-a:upstream_error:500', 'lingma-b:timeout']);
    // 600 input at $3/M + 400 cached at $0.30/M + 200 output at $15/M
    expect(by.failover.cost_usd).toBeCloseTo((600 * 3 + 400 * 0.3 + 200 * 15) / 1e6, 12);
    // Nothing resolved: labelled by the requested model; no price → NULL, not 0.
    expect(by.unrouted).toMatchObject({ label: 'nope', provider: null, cost_usd: null });
  });

  it('graceful stop under load loses nothing (record N, close → N rows)', async () => {
    const d = tmp();
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig({ batchSize: 250, flushIntervalMs: 1000 }) });
    const N = 5_000;
    for (let i = 0; i < N; i++) {
      ledger.record(rec({ requestId: `r${i}` }));
      if (i % 250 === 0) await new Promise((r) => setImmediate(r)); // let some batches go out meanwhile
    }
    await ledger.close();
    expect(ledger.status()).toMatchObject({ written: N, dropped: 0, queued: 0 });
    expect((raw(d.path()).prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n).toBe(N);
  });

  it('writes by time when fewer than batchSize records wait', async () => {
    const d = tmp();
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig({ batchSize: 500, flushIntervalMs: 30 }) });
    ledger.record(rec());
    ledger.record(rec());
    await until(() => ledger.status().written === 2);
    expect(ledger.status().queued).toBe(0);
  });

  it('counts and logs (rate-limited) overflow, and never throws from record()', async () => {
    const d = tmp();
    const registry = new Registry();
    const { log, lines } = captureLog();
    const ledger = open({ dbPath: d.path(), log, registry, config: ledgerConfig({ queueMax: 10, batchSize: 1000, flushIntervalMs: 60_000 }) });
    for (let i = 0; i < 510; i++) ledger.record(rec());
    expect(ledger.status()).toMatchObject({ queued: 10, dropped: 500 });
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/relay_ledger_dropped_total\{reason="overflow"\} 500/);
    expect(metrics).toMatch(/relay_ledger_queued 10/);
    expect(lines.filter((l) => String(l.msg).includes('queue full')).length).toBe(1);
    // Garbage in: still no throw.
    expect(() => ledger.record(null as never)).not.toThrow();
    await ledger.close();
    expect((raw(d.path()).prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n).toBe(10);
    expect(await registry.metrics()).toMatch(/relay_ledger_written_total 10/);
  });
});

describe('opening', () => {
  it('sets WAL, synchronous=NORMAL and the schema version', async () => {
    const d = tmp();
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig() });
    await ledger.close();
    const db = raw(d.path());
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  });

  it('upgrades a version-1 database and keeps its rows', async () => {
    const d = tmp();
    // A database as the first builds wrote it (schema v1), made by hand.
    const old = raw(d.path());
    old.exec(`
      CREATE TABLE usage (
        id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, received_at INTEGER NOT NULL, first_byte_at INTEGER,
        finished_at INTEGER NOT NULL, api_key_id TEXT NOT NULL, endpoint TEXT NOT NULL, protocol TEXT NOT NULL,
        requested_model TEXT NOT NULL, provider TEXT, instance TEXT, model TEXT, stream INTEGER NOT NULL,
        status INTEGER NOT NULL, error_type TEXT, switches INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER,
        completion_tokens INTEGER, ttft_ms INTEGER, total_ms INTEGER NOT NULL);
      CREATE INDEX usage_received ON usage(received_at);
      PRAGMA user_version = 1;`);
    const t = Date.now() - 2 * DAY;
    const ins = old.prepare(`INSERT INTO usage (request_id, received_at, finished_at, api_key_id, endpoint, protocol, requested_model,
      provider, instance, model, stream, status, prompt_tokens, completion_tokens, total_ms) VALUES (?, ?, ?, 'k', '/v1/chat/completions',
      'openai-chat', ?, ?, ?, ?, 1, ?, 10, 5, 300)`);
    ins.run('old-1', t, t + 300, 'coder', 'lingma', 'lingma-a', 'qwen3-coder', 200);
    ins.run('old-2', t, t + 300, 'ghost', null, null, null, 404);
    old.close();

    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig() });
    await ledger.ready();
    expect(ledger.status().state).toBe('ok');
    ledger.record(rec({ requestId: 'new-1', cachedTokens: 3 }));
    await ledger.flush();
    const recent = (await ledger.recent({ limit: 10 }));
    expect(recent.rows.map((r) => r.requestId)).toEqual(['new-1', 'old-2', 'old-1']);
    expect(recent.rows[2]).toMatchObject({ label: 'lingma/qwen3-coder', sessionReuse: false, costUsd: null, switchReasons: [] });
    expect(recent.rows[1]).toMatchObject({ label: 'ghost', status: 404 });
    // Old rows are in the rollups too (backfilled by the migration).
    const totals = (await ledger.totals({ from: t - DAY, to: Date.now() + DAY, group: 'model' }));
    expect(totals.total.requests).toBe(3);
    expect(totals.rows.find((r) => r.key === 'lingma/qwen3-coder')?.requests).toBe(2);
    await ledger.close();
    const db = raw(d.path());
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    // Latency histograms hold the successful rows, old and new.
    expect((db.prepare('SELECT SUM(n) AS n FROM latency_daily WHERE kind = 0').get() as { n: number }).n).toBe(2);
  });

  it('commits run in the worker thread: rows land while the main thread is blocked', async () => {
    const d = tmp();
    const l = open({ dbPath: d.path(), log: silent, config: ledgerConfig({ flushIntervalMs: 5, batchSize: 1000 }) });
    await l.ready();
    const watch = raw(d.path());
    const count = watch.prepare('SELECT COUNT(*) AS n FROM usage');
    for (let i = 0; i < 50; i++) l.record(rec({ requestId: `off-${i}` }));
    const flushed = l.flush(); // hands the batch to the worker
    // Block this thread (no event-loop turn) until the rows are in the file: only another
    // thread can have committed them meanwhile. Bounded, so a regression fails instead of hanging.
    const end = Date.now() + 20_000;
    let n = 0;
    while ((n = (count.get() as { n: number }).n) < 50 && Date.now() < end) { /* spin */ }
    expect(n).toBe(50);
    expect(l.status().written).toBe(0); // the main thread has not even seen the acknowledgement yet
    await flushed;
    expect(l.status()).toMatchObject({ written: 50, queued: 0 });
  });

  it.skipIf(process.platform === 'win32')('creates the database readable by its owner only (0600)', async () => {
    const d = tmp();
    const l = open({ dbPath: d.path(), log: silent, config: ledgerConfig({}) });
    l.record(rec({ requestId: 'mode-check' }));
    await l.flush();
    expect(statSync(d.path()).mode & 0o777).toBe(0o600);
  });

  it('a corrupt database file → degraded with a clear reason, no throw; records are counted as dropped', async () => {
    const d = tmp();
    writeFileSync(d.path(), Buffer.alloc(8192, 'this is not a sqlite database '));
    const registry = new Registry();
    const ledger = open({ dbPath: d.path(), log: silent, registry, config: ledgerConfig() });
    await ledger.ready();
    const s = ledger.status();
    expect(s.state).toBe('degraded');
    expect(s.reason).toMatch(/corrupt|not a SQLite database/i);
    expect(() => ledger.record(rec())).not.toThrow();
    expect(ledger.status().dropped).toBe(1);
    await expect(ledger.totals({ from: 0, to: Date.now() })).rejects.toThrow(/usage ledger is unavailable/);
    expect(await registry.metrics()).toMatch(/relay_ledger_degraded 1/);
    await expect(ledger.flush()).resolves.toBeUndefined();
  });

  it('a database newer than this build → degraded naming the versions', async () => {
    const d = tmp();
    const db = raw(d.path());
    db.pragma('user_version = 99');
    db.close();
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig() });
    await ledger.ready();
    expect(ledger.status()).toMatchObject({ state: 'degraded' });
    expect(ledger.status().reason).toMatch(/version 99/);
  });

  it('a locked database → degraded, then recovers once the lock is gone', async () => {
    const d = tmp();
    await createLedger({ dbPath: d.path(), log: silent, config: ledgerConfig() }).close();
    const other = raw(d.path());
    other.exec('PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;');
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig(), busyTimeoutMs: 50, retryMs: 50 });
    await ledger.ready();
    expect(ledger.status().state).toBe('degraded');
    expect(ledger.status().reason).toMatch(/locked/);
    other.exec('COMMIT');
    other.close();
    await until(() => ledger.status().state === 'ok');
    ledger.record(rec());
    await ledger.flush();
    expect(ledger.status().written).toBe(1);
  });

  it('writes refused at runtime (lock held elsewhere) → degraded, records kept and written once the lock goes', async () => {
    const d = tmp();
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig({ flushIntervalMs: 5 }), busyTimeoutMs: 20, retryMs: 30 });
    ledger.record(rec());
    await ledger.flush();
    const other = raw(d.path());
    other.exec('BEGIN IMMEDIATE; INSERT INTO usage_daily (t, label, provider, instance, api_key_id, status, requests, errors, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, total_ms) VALUES (0, \'x\', \'\', \'\', \'k\', 200, 0, 0, 0, 0, 0, 0, 0);');
    for (let i = 0; i < 5; i++) ledger.record(rec());
    await until(() => ledger.status().state === 'degraded');
    expect(ledger.status()).toMatchObject({ reason: expect.stringMatching(/locked/), queued: 5, dropped: 0 });
    // Budgets keep working meanwhile (onDegraded: open).
    expect(() => ledger.checkBudget('key1', { rpm: 100 }, Date.now())).not.toThrow();
    other.exec('ROLLBACK');
    await until(() => ledger.status().state === 'ok' && ledger.status().queued === 0);
    expect(ledger.status()).toMatchObject({ written: 6, dropped: 0 });
  });

  it('a worker thread that dies → degraded naming it, the batch kept, a new worker writes it', async () => {
    const d = tmp();
    const store = createSqliteStore({ dbPath: d.path(), busyTimeoutMs: 1000, workerFile: new URL('./fixtures/dying-worker.mjs', import.meta.url) });
    const ledger = open({ dbPath: d.path(), store, log: silent, config: ledgerConfig({ flushIntervalMs: 5 }), retryMs: 30 });
    ledger.record(rec({ requestId: 'before' }));
    await ledger.flush();
    expect(ledger.status()).toMatchObject({ state: 'ok', written: 1 });
    writeFileSync(`${d.path()}.die`, '');
    for (let i = 0; i < 5; i++) ledger.record(rec({ requestId: `after-${i}` }));
    await until(() => ledger.status().state === 'degraded');
    expect(ledger.status().reason).toMatch(/usage ledger worker stopped \(exit code 1\)/);
    await until(() => ledger.status().state === 'ok' && ledger.status().queued === 0);
    expect(ledger.status()).toMatchObject({ written: 6, dropped: 0 });
    expect((raw(d.path()).prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n).toBe(6);
  });

  it('an idle worker closes and ends; the next write starts another, which opens the database first', async () => {
    const d = tmp();
    const life = () => (existsSync(`${d.path()}.life`) ? readFileSync(`${d.path()}.life`, 'utf8').trim().split('\n') : []);
    const store = createSqliteStore({ dbPath: d.path(), busyTimeoutMs: 1000, idleMs: 50, workerFile: new URL('./fixtures/logging-worker.mjs', import.meta.url) });
    const ledger = open({ dbPath: d.path(), store, log: silent, config: ledgerConfig({ flushIntervalMs: 5 }) });
    ledger.record(rec({ requestId: 'first' }));
    await ledger.flush();
    await until(() => life().length === 2);
    expect(life()).toEqual(['open', 'exit']);
    ledger.record(rec({ requestId: 'second' }));
    await ledger.flush();
    expect(ledger.status()).toMatchObject({ state: 'ok', written: 2, dropped: 0 });
    expect(life().slice(0, 3)).toEqual(['open', 'exit', 'open']);
    // Reads kept working on the main thread's connection meanwhile.
    expect((await ledger.recent({})).rows.map((r) => r.requestId).sort()).toEqual(['first', 'second']);
  });

  it('disabled: no file, no rows, queries refuse clearly', async () => {
    const d = tmp();
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig({ enabled: false }) });
    ledger.record(rec());
    expect(ledger.status()).toMatchObject({ state: 'disabled', written: 0, dropped: 0 });
    await expect(ledger.recent({})).rejects.toThrow(/disabled/);
    expect(existsSync(d.path())).toBe(false);
  });
});

describe('retention', () => {
  it('deletes old rows in batches while writes continue', async () => {
    const d = tmp();
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig({ retentionDays: 7, batchSize: 50, flushIntervalMs: 5 }), retentionBatch: 100 });
    const old = Date.now() - 30 * DAY;
    for (let i = 0; i < 2500; i++) ledger.record(rec({ requestId: `old${i}`, receivedAt: old + i * 1000 }));
    for (let i = 0; i < 10; i++) ledger.record(rec({ requestId: `keep${i}` }));
    await ledger.flush();

    // Watch the deletes from a second connection: they come in many small statements.
    const run = ledger.runRetention();
    let writesDuring = 0;
    let doneFlag = false;
    void run.then(() => { doneFlag = true; });
    for (let i = 0; i < 5 && !doneFlag; i++) {
      ledger.record(rec({ requestId: `during${i}` }));
      await ledger.flush();
      if (!doneFlag) writesDuring++;
    }
    const deleted = await run;
    expect(deleted).toBe(2500);
    expect(writesDuring).toBeGreaterThan(0); // the writer got through while retention was running
    await ledger.flush();
    const db = raw(d.path());
    expect((db.prepare('SELECT COUNT(*) AS n FROM usage WHERE received_at < ?').get(Date.now() - 7 * DAY) as { n: number }).n).toBe(0);
    expect((db.prepare("SELECT COUNT(*) AS n FROM usage WHERE request_id LIKE 'keep%'").get() as { n: number }).n).toBe(10);
    expect((db.prepare('SELECT COUNT(*) AS n FROM usage_hourly WHERE t < ?').get(Date.now() - 8 * DAY) as { n: number }).n).toBe(0);
    expect((db.prepare('SELECT COUNT(*) AS n FROM usage_daily WHERE t < ?').get(Date.now() - 8 * DAY) as { n: number }).n).toBe(0);
    // Totals (rollups) and rows agree after retention.
    const totals = (await ledger.totals({ from: 0, to: Date.now() + DAY }));
    expect(totals.total.requests).toBe((db.prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n);
  });
});

describe('hostile input', () => {
  it('a malformed record is dropped alone, long client text is capped, the rest is written', async () => {
    const d = tmp();
    const ledger = open({ dbPath: d.path(), log: silent, config: ledgerConfig() });
    const bad = rec({ requestId: 'bad' });
    Object.defineProperty(bad, 'status', { get: () => { throw new Error('boom'); } });
    ledger.record(rec({ requestId: 'before' }));
    ledger.record(bad);
    ledger.record(rec({ requestId: 'after', userAgent: 'x'.repeat(10_000), switchReasons: Array.from({ length: 100 }, () => 'r'.repeat(1000)) }));
    await ledger.flush();
    expect(ledger.status()).toMatchObject({ state: 'ok', written: 2, dropped: 1 });
    const rows = (await ledger.recent({})).rows;
    expect(rows.map((r) => r.requestId)).toEqual(['after', 'before']);
    expect(rows[0].userAgent!.length).toBe(512);
    expect(rows[0].switchReasons).toHaveLength(32);
    expect(rows[0].switchReasons[0].length).toBe(200);
  });
});
