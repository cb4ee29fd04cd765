import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { SLOW_CLIENT_CLOSE_CODE, type AdminOptions } from '../../src-main/core/admin/index';
import type { AdminEvent, AdminSnapshot } from '../../src-main/core/admin/api-types';
import { keyIdOf } from '../../src-main/core/config/keys';
import { ADMIN_TOKEN } from './fakes';
import { adminHarness, FIRST_KEY, type AdminHarness, type AdminHarnessOptions } from '../helpers/admin';
import { rawRequest } from '../helpers/raw-http';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
let app: FastifyInstance | undefined;
const harnesses: AdminHarness[] = [];
const dirs: string[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) {
    try { s.terminate(); } catch { /* never connected */ }
  }
  app = undefined;
  for (const h of harnesses.splice(0)) await h.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function harness(o: AdminHarnessOptions = {}): AdminHarness {
  const h = adminHarness(o);
  harnesses.push(h);
  return h;
}

async function build(relay = harness(), opts: AdminOptions = {}) {
  app = await relay.build(opts);
  return { app, relay };
}

async function listen(relay = harness(), opts: AdminOptions = {}) {
  const built = await build(relay, opts);
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = built.app.server.address() as { port: number };
  return { ...built, port: addr.port };
}

function nextEvent(ws: WebSocket, pred: (e: AdminEvent) => boolean, timeoutMs = 10_000): Promise<AdminEvent> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { ws.off('message', on); reject(new Error('timed out waiting for event')); }, timeoutMs);
    const on = (data: WebSocket.RawData) => {
      const e = JSON.parse(String(data)) as AdminEvent;
      if (pred(e)) { clearTimeout(t); ws.off('message', on); resolve(e); }
    };
    ws.on('message', on);
  });
}

