import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRelayError, toOpenAIError } from '../../src-main/core/errors';
import { createLedger, type Ledger } from '../../src-main/core/ledger/index';
import { ledgerRoutes } from '../../src-main/core/ledger/routes';
import { DAY, HOUR, ledgerConfig, rec, silent, tempDir, type TempDir } from './helpers';

const D0 = Date.UTC(2026, 1, 1);
let dir: TempDir;
let ledger: Ledger;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  dir = tempDir();
  ledger = createLedger({ dbPath: dir.path(), log: silent, config: ledgerConfig() });
  for (let i = 0; i < 30; i++) {
    ledger.record(rec({ requestId: `r${i}`, receivedAt: D0 + i * HOUR, status: i % 10 === 0 ? 502 : 200, instance: i % 2 ? 'lingma-a' : 'lingma-b', totalMs: 100 + i }));
  }
  await ledger.flush();
  app = Fastify();
  // Stand-in for the gateway's admin scope: RelayErrors become OpenAI-shaped bodies.
  app.setErrorHandler((err, _req, reply) => {
    if (isRelayError(err)) return reply.status(err.status).send(toOpenAIError(err));
    return reply.status(500).send({ error: { message: 'internal' } });
  });
  await app.register(ledgerRoutes, { ledger, now: () => D0 + 2 * DAY });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app.close();
  await ledger.close();
  dir.cleanup();
});

const get = async (path: string): Promise<{ status: number; body: any; headers: Headers; text: string }> => {
  const res = await fetch(base + path);
  const text = await res.text();
  let body: unknown = null;
  try { body = JSON.parse(text); } catch { /* CSV */ }
  return { status: res.status, body, headers: res.headers, text };
};

describe('admin usage routes', () => {
  it('status', async () => {
    const r = await get('/admin/usage/status');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: 'ok', written: 30, dropped: 0 });
  });

  it('totals with ISO and epoch ranges, grouped', async () => {
    const r = await get(`/admin/usage/totals?from=${new Date(D0).toISOString()}&to=${D0 + 10 * HOUR}&group=instance`);
    expect(r.status).toBe(200);
    expect(r.body.total.requests).toBe(10);
    expect(Object.fromEntries(r.body.rows.map((x: { key: string; requests: number }) => [x.key, x.requests]))).toEqual({ 'lingma-a': 5, 'lingma-b': 5 });
    // Default range: the last 24 h before "now" (D0 + 2 days) → rows from hour 24 to 29.
    expect((await get('/admin/usage/totals')).body.total.requests).toBe(6);
  });

  it('series, latency, recent', async () => {
    const s = await get(`/admin/usage/series?from=${D0}&to=${D0 + 2 * DAY}&bucket=day&group=status`);
    expect(s.body.points.map((p: { key: string; requests: number }) => `${p.key}:${p.requests}`)).toEqual(['200:21', '502:3', '200:6']);
    const local = await get(`/admin/usage/series?from=${D0 - DAY}&to=${D0 + 2 * DAY}&bucket=day&tz=-300`);
    expect(local.body.tzOffsetMinutes).toBe(-300);
    // New York days start at 05:00 UTC: hours 0-4 of D0 belong to the day before.
    expect(local.body.points.map((p: { t: number; requests: number }) => [(p.t - D0) / HOUR, p.requests])).toEqual([[-19, 5], [5, 24], [29, 1]]);
    const l = await get(`/admin/usage/latency?from=${D0}&to=${D0 + 2 * DAY}`);
    expect(l.body.rows[0]).toMatchObject({ model: 'lingma/qwen3-coder', total: { count: 27 } });
    const rc = await get('/admin/usage/recent?status=error&limit=2');
    expect(rc.body.rows.map((x: { requestId: string }) => x.requestId)).toEqual(['r20', 'r10']);
    const next = await get(`/admin/usage/recent?status=error&limit=2&before=${rc.body.nextBefore}`);
    expect(next.body.rows.map((x: { requestId: string }) => x.requestId)).toEqual(['r0']);
    expect(next.body.nextBefore).toBeNull();
    expect((await get('/admin/usage/recent?requestId=r7')).body.rows[0].requestId).toBe('r7');
  });

  it('CSV export streams with headers', async () => {
    const r = await get(`/admin/usage/export.csv?from=${D0}&to=${D0 + 5 * HOUR}&instance=lingma-a`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    expect(r.headers.get('content-disposition')).toMatch(/attachment; filename="lingma-relay-usage-2026-02-01-2026-02-01.csv"/);
    const lines = r.text.trim().split('\r\n');
    expect(lines[0]).toMatch(/^id,request_id,/);
    expect(lines.slice(1).map((l) => l.split(',')[1])).toEqual(['r1', 'r3']);
  });

  it('bad parameters get clear 400s naming the problem', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/admin/usage/totals?from=yesterday', /'from' must be epoch milliseconds or an ISO 8601 date, got 'yesterday'/],
      [`/admin/usage/totals?from=${D0}&to=${D0}`, /must be before 'to'/],
      ['/admin/usage/totals?group=color', /'group' must be one of model, provider, instance, key, status/],
      ['/admin/usage/series?bucket=week', /'bucket' must be 'hour' or 'day'/],
      [`/admin/usage/series?bucket=hour&from=${D0 - 200 * DAY}`, /use bucket=day/],
      ['/admin/usage/recent?limit=0', /'limit' must be a whole number from 1 to 500/],
      ['/admin/usage/recent?limit=abc', /'limit' must be a whole number/],
      ['/admin/usage/recent?status=teapot', /'status' must be a status code/],
      ['/admin/usage/recent?colour=red', /Unknown query parameter 'colour'/],
      ['/admin/usage/totals?model=a&model=b', /'model' must be given once/],
      ['/admin/usage/series?tz=abc', /'tz' must be the UTC offset in minutes/],
      ['/admin/usage/series?tz=900', /from -840 to 840/],
    ];
    for (const [path, msg] of cases) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.type).toBe('invalid_request_error');
      expect(r.body.error.message, path).toMatch(msg);
    }
  });

  it('a degraded ledger answers 503 with the reason', async () => {
    const d = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(d.path(), 'not a database at all, clearly not'.repeat(200));
    const bad = createLedger({ dbPath: d.path(), log: silent, config: ledgerConfig() });
    const a = Fastify();
    a.setErrorHandler((err, _req, reply) => (isRelayError(err) ? reply.status(err.status).send(toOpenAIError(err)) : reply.status(500).send()));
    await a.register(ledgerRoutes, { ledger: bad, basePath: '/usage' });
    const r = await a.inject({ method: 'GET', url: '/usage/export.csv' });
    expect(r.statusCode).toBe(503);
    expect(r.json().error.message).toMatch(/usage ledger is unavailable: .*corrupt/);
    expect((await a.inject({ method: 'GET', url: '/usage/status' })).json()).toMatchObject({ state: 'degraded' });
    await a.close();
    await bad.close();
    d.cleanup();
  });
});
