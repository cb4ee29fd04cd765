/**
 * The PostgreSQL ledger store against a private server started here (initdb + pg_ctl):
 * - one contract, two engines: the same records written through `createLedger` to SQLite and to
 *   PostgreSQL answer the same totals, series, latency, request list, CSV and budget seeds;
 * - migrations: three stores opening one empty database together apply each version once;
 * - a batch sent again after an unacknowledged commit is written once;
 *   a database newer than this build is refused with a reason, not retried;
 * - retention deletes in batches and leaves both engines answering alike;
 * - an outage: the server stops → the ledger is degraded naming it, records stay queued (bounded),
 *   the server comes back → they land.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger, PriceTable, toRowParams, type Ledger } from '../../src-main/core/ledger/index';
import { createPostgresStore } from '../../src-main/core/ledger/postgres/store';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src-main/core/ledger/postgres/schema';
import { createSqliteStore } from '../../src-main/core/ledger/sqlite/store';
import { StoreFailure, type LedgerStore } from '../../src-main/core/ledger/store';
import type { UsageRecord } from '../../src-main/core/ledger/types';
import { isErrorOutcome } from '../../src-main/core/state-types';
import { NO_POSTGRES, postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres';
import { DAY, HOUR, ledgerConfig, rec, silent, tempDir, until, type TempDir } from './helpers';

const hasPostgres = !!postgresBinDir();
if (!hasPostgres) console.warn(NO_POSTGRES);

const D0 = Date.UTC(2026, 0, 5);
const PRICES = { 'lingma/*': { input: 0, output: 0 }, 'openrouter/gpt-5': { input: 2, output: 10 } };

/** Three days of varied traffic: models, keys, instances, statuses, missing fields, odd text. */
function records(): UsageRecord[] {
  const out: UsageRecord[] = [];
  const models = [
    { provider: 'lingma', instance: 'lingma-a', model: 'qwen3-coder' },
    { provider: 'lingma', instance: 'lingma-b', model: 'qwen3-coder' },
    { provider: 'openrouter', instance: 'openrouter', model: 'gpt-5' },
    { provider: undefined, instance: undefined, model: undefined, requestedModel: 'ghost' },
  ];
  const statuses = [200, 200, 200, 429, 502, 499, 200, 404];
  for (let i = 0; i < 240; i++) {
    const m = models[i % models.length];
    const status = m.provider ? statuses[i % statuses.length] : 404;
    out.push(rec({
      requestId: `r${i}`,
      receivedAt: D0 + Math.floor((i * 3 * DAY) / 240) + (i % 7) * 1000,
      ...m,
      apiKeyId: `k${i % 3}`,
      status,
      // Some 200s are streams that broke after their first byte: errors in both engines alike.
      errorType: status >= 400 ? 'upstream_error' : i % 13 === 0 ? 'upstream_stream_closed' : undefined,
      totalMs: 100 + ((i * 37) % 900),
      ttftMs: i % 5 === 0 ? undefined : 10 + ((i * 13) % 90),
      promptTokens: i % 11 === 0 ? undefined : 10 + i,
      completionTokens: i % 11 === 0 ? undefined : i % 17,
      reasoningTokens: i % 4 === 0 ? i : undefined,
      cachedTokens: i % 6 === 0 ? 5 : undefined,
      switches: i % 9 === 0 ? 1 : 0,
      switchReasons: i % 9 === 0 ? ['lingma-a:upstream_error:500'] : [],
      userAgent: i === 7 ? '=HYPERLINK("x"), "quoted"\nline' : `agent/${i % 2}`,
      stream: i % 2 === 0,
      tokensEstimated: i % 3 === 0,
    }));
  }
  return out;
}

async function text(it: AsyncIterable<string>): Promise<string> {
  let s = '';
  for await (const c of it) s += c;
  return s;
}