describe('admin API', () => {
  it('requires the admin token on every /admin route', async () => {
    const { app } = await build();
    for (const [method, url] of [['GET', '/admin/state'], ['POST', '/admin/accounts'], ['PUT', '/admin/aliases'], ['PATCH', '/admin/settings'], ['POST', '/admin/keys']] as const) {
      const none = await app.inject({ method, url });
      expect(none.statusCode, url).toBe(401);
      expect(none.json().error.type).toBe('authentication_error');
      const wrong = await app.inject({ method, url, headers: { authorization: 'Bearer nope-nope-nope-nope' } });
      expect(wrong.statusCode).toBe(401);
    }
    const ok = await app.inject({ method: 'GET', url: '/admin/state', headers: { 'x-admin-token': ADMIN_TOKEN } });
    expect(ok.statusCode).toBe(200);
  });

  it('checks the token on the matched route, however the path is spelled', async () => {
    const { app } = await build();
    for (const url of ['/%61dmin/state', '/admin/%73tate', '/%61%64%6D%69%6E/keys', '/admin/state?x=1']) {
      const res = await app.inject({ method: url.endsWith('keys') ? 'POST' : 'GET', url, payload: url.endsWith('keys') ? { name: 'x' } : undefined });
      expect(res.statusCode, url).toBe(401);
      expect(Object.keys(res.json()), url).toEqual(['error']);
      expect((await app.inject({ url: url.replace('keys', 'state'), headers: auth })).statusCode, url).toBe(200);
    }
  });

  it('refuses everything when no admin token is known (fails closed)', async () => {
    const relay = harness();
    relay.config.server.adminToken = undefined;
    const { app } = await build(relay);
    expect((await app.inject({ url: '/admin/state', headers: { authorization: 'Bearer ' } })).statusCode).toBe(401);
  });

  it('returns a full snapshot without passwords', async () => {
    const { app } = await build();
    const res = await app.inject({ url: '/admin/state', headers: auth });
    expect(res.statusCode).toBe(200);
    const s = res.json() as AdminSnapshot;
    expect(s.endpoint).toMatch(/^http:\/\/.+\/v1$/);
    expect(s.apiKey).toBe(FIRST_KEY);
    expect(s.instances.map((i) => i.name)).toEqual(['alice', 'bob']);
    expect(s.instances[0]).toMatchObject({ state: 'ready', limit: 2, inFlight: 0, restarts: 0, login: { state: 'logged_in' } });
    expect(s.instances[1].login).toMatchObject({ state: 'needs_manual', reason: 'captcha' });
    // The one availability answer: bob waits for a person (his captcha), alice serves.
    expect(s.instances.map((i) => i.availability?.status)).toEqual(['serving', 'needs_person']);
    expect(s.aliases[0]).toMatchObject({ name: 'coder', targets: [{ label: 'lingma/qwen3-coder', status: 'degraded', ready: 1, total: 2 }] });
    expect(s.sessionCache).toMatchObject({ hits: 3, misses: 1, entries: 2 });
    expect(s.accounts).toEqual([
      expect.objectContaining({ name: 'alice', username: 'alice', hasPassword: true }),
      expect.objectContaining({ name: 'bob', username: 'bob', hasPassword: true }),
    ]);
    expect(s.keys[0]).toMatchObject({ id: keyIdOf(FIRST_KEY), prefix: 'sk-relay-fi…', source: 'config', revocable: false });
    expect(s.settings).toMatchObject({ logLevel: 'info', maxInFlight: 64, loginAuto: true });
    expect(s.secretProtection).toBe('file');
    expect(res.body).not.toContain('alice-secret-pw');
    expect(res.body).not.toContain('bob-secret-pw');
  });

  it('accounts: add, edit, remove with validation; password never returned', async () => {
    const { app, relay } = await build();
    const bad = await app.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: 'carol' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/password/);
    const badName = await app.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: 'carol', password: 'pw-carol-123', name: 'has space' } });
    expect(badName.statusCode).toBe(400);
    expect(badName.json().error.message).toMatch(/^name:/);
    expect(badName.body).not.toContain('pw-carol-123');
    const badDomain = await app.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: 'carol', password: 'pw-carol-123', dedicatedDomain: 'ftp:x' } });
    expect(badDomain.json().error.message).toMatch(/dedicatedDomain/);
    const unknown = await app.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: 'carol', password: 'x', passwd: 'y' } });
    expect(unknown.json().error.message).toMatch(/Unknown field 'passwd'/);

    const events: string[] = [];
    relay.hub.on('config', (what) => events.push(what));
    const ok = await app.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: 'carol', password: 'pw-carol-123', name: 'carol' } });
    expect(ok.statusCode).toBe(201);
    // One event per change: the accounts API announces it; the route adds none.
    expect(events).toEqual(['accounts']);
    expect(ok.body).not.toContain('pw-carol-123');
    expect(relay.lingma.passwords.get('carol')).toBe('pw-carol-123');

    const dup = await app.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: 'carol', password: 'pw-carol-123', name: 'carol' } });
    expect(dup.statusCode).toBe(400);
    expect(dup.json().error.message).toMatch(/exists/);

    const edit = await app.inject({ method: 'PATCH', url: '/admin/accounts/carol', headers: auth, payload: { username: 'carol2' } });
    expect(edit.statusCode).toBe(200);
    expect(relay.lingma.passwords.get('carol')).toBe('pw-carol-123');
    expect(edit.json().accounts.find((a: { name: string }) => a.name === 'carol').username).toBe('carol2');

    const missing = await app.inject({ method: 'PATCH', url: '/admin/accounts/zed', headers: auth, payload: { username: 'z' } });
    expect(missing.statusCode).toBe(404);

    const del = await app.inject({ method: 'DELETE', url: '/admin/accounts/carol', headers: auth });
    expect(del.statusCode).toBe(200);
    expect(relay.lingma.stored.map((a) => a.name)).toEqual(['alice', 'bob']);
    const state = await app.inject({ url: '/admin/state', headers: auth });
    expect(state.body).not.toContain('pw-carol-123');
  });

  it('instance actions: login, logout, restart, login-all, unknown names', async () => {
    const { app, relay } = await build();
    const bob = relay.lingma.list[1];
    expect((await app.inject({ method: 'POST', url: '/admin/instances/bob/login', headers: auth })).statusCode).toBe(202);
    await expect.poll(() => bob.login_.state).toBe('logged_in');
    expect((await app.inject({ method: 'POST', url: '/admin/instances/bob/logout', headers: auth })).statusCode).toBe(202);
    await expect.poll(() => bob.login_.state).toBe('logged_out');
    expect((await app.inject({ method: 'POST', url: '/admin/instances/bob/restart', headers: auth })).statusCode).toBe(202);
    await expect.poll(() => bob.restarts).toBe(1);
    expect((await app.inject({ method: 'POST', url: '/admin/instances/login-all', headers: auth })).statusCode).toBe(202);
    const nf = await app.inject({ method: 'POST', url: '/admin/instances/zed/login', headers: auth });
    expect(nf.statusCode).toBe(404);
    expect(nf.json().error.message).toMatch(/zed/);
    expect((await app.inject({ method: 'POST', url: '/admin/instances/bob/explode', headers: auth })).statusCode).toBe(404);
  });

  it('test an instance: its own check runs now; a failure is reported, not thrown; the status comes along', async () => {
    const { app, relay } = await build();
    const bob = relay.lingma.list[1];
    expect((await app.inject({ method: 'POST', url: '/admin/instances/bob/test' })).statusCode).toBe(401);
    const ok = await app.inject({ method: 'POST', url: '/admin/instances/bob/test', headers: auth });
    expect(ok.statusCode).toBe(200);
    // bob waits for a person in the harness (a captcha): the status says so, with the action.
    expect(ok.json()).toMatchObject({ ok: true, message: 'bob answered', availability: { display: { kind: 'needs_person', action: 'finish_sign_in' } } });
    bob.probe = async () => { throw new Error('connection refused'); };
    const bad = await app.inject({ method: 'POST', url: '/admin/instances/bob/test', headers: auth });
    expect(bad.statusCode).toBe(200);
    expect(bad.json().ok).toBe(false);
    expect(bad.json().message).toMatch(/^bob did not answer: /);
    expect((await app.inject({ method: 'POST', url: '/admin/instances/zed/test', headers: auth })).statusCode).toBe(404);
  });

  it('keys: created key is returned once, list shows only prefixes, revoke works', async () => {
    const { app } = await build();
    expect((await app.inject({ method: 'POST', url: '/admin/keys', headers: auth, payload: {} })).json().error.message).toMatch(/name/);
    const created = await app.inject({ method: 'POST', url: '/admin/keys', headers: auth, payload: { name: 'laptop', rpm: 60 } });
    expect(created.statusCode).toBe(201);
    const { id, key } = created.json();
    expect(key).toMatch(/^sk-relay-/);
    const list = await app.inject({ url: '/admin/keys', headers: auth });
    expect(list.body).not.toContain(key);
    expect(list.json().some((k: { id: string }) => k.id === id)).toBe(true);
    expect((await app.inject({ method: 'DELETE', url: `/admin/keys/${id}`, headers: auth })).statusCode).toBe(200);
    expect((await app.inject({ method: 'DELETE', url: `/admin/keys/${id}`, headers: auth })).statusCode).toBe(404);
  });

  it('settings: live changes validated and applied', async () => {
    const { app, relay } = await build();
    const bad = await app.inject({ method: 'PATCH', url: '/admin/settings', headers: auth, payload: { maxInFlight: 0 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/maxInFlight/);
    // The route schema never coerces ("8" is not a number) nor drops unknown fields silently.
    const text = await app.inject({ method: 'PATCH', url: '/admin/settings', headers: auth, payload: { maxInFlight: '8' } });
    expect(text.json().error).toMatchObject({ type: 'invalid_request_error', param: 'maxInFlight', message: 'maxInFlight: expected a whole number from 1 to 100000.' });
    const extra = await app.inject({ method: 'PATCH', url: '/admin/settings', headers: auth, payload: { maxInFlight: 8, turbo: true } });
    expect(extra.json().error).toMatchObject({ param: 'turbo', message: "Unknown field 'turbo' in settings." });
    expect(relay.applied).toEqual([]);
    const notJson = await app.inject({ method: 'PATCH', url: '/admin/settings', headers: { ...auth, 'content-type': 'application/xml' }, payload: '<x/>' });
    // The gateway's one error mapping: an unsupported body type is a 415, not turned into a 400.
    expect(notJson.statusCode).toBe(415);
    const ok = await app.inject({ method: 'PATCH', url: '/admin/settings', headers: auth, payload: { maxInFlight: 8, loginAuto: false, logLevel: 'debug' } });
    expect(ok.statusCode).toBe(200);
    expect(relay.config.limits.maxInFlight).toBe(8);
    expect(relay.config.lingma.login.auto).toBe(false);
  });

  it('aliases: validated, saved through routing (file written, reloaded, in force); refusals change nothing', async () => {
    const relay = harness();
    const { app } = await build(relay);
    const file = relay.deps.aliases.file!;
    const before = readFileSync(file, 'utf8');
    const cycle = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: { a: { chain: ['b'] }, b: { chain: ['a'] } } } });
    expect(cycle.statusCode).toBe(400);
    expect(cycle.json().error.message).toMatch(/cycle: a -> b -> a/);
    const badProvider = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: { a: { chain: ['nope/model'] } } } });
    expect(badProvider.json().error.message).toMatch(/unknown provider 'nope'/);
    const badShape = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: { a: { chain: [] } } } });
    expect(badShape.statusCode).toBe(400);
    expect(badShape.json().error.message).toMatch(/aliases\.a/);
    const notObject = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: 'x' } });
    expect(notObject.statusCode).toBe(400);
    expect(notObject.json().error.param).toBe('aliases');
    expect(readFileSync(file, 'utf8')).toBe(before);

    const ok = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: { fast: { description: 'quick', chain: ['lingma/qwen3-coder'] } } } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().lastReload).toMatchObject({ ok: true });
    const written = readFileSync(file, 'utf8');
    expect(written).toContain('fast:');
    expect(relay.deps.resolver.aliases().map((a) => a.name).sort()).toEqual(['coder', 'fast']);
    const got = (await app.inject({ url: '/admin/aliases', headers: auth })).json();
    expect(got).toMatchObject({ path: file, raw: { fast: { description: 'quick' } } });
  });

  it('events: snapshot first, then live events; token via subprotocol', async () => {
    const { relay, port } = await listen(harness(), { tickMs: 100 });
    const refused = new WebSocket(`ws://127.0.0.1:${port}/admin/events`, ['relay-admin', 'bearer.wrong-token-xxxxxxxx']);
    refused.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => refused.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    }));
    expect(status).toBe(401);

    const ws = new WebSocket(`ws://127.0.0.1:${port}/admin/events`, ['relay-admin', `bearer.${ADMIN_TOKEN}`]);
    sockets.push(ws);
    const first = nextEvent(ws, () => true);
    await new Promise((r) => ws.once('open', r));
    expect(ws.protocol).toBe('relay-admin');
    const snap = await first;
    expect(snap.type).toBe('snapshot');

    const log = nextEvent(ws, (e) => e.type === 'log');
    relay.hub.emit('log', { time: Date.now(), level: 'info', msg: 'hello dashboard', requestId: 'r1' });
    expect(await log).toMatchObject({ type: 'log', line: { msg: 'hello dashboard', requestId: 'r1' } });

    const start = nextEvent(ws, (e) => e.type === 'request');
    relay.hub.emit('requestStart', { id: 'live-r2', requestId: 'r2', protocol: 'openai-chat', endpoint: '/v1/chat/completions', model: 'coder', stream: true, apiKeyId: 'k', startedAt: Date.now() });
    expect(await start).toMatchObject({ type: 'request', phase: 'start', request: { requestId: 'r2' } });

    const inst = nextEvent(ws, (e) => e.type === 'instance');
    relay.lingma.list[0].set('reconnecting');
    expect(await inst).toMatchObject({ type: 'instance', instance: { name: 'alice', state: 'reconnecting', limit: 2 } });

    const tick = nextEvent(ws, (e) => e.type === 'tick' && e.counters.rps === 1);
    relay.hub.emit('requestEnd', { id: 'live-r2', requestId: 'r2', protocol: 'openai-chat', endpoint: '/v1/chat/completions', model: 'coder', stream: true, apiKeyId: 'k', startedAt: Date.now(), status: 200 });
    expect(await tick).toMatchObject({ type: 'tick', inFlight: { alice: 0, bob: 0 }, sessionCache: { hits: 3, misses: 1, entries: 2 } });
  });

  it('drops a client that does not read, and keeps serving others', async () => {
    const { relay, port, app } = await listen(harness(), { maxBufferedBytes: 64 * 1024 });
    const slow = new WebSocket(`ws://127.0.0.1:${port}/admin/events`, ['relay-admin', `bearer.${ADMIN_TOKEN}`]);
    sockets.push(slow);
    await nextEvent(slow, (e) => e.type === 'snapshot');
    const closed = new Promise<number>((resolve) => slow.on('close', (code) => resolve(code)));
    // Stop reading: the kernel buffers fill, then the server-side buffer grows past the limit.
    (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    const line = 'x'.repeat(8 * 1024);
    for (let i = 0; i < 4000; i++) relay.hub.emit('log', { time: Date.now(), level: 'info', msg: line });
    // The gateway still answers while the slow client is being dropped.
    expect((await app.inject({ url: '/admin/state', headers: { ...auth, host: `127.0.0.1:${port}` } })).statusCode).toBe(200);
    (slow as unknown as { _socket: { resume(): void } })._socket.resume();
    const code = await closed;
    expect([SLOW_CLIENT_CLOSE_CODE, 1006]).toContain(code);
  });

  it('rejects a WebSocket from a foreign origin', async () => {
    const { port } = await listen();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/admin/events`, ['relay-admin', `bearer.${ADMIN_TOKEN}`], { origin: 'http://evil.example' });
    sockets.push(ws);
    ws.on('error', () => undefined);
    // The gateway's Origin guard refuses the upgrade itself (403), before the admin token check.
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    }));
    expect(status).toBe(403);
  });

  it('serves a clear page at /ui/ when the dashboard is not built, with a strict CSP', async () => {
    const { app } = await build(harness({ rendererDir: '/nonexistent' }));
    const redirect = await app.inject({ url: '/ui' });
    expect(redirect.statusCode).toBe(301);
    expect(redirect.headers.location).toBe('/ui/');
    const page = await app.inject({ url: '/ui/' });
    expect(page.statusCode).toBe(503);
    expect(page.body).toContain('npm run build:renderer');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
  });
});

describe('dashboard static files', () => {
  it('serves the built renderer at /ui/ with a strict CSP (the gateway ignores trailing slashes)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-ui-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>dash</title><script type="module" src="./assets/a.js"></script>');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'assets', 'a.js'), 'console.log(1)');
    {
      const a = await harness({ rendererDir: dir }).build();
      const r = await a.inject({ url: '/ui' });
      expect(r.statusCode).toBe(301);
      const page = await a.inject({ url: '/ui/' });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<title>dash</title>');
      expect(page.headers['content-security-policy']).toMatch(/default-src 'self'.*script-src 'self'/);
      const js = await a.inject({ url: '/ui/assets/a.js' });
      expect(js.statusCode).toBe(200);
      expect(js.headers['content-type']).toMatch(/javascript/);
      expect((await a.inject({ url: '/ui/../package.json' })).statusCode).not.toBe(200);
    }
  });

  it.each(['/ui/../../../../etc/passwd', '/ui/%2e%2e/%2e%2e/package.json', '/ui/..%2f..%2fpackage.json'])(
    'refuses %s sent byte for byte, in the error shape and without a 500, and still serves the dashboard',
    async (target) => {
      const dir = mkdtempSync(join(tmpdir(), 'relay-ui-'));
      dirs.push(dir);
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
      const { port } = await listen(harness({ rendererDir: dir }));
      const r = await rawRequest(port, { target });
      expect([400, 403, 404]).toContain(r.status);
      expect(r.body).not.toMatch(/root:|"name"\s*:/);
      expect(JSON.parse(r.body).error.type).toBe('invalid_request_error');
      const page = await rawRequest(port, { target: '/ui/' });
      expect(page.status).toBe(200);
      expect(page.body).toContain('<title>t</title>');
    },
  );
});

describe('snapshot details', () => {
  it('reports a disabled ledger and an unavailable accounts feature', async () => {
    const relay = harness({ providers: () => [] });
    const a = await relay.build();
    const s = (await a.inject({ url: '/admin/state', headers: auth })).json() as AdminSnapshot;
    expect(s.ledger).toMatchObject({ state: 'disabled' });
    expect(s.accountsEditable).toBe(false);
    expect(s.instances).toEqual([]);
    const add = await a.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: 'x', password: 'y' } });
    expect(add.statusCode).toBe(400);
    expect(add.json().error.message).toMatch(/Lingma backend is not set up/);
  });
});
