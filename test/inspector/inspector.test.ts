/**
 * The request inspector end to end: createCore (real dispatcher, pool, admission, ledger,
 * inspector with persist) over two fake OpenAI upstreams. Captures, the timeline of a failover,
 * filters, replay, the backend test, and redaction proven by grepping everything stored (the
 * admin API's answers, the memory ring, and the SQLite file's bytes) for every planted secret.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import type { Capture, CaptureList, ReplayResult, BackendTestResult } from '../../src-main/core/inspector/types';
import { createCore, type Relay } from '../../src-main/core/relay';
import { fakeUsage, startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

// Planted secrets: each must never appear in anything the inspector stores.
const PROVIDER_KEY = 'sk-provider-PLANTED0provider0key0';
const HEADER_SECRET = 'hdr-PLANTED-header-value-77';
const BODY_API_KEY = 'PLANTEDbodyapikey0123456789';
const BEARER_IN_TEXT = 'PLANTEDbearer0token0abcdef';
const PASSWORD = 'PLANTEDhunter2password';
const LOGIN_NONCE = 'PLANTEDloginnonce0099';
const COOKIE = 'PLANTEDcookievalue0011';
const ADMIN = 'PLANTED-admin-token-000000000000';

let up: FakeUpstream;
let up2: FakeUpstream;
let relay: Relay;
let base: string;
let key: string;
let dataDir: string;

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });

const chat = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

async function capture(id: string): Promise<Capture> {
  const r = await admin(`/admin/requests/${encodeURIComponent(id)}`);
  expect(r.status).toBe(200);
  return (await r.json()) as Capture;
}

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1'], chunks: 3, apiKey: PROVIDER_KEY });
  up2 = await startFakeOpenAI({ models: ['m1'], chunks: 2 });
  dataDir = tempDir();
  const config = validateConfig({
    server: { adminToken: ADMIN },
    providers: [
      { name: 'up', type: 'openai', baseUrl: up.url, apiKey: PROVIDER_KEY, headers: { 'x-extra-auth': HEADER_SECRET } },
      { name: 'up2', type: 'openai', baseUrl: up2.url },
    ],
    aliases: { coder: { chain: ['up/m1', 'up2/m1'] } },
    limits: { queueTimeoutMs: 500, keepAliveMs: 1000, shutdownGraceMs: 2000 },
    inspector: { persist: true },
  });
  relay = await createCore({ config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false, logger: createLogger({ level: 'silent' }) });
  await relay.start();
  base = await relay.listen({ host: '127.0.0.1', port: 0 });
  key = relay.firstRun.apiKey!;
});

afterAll(async () => {
  await relay?.stop();
  await up?.close();
  await up2?.close();
  cleanupTempDirs();
});

describe('request inspector', () => {
  it('keeps the request, the answer, the upstream body and the timeline of a streamed request', async () => {
    const res = await chat({ model: 'coder', stream: true, messages: [{ role: 'user', content: 'hello there' }] }, { 'x-request-id': 'insp-stream-1' });
    expect(res.status).toBe(200);
    await res.text();
    const c = await capture('insp-stream-1');
    expect(c.requestId).toBe('insp-stream-1');
    expect(c.request).toMatchObject({ model: 'coder', stream: true, messages: [{ role: 'user', content: 'hello there' }] });
    expect(c.response?.text).toBe('Echo: hello there');
    // The upstream's own figures (the fake reports a quarter of the messages' JSON and of the answer).
    const real = fakeUsage((c.upstream?.body as { messages?: unknown }).messages, 'Echo: hello there');
    expect(c.response?.usage).toMatchObject({ promptTokens: real.prompt_tokens, completionTokens: real.completion_tokens });
    expect(c.upstream).toMatchObject({ kind: 'openai', instance: 'up', body: { model: 'm1', stream: true } });
    expect(c.resolved).toBe('up/m1');
    expect(c.alias).toBe('coder');
    const kinds = c.timeline.map((e) => e.kind);
    // Then `ledger_written` once the ledger commits its batch (test/inspector/ledger-written.test.ts).
    expect(kinds.slice(0, 6)).toEqual(['admitted', 'resolved', 'attempt', 'first_byte', 'end', 'ledger_queued']);
    expect(c.timeline[1]).toMatchObject({ detail: 'coder', targets: ['up/m1', 'up2/m1'] });
    expect(c.timeline[2]).toMatchObject({ instance: 'up', outcome: 'first_byte' });
    for (let i = 1; i < c.timeline.length; i++) expect(c.timeline[i].at).toBeGreaterThanOrEqual(c.timeline[i - 1].at);
  });

  it('records each backend attempt and the reason of a switch', async () => {
    up.enqueue({ status: 429, retryAfter: 1 });
    const res = await chat({ model: 'coder', messages: [{ role: 'user', content: 'fail over' }] }, { 'x-request-id': 'insp-switch-1' });
    expect(res.status).toBe(200);
    const c = await capture('insp-switch-1');
    const attempts = c.timeline.filter((e) => e.kind === 'attempt');
    expect(attempts.map((a) => [a.instance, a.outcome])).toEqual([['up', 'failed'], ['up2', 'first_byte']]);
    expect(attempts[0].reason).toMatch(/429|rate_limited/);
    expect(c.timeline.find((e) => e.kind === 'switch')).toMatchObject({ from: 'up', to: 'up2' });
    expect(c.upstream?.instance).toBe('up2');
    expect(c.instance).toBe('up2');
  });

  it('lists with filters: status, model, instance, key, text in prompts, limit', async () => {
    const bad = await chat({ model: 'no-such-model', messages: [{ role: 'user', content: 'zebra' }] }, { 'x-request-id': 'insp-404' });
    expect(bad.status).toBe(404);
    const list = async (q: string) => ((await (await admin(`/admin/requests?${q}`)).json()) as CaptureList).requests.map((r) => r.requestId);
    expect(await list('status=404')).toEqual(['insp-404']);
    expect(await list('status=error')).toContain('insp-404');
    expect(await list('status=ok')).not.toContain('insp-404');
    expect(await list('instance=up2')).toContain('insp-switch-1');
    expect(await list('q=fail%20over')).toEqual(['insp-switch-1']);
    expect(await list('model=no-such')).toEqual(['insp-404']);
    expect((await list('limit=1')).length).toBe(1);
    const keyId = (await capture('insp-404')).apiKeyId;
    expect(await list(`key=${keyId}`)).toContain('insp-stream-1');
    expect(await list('key=nobody')).toEqual([]);
    const r = await admin('/admin/requests?colour=red');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/colour/);
  });

  it('needs the admin token', async () => {
    expect((await fetch(`${base}/admin/requests`)).status).toBe(401);
    expect((await fetch(`${base}/admin/requests/insp-404`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    expect((await fetch(`${base}/admin/requests/insp-404/replay`, { method: 'POST', headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
  });

  it('replays a request as a new one linked to the original, optionally to another model', async () => {
    const r = await admin('/admin/requests/insp-stream-1/replay', { method: 'POST', body: JSON.stringify({ model: 'up2/m1' }) });
    expect(r.status).toBe(200);
    const out = (await r.json()) as ReplayResult;
    expect(out.replayOf).toBe('insp-stream-1');
    expect(out.requestId).not.toBe('insp-stream-1');
    expect(out.status).toBe(200);
    expect(out.capture?.replayOf).toBe('insp-stream-1');
    expect(out.capture?.resolved).toBe('up2/m1');
    expect(out.capture?.response?.text).toBe('Echo: hello there');
    // The same key's identity, not the admin's.
    expect(out.capture?.apiKeyId).toBe((await capture('insp-stream-1')).apiKeyId);
    const edited = await admin('/admin/requests/insp-stream-1/replay', { method: 'POST', body: JSON.stringify({ body: { model: 'coder', messages: [{ role: 'user', content: 'edited' }] } }) });
    expect(((await edited.json()) as ReplayResult).capture?.response?.text).toBe('Echo: edited');
    const bad = await admin('/admin/requests/insp-stream-1/replay', { method: 'POST', body: JSON.stringify({ model: 7 }) });
    expect(bad.status).toBe(400);
    expect((await admin('/admin/requests/nope/replay', { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('tests a backend with a tiny request: time to first token and the answer, or the error in words', async () => {
    const r = await admin('/admin/instances/up2/test', { method: 'POST', body: JSON.stringify({ prompt: 'ping' }) });
    expect(r.status).toBe(200);
    const t = (await r.json()) as BackendTestResult;
    expect(t).toMatchObject({ ok: true, instance: 'up2', model: 'm1', answer: 'Echo: ping' });
    expect(t.ttftMs).toBeGreaterThanOrEqual(0);
    up.enqueue({ status: 500, message: 'boom' });
    const f = (await (await admin('/admin/providers/up/test', { method: 'POST', body: '{}' })).json()) as BackendTestResult;
    expect(f.ok).toBe(false);
    expect(f.error).toBeTruthy();
    expect((await admin('/admin/instances/nobody/test', { method: 'POST', body: '{}' })).status).toBe(404);
  });

  it('never stores a planted secret: not in the API answers, the memory ring or the SQLite file', async () => {
    const text = [
      `my key is api_key=${BODY_API_KEY}`,
      `header Authorization: Bearer ${BEARER_IN_TEXT}`,
      `password: ${PASSWORD}`,
      `login at https://signin.example.com/login?token=${LOGIN_NONCE}&x=1`,
      `admin ${ADMIN} relay ${key} provider ${PROVIDER_KEY} header ${HEADER_SECRET}`,
    ].join('\n');
    const res = await chat(
      { model: 'coder', stream: true, messages: [{ role: 'user', content: text }], user: 'u1', metadata: { api_key: BODY_API_KEY, password: PASSWORD, cookie: COOKIE } },
      { 'x-request-id': 'insp-secrets', cookie: `session=${COOKIE}`, 'x-api-key': key },
    );
    expect(res.status).toBe(200);
    await res.text();
    // The upstream did get the provider key (as a header), so it was in play.
    expect(up.headers[up.headers.length - 1].authorization).toBe(`Bearer ${PROVIDER_KEY}`);
    const c = await capture('insp-secrets');
    expect(c.response?.text).toContain('Echo:');
    const replay = await admin('/admin/requests/insp-secrets/replay', { method: 'POST', body: '{}' });
    expect(replay.status).toBe(200);
    const stored = [
      JSON.stringify(c),
      await (await admin('/admin/requests?limit=500')).text(),
      await replay.text(),
      JSON.stringify(relay.inspector.list({ limit: 500 }).map((s) => relay.inspector.get(s.id))),
    ];
    await relay.inspector.get('insp-secrets'); // flushes pending writes
    const dbFiles = readdirSync(dataDir).filter((f) => f.startsWith('inspector.db'));
    expect(dbFiles).toContain('inspector.db');
    for (const f of dbFiles) {
      if (process.platform !== 'win32') expect(statSync(join(dataDir, f)).mode & 0o077).toBe(0);
      stored.push(readFileSync(join(dataDir, f)).toString('latin1'));
    }
    expect(stored[stored.length - 1]).toContain('insp-secrets');
    for (const secret of [PROVIDER_KEY, HEADER_SECRET, BODY_API_KEY, BEARER_IN_TEXT, PASSWORD, LOGIN_NONCE, COOKIE, ADMIN, key]) {
      for (const s of stored) expect(s.includes(secret), `${secret} found in the stored capture`).toBe(false);
    }
    expect(existsSync(join(dataDir, 'inspector.db'))).toBe(true);
  });
});