describe.skipIf(!hasPostgres)('PostgreSQL ledger store', () => {
  let server: TestPostgres;
  let dir: TempDir;
  let sqliteStore: LedgerStore;
  let pgStore: LedgerStore;
  let lite: Ledger;
  let post: Ledger;
  const all = records();

  beforeAll(async () => {
    server = await startPostgres();
    dir = tempDir();
    const url = await server.createDatabase('contract');
    // A small exact-percentile limit so long ranges take the histogram path on both engines.
    sqliteStore = createSqliteStore({ dbPath: dir.path(), busyTimeoutMs: 1000, exactPercentileRows: 50 });
    pgStore = createPostgresStore({ url, nodeName: 'test', exactPercentileRows: 50 });
    const config = ledgerConfig({ retentionDays: 36_500, prices: PRICES });
    lite = createLedger({ dbPath: dir.path(), log: silent, config, store: sqliteStore });
    post = createLedger({ dbPath: 'unused', log: silent, config, store: pgStore });
    await Promise.all([lite.ready(), post.ready()]);
    for (const r of all) {
      lite.record(r);
      post.record(r);
    }
    await Promise.all([lite.flush(), post.flush()]);
  }, 120_000);

  afterAll(async () => {
    await lite?.close();
    await post?.close();
    await server?.stop();
    dir?.cleanup();
  });

  it('writes every record, and says where without a password', () => {
    expect(post.status()).toMatchObject({ state: 'ok', written: all.length, queued: 0, dropped: 0 });
    expect(pgStore.location).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/contract$/);
    expect(createPostgresStore({ url: 'postgres://u:hunter2@db.example/x' }).location).not.toContain('hunter2');
  });

  it('totals: the same answer from both engines, in whole and per group', async () => {
    const range = { from: D0 - HOUR, to: D0 + 3 * DAY + HOUR };
    const t = await post.totals(range);
    expect(t.total.requests).toBe(all.length);
    expect(t.total.errors).toBe(all.filter((r) => isErrorOutcome(r.status, r.errorType)).length);
    expect(t.total.promptTokens).toBe(all.reduce((s, r) => s + (r.promptTokens ?? 0), 0));
    expect(t).toEqual(await lite.totals(range));
    for (const group of ['model', 'provider', 'instance', 'key', 'status'] as const) {
      for (const q of [{ ...range, group }, { from: D0 + 90 * 60_000, to: D0 + 2 * DAY + 17 * 60_000, group }, { ...range, group, status: '5xx' }, { ...range, group, model: 'openrouter/gpt-5' }]) {
        expect(await post.totals(q), JSON.stringify(q)).toEqual(await lite.totals(q));
      }
    }
  });

  it('series: hourly and daily, UTC and local offsets (whole and half hours), grouped', async () => {
    const range = { from: D0 + 25 * 60_000, to: D0 + 3 * DAY };
    for (const bucket of ['hour', 'day'] as const) {
      for (const tzOffsetMinutes of [0, 60, -300, 330]) {
        const q = { ...range, bucket, tzOffsetMinutes, group: 'model' as const };
        const s = await post.series(q);
        expect(s.points.length).toBeGreaterThan(0);
        expect(s, JSON.stringify(q)).toEqual(await lite.series(q));
      }
    }
    expect(await post.series({ ...range, bucket: 'day', key: 'k1' })).toEqual(await lite.series({ ...range, bucket: 'day', key: 'k1' }));
  });

  it('latency: exact percentiles and the histogram path agree between engines', async () => {
    const short = { from: D0, to: D0 + 6 * HOUR };
    const exact = await post.latency(short);
    expect(exact.approximate).toBe(false);
    expect(exact.rows.length).toBeGreaterThan(0);
    expect(exact).toEqual(await lite.latency(short));
    const long = { from: D0 - HOUR, to: D0 + 3 * DAY + HOUR };
    const approx = await post.latency(long);
    expect(approx.approximate).toBe(true);
    expect(approx).toEqual(await lite.latency(long));
    expect(await post.latency({ ...long, instance: 'lingma-a' })).toEqual(await lite.latency({ ...long, instance: 'lingma-a' }));
  });

  it('recent: the same pages, filters and request-id lookups', async () => {
    for (const q of [{}, { limit: 7 }, { model: 'ghost' }, { status: '502' }, { status: 'error', key: 'k2' }, { instance: 'lingma-b', limit: 3 }, { requestId: 'r100' }, { requestId: 'r1' }]) {
      const a = await post.recent(q);
      const b = await lite.recent(q);
      expect(a.rows, JSON.stringify(q)).toEqual(b.rows);
      expect(a.rows.length).toBeGreaterThan(0);
      if (a.nextBefore !== null) {
        expect((await post.recent({ ...q, before: a.nextBefore })).rows).toEqual((await lite.recent({ ...q, before: a.nextBefore })).rows);
      }
    }
    // A request id matches as a prefix: r7, r70..r79.
    const r7 = (await post.recent({ requestId: 'r7' })).rows;
    expect(r7.every((r) => r.requestId.startsWith('r7'))).toBe(true);
    const one = r7.find((r) => r.requestId === 'r7');
    expect(one).toMatchObject({ requestId: 'r7', userAgent: '=HYPERLINK("x"), "quoted"\nline', stream: false });
  });

  it('CSV export: byte for byte the same, formula text defused', async () => {
    const q = { from: D0, to: D0 + 3 * DAY + HOUR };
    const csv = await text(post.exportCsv(q));
    expect(csv).toBe(await text(lite.exportCsv(q)));
    expect(csv.trim().split("\r\n")).toHaveLength(all.length + 1); // header + rows
    expect(csv).toContain(`"'=HYPERLINK(""x""), ""quoted""\nline"`);
    const filtered = { ...q, model: 'openrouter/gpt-5', status: 'ok' };
    expect(await text(post.exportCsv(filtered))).toBe(await text(lite.exportCsv(filtered)));
  });

  it('budget seeds: tokens per key since a time, the same on both', async () => {
    const a = await pgStore.tokensByKeySince(D0 + DAY);
    expect(a.size).toBe(3);
    expect(a).toEqual(await sqliteStore.tokensByKeySince(D0 + DAY));
  });

  it('a bad status filter is the same 400 on both', async () => {
    await expect(post.totals({ from: D0, to: D0 + DAY, status: 'teapot' })).rejects.toMatchObject({ status: 400 });
    await expect(lite.totals({ from: D0, to: D0 + DAY, status: 'teapot' })).rejects.toMatchObject({ status: 400 });
  });

  it('migrations: three stores opening one empty database together apply each version once', async () => {
    const url = await server.createDatabase('race');
    const stores = [createPostgresStore({ url }), createPostgresStore({ url }), createPostgresStore({ url })];
    try {
      await Promise.all(stores.map((s) => s.open()));
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const r = await c.query('SELECT version FROM schema_migrations ORDER BY version');
        expect(r.rows.map((x) => x.version)).toEqual(MIGRATIONS.map((m) => m.version));
        // Opening again is a no-op; writing through any of them works.
        await stores[0].open();
        await stores[1].append([]);
      } finally {
        await c.end();
      }
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('a batch sent again (its commit went through, the acknowledgement was lost) is not written twice', async () => {
    const s = createPostgresStore({ url: await server.createDatabase('again') });
    try {
      await s.open();
      const batch = [toRowParams(rec({ requestId: 'again', receivedAt: D0 }), new PriceTable({}), D0)];
      await s.append(batch);
      await s.append(batch); // what the ledger does after a failed (or unacknowledged) commit
      expect((await s.totals({ from: D0, to: D0 + DAY })).total.requests).toBe(1);
      await s.append([...batch]); // another batch, even with the same content, is written
      expect((await s.totals({ from: D0, to: D0 + DAY })).total.requests).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('a database newer than this build is refused with a reason, not retried', async () => {
    const url = await server.createDatabase('newer');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
    await c.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [SCHEMA_VERSION + 1, 'future']);
    await c.end();
    const s = createPostgresStore({ url });
    try {
      const e = await s.open().then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(StoreFailure);
      expect(e).toMatchObject({ retry: false });
      expect((e as StoreFailure).reason).toContain(`schema version ${SCHEMA_VERSION + 1}`);
    } finally {
      await s.close();
    }
  });

  it('retention deletes old rows in batches; both engines still agree', async () => {
    const cutoff = D0 + DAY;
    const before = all.filter((r) => r.receivedAt < cutoff).length;
    expect(await pgStore.deleteBefore(cutoff, 7)).toBe(before);
    expect(await sqliteStore.deleteBefore(cutoff, 7)).toBe(before);
    const range = { from: D0 - HOUR, to: D0 + 3 * DAY + HOUR, group: 'model' as const };
    const t = await post.totals(range);
    expect(t.total.requests).toBe(all.length - before);
    expect(t).toEqual(await lite.totals(range));
    expect(await post.latency(range)).toEqual(await lite.latency(range));
  });

  // Last: it stops the server.
  it('server down: degraded naming it, records queued and served on; server back: they land', async () => {
    const url = await server.createDatabase('outage');
    const lateUrl = await server.createDatabase('outage-at-start');
    const ledger = createLedger({ dbPath: 'unused', log: silent, config: ledgerConfig({ queueMax: 5 }), store: createPostgresStore({ url, connectTimeoutMs: 1000 }), retryMs: 50 });
    let late: Ledger | undefined;
    try {
      await ledger.ready();
      expect(ledger.status().state).toBe('ok');
      await server.halt();
      // A node starting while the server is away: degraded, its records queue for the next open.
      late = createLedger({ dbPath: 'unused', log: silent, config: ledgerConfig({ queueMax: 5 }), store: createPostgresStore({ url: lateUrl, connectTimeoutMs: 1000 }), retryMs: 50 });
      await late.ready();
      expect(late.status()).toMatchObject({ state: 'degraded', reason: expect.stringMatching(/is unreachable/) });
      for (let i = 0; i < 2; i++) late.record(rec({ requestId: `late${i}`, receivedAt: D0 }));
      expect(late.status()).toMatchObject({ queued: 2, dropped: 0 });
      const now = Date.now();
      for (let i = 0; i < 8; i++) ledger.record(rec({ requestId: `o${i}`, receivedAt: now }));
      await until(() => ledger.status().state === 'degraded');
      const st = ledger.status();
      expect(st.reason).toMatch(/usage database \(PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/outage\) is unreachable/);
      // Bounded: five kept for retry, the rest counted as dropped.
      expect(st.queued).toBe(5);
      expect(st.dropped).toBe(3);
      await server.resume();
      await until(() => ledger.status().state === 'ok' && ledger.status().queued === 0, 30_000);
      expect(ledger.status().written).toBe(5);
      expect((await ledger.totals({ from: now - 1, to: now + 1 })).total.requests).toBe(5);
      await until(() => late!.status().state === 'ok' && late!.status().queued === 0, 30_000);
      expect((await late.totals({ from: D0, to: D0 + DAY })).total.requests).toBe(2);
    } finally {
      await server.resume();
      await ledger.close();
      await late?.close();
    }
  }, 60_000);
});
