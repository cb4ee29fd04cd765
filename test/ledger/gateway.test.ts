/**
 * The ledger through the real relay: createCore → dispatch → ledger, two fake OpenAI upstreams,
 * plain HTTP clients. Rows appear for success, failover and errors; budgets answer 429; the admin
 * usage routes need the admin token; stop() flushes everything.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { MemorySecrets } from '../lingma/helpers';
import { until } from './helpers';

const KEY = 'sk-relay-ledger-gateway-key';
const LIMITED = 'sk-relay-ledger-limited-key';
const ADMIN = 'admin-token-for-ledger-tests';

let up: FakeUpstream;
let up2: FakeUpstream;
let relay: Relay;
let url: string;
let dir: string;
let stopped = false;

async function chat(model: string, key = KEY, stream = false): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'user-agent': 'ledger-test/1' },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hello ledger' }] }),
  });
}

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1'], reply: 'from up' });
  up2 = await startFakeOpenAI({ models: ['m2'], reply: 'from up2' });
  dir = mkdtempSync(join(tmpdir(), 'relay-ledger-gw-'));
  const config = validateConfig({
    server: { apiKeys: [KEY, { key: LIMITED, rpm: 2 }], adminToken: ADMIN, logLevel: 'silent' },
    providers: [
      { name: 'up', type: 'openai', baseUrl: up.url, models: ['m1'] },
      { name: 'up2', type: 'openai', baseUrl: up2.url, models: ['m2'] },
    ],
    aliases: { pair: { chain: ['up/m1', 'up2/m2'] } },
    health: { failureThreshold: 1, baseBackoffMs: 100, maxBackoffMs: 200, probeIntervalMs: 100 },
    ledger: { flushIntervalMs: 10, prices: { 'up/*': { input: 1, output: 2 } } },
  });
  relay = await createCore({ config, dataDir: join(dir, 'data'), secrets: new MemorySecrets(), lingma: 'never', processMetrics: false });
  await relay.start();
  url = await relay.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  if (!stopped) await relay?.stop();
  await up?.close();
  await up2?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ledger through the gateway', () => {
  it('records success, failover and error rows; serves them on the admin API', async () => {
    expect(relay.ledger?.status().state).toBe('ok');
    const ok = await chat('up/m1');
    expect(ok.status).toBe(200);
    const okId = ok.headers.get('x-request-id')!;
    await ok.text();

    up.enqueue({ status: 500, message: 'boom' });
    const fo = await chat('pair', KEY, true);
    expect(fo.status).toBe(200);
    const foId = fo.headers.get('x-request-id')!;
    await fo.text();

    const missing = await chat('no-such-model');
    expect(missing.status).toBe(404);
    const missingId = missing.headers.get('x-request-id')!;
    await missing.text();

    const ledger = relay.ledger!;
    await until(() => ledger.status().written >= 3);
    const rows = Object.fromEntries((await ledger.recent({ limit: 10 })).rows.map((r) => [r.requestId, r]));
    expect(rows[okId]).toMatchObject({
      status: 200, provider: 'up', model: 'm1', label: 'up/m1', instance: expect.any(String), stream: false,
      protocol: 'openai-chat', endpoint: '/v1/chat/completions', userAgent: 'ledger-test/1', switches: 0,
    });
    expect(rows[okId].apiKeyId).toMatch(/^[0-9a-f]{6,}$/);
    expect(rows[okId].apiKeyId).not.toContain(KEY); // SECURITY: a short hash, never the key
    expect(rows[okId].totalMs).toBeGreaterThanOrEqual(0);
    expect(rows[okId].costUsd === null || typeof rows[okId].costUsd === 'number').toBe(true);
    expect(rows[foId]).toMatchObject({ status: 200, alias: 'pair', provider: 'up2', model: 'm2', stream: true, switches: 1 });
    expect(rows[foId].switchReasons).toHaveLength(1);
    expect(rows[missingId]).toMatchObject({ status: 404, requestedModel: 'no-such-model', label: 'no-such-model' });

    const noToken = await fetch(`${url}/admin/usage/recent`);
    expect(noToken.status).toBe(401);
    const api = await fetch(`${url}/admin/usage/totals?group=model`, { headers: { 'x-admin-token': ADMIN } });
    expect(api.status).toBe(200);
    const totals = (await api.json()) as { total: { requests: number }; rows: Array<{ key: string }> };
    expect(totals.total.requests).toBeGreaterThanOrEqual(3);
    expect(totals.rows.map((r) => r.key)).toEqual(expect.arrayContaining(['up/m1', 'up2/m2', 'no-such-model']));
  });

  it('rpm budget: the third request in a minute gets 429 with Retry-After', async () => {
    expect((await chat('up/m1', LIMITED)).status).toBe(200);
    expect((await chat('up/m1', LIMITED)).status).toBe(200);
    const third = await chat('up/m1', LIMITED);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await third.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('rate_limit_error');
    expect(body.error.message).toMatch(/2 requests per minute/);
  });

  it('stop() flushes: every answered request is a row in the file', async () => {
    const ledger = relay.ledger!;
    const dbPath = ledger.status().dbPath;
    for (let i = 0; i < 5; i++) await (await chat('up/m1')).text();
    await relay.stop();
    stopped = true;
    const s = ledger.status();
    expect(s.queued).toBe(0);
    expect(s.dropped).toBe(0);
    const db = new Database(dbPath, { readonly: true });
    const n = (db.prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n;
    db.close();
    expect(n).toBe(s.written);
    expect(n).toBeGreaterThanOrEqual(3 + 3 + 5);
  });
});

describe('per-key budgets with the ledger turned off', () => {
  it('still enforces rpm and expiry, writes no database, and the usage routes say the ledger is disabled', async () => {
    const off = await startFakeOpenAI({ models: ['m1'], reply: 'ok' });
    const d = mkdtempSync(join(tmpdir(), 'relay-ledger-off-'));
    const r = await createCore({
      config: validateConfig({
        server: { apiKeys: [{ key: LIMITED, rpm: 1 }, { key: 'sk-relay-expired-key-0001', expiresAt: '2001-01-01' }], adminToken: ADMIN, logLevel: 'silent' },
        providers: [{ name: 'up', type: 'openai', baseUrl: off.url, models: ['m1'] }],
        ledger: { enabled: false },
      }),
      dataDir: join(d, 'data'), secrets: new MemorySecrets(), lingma: 'never', processMetrics: false,
    });
    try {
      await r.start();
      const base = await r.listen({ host: '127.0.0.1', port: 0 });
      const call = () =>
        fetch(`${base}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${LIMITED}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'up/m1', messages: [{ role: 'user', content: 'hi' }] }),
        });
      expect((await call()).status).toBe(200);
      const second = await call();
      expect(second.status).toBe(429);
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
      const expired = await fetch(`${base}/v1/models`, { headers: { authorization: 'Bearer sk-relay-expired-key-0001' } });
      expect(expired.status).toBe(401);
      expect(((await expired.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'key_expired',
        message: 'This API key expired on 2001-01-01T00:00:00.000Z.',
      });
      const usage = await fetch(`${base}/admin/usage/totals`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(usage.status).toBe(503);
      expect(((await usage.json()) as { error: { message: string } }).error.message).toMatch(/disabled/);
      expect(r.ledger!.status().state).toBe('disabled');
    } finally {
      await r.stop();
      await off.close();
      expect(existsSync(join(d, 'data', 'usage.db'))).toBe(false);
      rmSync(d, { recursive: true, force: true });
    }
  });
});
