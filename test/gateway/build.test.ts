/**
 * The gateway's own routes and router (core/gateway/build.ts) through the whole relay (startCore)
 * over a fake OpenAI upstream: router errors in the OpenAI shape, /healthz, /metrics, body parsing.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthzBody } from '../../src-main/core/gateway/build';
import { fakeInstance, fakeProvider } from '../dispatch/fakes';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { startCore, type TestCore } from '../helpers/core';

let up: FakeUpstream;
let core: TestCore;
let port: number;
let key: string;

/** A raw request (the path is sent exactly as given: no normalization of `..` or escapes). */
function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
    });
    r.on('error', reject);
    if (body !== undefined) r.end(body);
    else r.end();
  });
}

const auth = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const post = (path: string, body: unknown, headers = auth()) => raw('POST', path, headers, typeof body === 'string' ? body : JSON.stringify(body));

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1'], chunks: 2 });
  core = await startCore({
    config: {
      providers: [{ name: 'up', type: 'openai', baseUrl: up.url, models: ['m1'] }],
      aliases: { coder: { chain: ['up/m1'] } },
    },
  });
  port = core.port;
  key = core.apiKey;
});

afterAll(async () => {
  await core?.close();
  await up?.close();
});

describe('router errors', () => {
  it.each(['/v1/models/%ZZ', '/ui/%ZZ'])('answers a bad percent-escape (%s) in the OpenAI shape with x-request-id', async (path) => {
    const r = await raw('GET', path, auth());
    expect(r.status).toBe(400);
    expect(r.headers['x-request-id']).toBeTruthy();
    const body = JSON.parse(r.body);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_url' });
    expect(body.error.message).toMatch(/%-escape/);
  });

  it('answers an over-long path parameter in the OpenAI shape with x-request-id', async () => {
    const r = await raw('GET', `/v1/models/${'a'.repeat(1500)}`, auth());
    expect(r.status).toBe(404);
    expect(r.headers['x-request-id']).toBeTruthy();
    expect(JSON.parse(r.body).error.type).toBe('invalid_request_error');
  });

  it('answers GET on a POST-only route with 405 and Allow', async () => {
    const r = await raw('GET', '/v1/chat/completions', auth());
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('POST');
    expect(JSON.parse(r.body).error).toMatchObject({ type: 'invalid_request_error', code: 'method_not_allowed' });
    expect((await raw('GET', '/v1/nothing-here', auth())).status).toBe(404);
  });
});

describe('/healthz answers', () => {
  it('reports login, health and serving per instance', async () => {
    const r = await raw('GET', '/healthz');
    expect(r.status).toBe(200);
    const b = JSON.parse(r.body);
    expect(b.ok).toBe(true);
    expect(b.instances[0]).toMatchObject({ provider: 'up', state: 'ready', login: 'not_applicable', healthy: true, serving: true });
  });
});

describe('/healthz body (healthzBody)', () => {
  it('counts an instance as serving only when ready, logged in (or no login) and healthy', () => {
    const ok = fakeInstance('ok-1', 'good');
    const loggedOut = fakeInstance('lingma-1', 'lingma');
    loggedOut.snapshot = () => ({ name: 'lingma-1', provider: 'lingma', kind: 'lingma', state: 'ready', login: { state: 'logged_out' }, restarts: 0 });
    const sick = fakeInstance('ollama', 'ollama');
    const health = (n: string) => (n === 'ollama' ? { healthy: false, lastError: 'Cannot reach ollama (connection refused).' } : { healthy: true });

    const down = healthzBody([fakeProvider('lingma', { instances: [loggedOut] }), fakeProvider('ollama', { instances: [sick] })], undefined, Date.now(), undefined, health);
    expect(down.ok).toBe(false);
    expect(down.reason).toMatch(/^no backend can serve: lingma-1 needs login; ollama unhealthy \(Cannot reach ollama \(connection refused\)\.\)$/);
    expect(down.instances).toEqual([
      {
        name: 'lingma-1', provider: 'lingma', state: 'ready', login: 'logged_out', healthy: true, serving: false, status: 'needs_person', reason: 'lingma-1 needs login', inFlight: 0,
        display: { kind: 'needs_person', label: 'Needs a person', detail: 'not signed in', process: 'process ready · signed out', action: 'sign_in' },
      },
      {
        name: 'ollama', provider: 'ollama', state: 'ready', login: 'not_applicable', healthy: false, serving: false, status: 'cooling_down',
        reason: 'ollama unhealthy (Cannot reach ollama (connection refused).)', inFlight: 0,
        display: {
          kind: 'cooling_down', label: 'Cooling down', detail: 'recent requests failed; retried after the cool-down', process: 'process ready',
          action: 'clear_cooldown', lastError: { text: 'Cannot reach ollama (connection refused).' },
        },
      },
    ]);

    const up = healthzBody([fakeProvider('lingma', { instances: [loggedOut] }), fakeProvider('good', { instances: [ok] })], () => 2, Date.now(), '1.0.0', health);
    expect(up.ok).toBe(true);
    expect(up.reason).toBeUndefined();
    expect(up.instances[1]).toMatchObject({ name: 'ok-1', serving: true, inFlight: 2 });

    const starting = fakeInstance('s1', 'p', { state: 'starting' });
    expect(healthzBody([fakeProvider('p', { instances: [starting] })], undefined, Date.now()).reason).toBe('no backend can serve: s1 is starting');
    expect(healthzBody([], undefined, Date.now()).reason).toMatch(/no backends configured/);
  });
});

describe('/healthz with a backend that cannot serve', () => {
  it('turns 503 with a reason once a request found nothing listening', async () => {
    // A port that was just free: nothing listens there.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const r2 = await startCore({
      config: { providers: [{ name: 'dead', type: 'openai', baseUrl: `http://127.0.0.1:${deadPort}/v1`, models: ['m'] }] },
    });
    const url = r2.url;
    try {
      const chat = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${r2.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'dead/m', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(chat.status).toBe(502);
      // The failure put the instance in backoff; probes keep failing, so this stays 503.
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(503);
      const b = (await res.json()) as { ok: boolean; reason: string; instances: unknown[] };
      expect(b.ok).toBe(false);
      expect(b.reason).toMatch(/^no backend can serve: dead\S* unhealthy/);
      expect(b.instances[0]).toMatchObject({ provider: 'dead', healthy: false, serving: false });
    } finally {
      await r2.close();
    }
  }, 30_000);
});

describe('/metrics', () => {
  it('has no series for unknown or hostile model names', async () => {
    for (const model of ['junk-1', 'junk-2', 'a\u0000b', 'z'.repeat(5000)]) {
      const r = await raw('POST', '/v1/chat/completions', auth(), JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }));
      expect(r.status).toBe(404);
    }
    const m = await raw('GET', '/metrics', auth());
    expect(m.status).toBe(200);
    expect(m.body).not.toContain('\u0000');
    expect(m.body).not.toMatch(/junk-|z{130}/);
    expect(m.body).toMatch(/relay_requests_total\{model="\(unresolved\)",protocol="openai-chat",status="404"\} 4/);
  });
});

describe('body parsing', () => {
  it('names prototype-poisoning keys instead of calling the JSON malformed', async () => {
    const r = await post('/v1/chat/completions', '{"model":"coder","messages":[],"__proto__":{"x":1}}');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.message).toMatch(/__proto__/);
  });
});
