/** QA findings over HTTP, through the whole relay (createRelay) and a fake OpenAI upstream. */
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createRelay, type Relay } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

let up: FakeUpstream;
let relay: Relay;
let base: string;
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

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1'], chunks: 2 });
  const dataDir = tempDir();
  const rendererDir = join(dataDir, 'renderer');
  mkdirSync(rendererDir);
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
  const config = validateConfig({
    providers: [{ name: 'up', type: 'openai', baseUrl: up.url, models: ['m1'] }],
    aliases: { coder: { chain: ['up/m1'] } },
  });
  relay = await createRelay({
    config, dataDir, rendererDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false,
    logger: createLogger({ level: 'silent' }),
  });
  await relay.start();
  base = await relay.listen({ host: '127.0.0.1', port: 0 });
  port = Number(new URL(base).port);
  key = relay.firstRun.apiKey!;
});

afterAll(async () => {
  await relay?.stop();
  await up?.close();
  cleanupTempDirs();
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

describe('dashboard path traversal', () => {
  it.each(['/ui/../../../../etc/passwd', '/ui/%2e%2e/%2e%2e/package.json', '/ui/..%2f..%2fpackage.json'])('refuses %s without a 500', async (path) => {
    const r = await raw('GET', path);
    expect([403, 404]).toContain(r.status);
    expect(r.body).not.toMatch(/root:|"name"\s*:/);
    expect(JSON.parse(r.body).error.type).toBe('invalid_request_error');
  });

  it('still serves the dashboard', async () => {
    const r = await raw('GET', '/ui/');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>t</title>');
  });
});

describe('Anthropic count_tokens', () => {
  it('404s an unknown model in the Anthropic shape and counts a known one', async () => {
    const body = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }] });
    const bad = await raw('POST', '/v1/messages/count_tokens', auth(), body('no-such-model'));
    expect(bad.status).toBe(404);
    const e = JSON.parse(bad.body);
    expect(e.type).toBe('error');
    expect(e.error.type).toBe('not_found_error');
    expect(e.error.message).toMatch(/no-such-model/);
    const ok = await raw('POST', '/v1/messages/count_tokens', auth(), body('coder'));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).input_tokens).toBeGreaterThan(0);
  });
});

describe('response ids', () => {
  it('are unique even when the client reuses x-request-id, which stays the correlation id', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await raw('POST', '/v1/chat/completions', { ...auth(), 'x-request-id': 'myreq1' }, JSON.stringify({ model: 'coder', messages: [{ role: 'user', content: 'hi' }] }));
      expect(r.status).toBe(200);
      expect(r.headers['x-request-id']).toBe('myreq1');
      ids.push(JSON.parse(r.body).id);
    }
    expect(ids[0]).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[0]).not.toContain('myreq1');
  });
});

describe('/healthz', () => {
  it('reports login, health and serving per instance', async () => {
    const r = await raw('GET', '/healthz');
    expect(r.status).toBe(200);
    const b = JSON.parse(r.body);
    expect(b.ok).toBe(true);
    expect(b.instances[0]).toMatchObject({ provider: 'up', state: 'ready', login: 'not_applicable', healthy: true, serving: true });
  });
});

describe('mid-stream upstream errors', () => {
  it('name the provider', async () => {
    up.enqueue({ errorAfterChunks: 1 });
    const r = await raw('POST', '/v1/chat/completions', auth(), JSON.stringify({ model: 'coder', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(r.body).toMatch(/up: fake mid-stream failure/);
    expect(r.body).not.toMatch(/the provider:/);
  });
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

describe('validation messages', () => {
  const post = (path: string, body: unknown, headers = auth()) => raw('POST', path, headers, typeof body === 'string' ? body : JSON.stringify(body));

  it('explain embeddings input, content elements and Responses input', async () => {
    const emb = JSON.parse((await post('/v1/embeddings', { model: 'up/m1', input: {} })).body).error.message;
    expect(emb).toMatch(/^input must be a string, an array of strings, .*token arrays/);
    const content = JSON.parse((await post('/v1/chat/completions', { model: 'coder', messages: [{ role: 'user', content: [null] }] })).body).error;
    expect(content.message).toMatch(/^messages\[0\]\.content\[0\] must be a content part object/);
    const resp = await post('/v1/responses', { model: 'coder', input: 5 });
    expect(resp.status).toBe(400);
    expect(JSON.parse(resp.body).error.message).toMatch(/input.*must be a string or an array of items/);
  });

  it('says the scheme must be Bearer for Authorization: Basic, without echoing the credentials', async () => {
    const r = await post('/v1/chat/completions', { model: 'coder', messages: [] }, { authorization: `Basic ${key}`, 'content-type': 'application/json' });
    expect(r.status).toBe(401);
    const msg = JSON.parse(r.body).error.message;
    expect(msg).toMatch(/Basic.*Bearer.*x-api-key/);
    expect(msg).not.toContain(key);
  });

  it('names prototype-poisoning keys instead of calling the JSON malformed', async () => {
    const r = await post('/v1/chat/completions', '{"model":"coder","messages":[],"__proto__":{"x":1}}');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error.message).toMatch(/__proto__/);
  });
});

describe('/healthz with a backend that cannot serve', () => {
  it('turns 503 with a reason once a request found nothing listening', async () => {
    // A port that was just free: nothing listens there.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const deadPort = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const dataDir = tempDir();
    const config = validateConfig({
      providers: [{ name: 'dead', type: 'openai', baseUrl: `http://127.0.0.1:${deadPort}/v1`, models: ['m'] }],
    });
    const r2 = await createRelay({ config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false, logger: createLogger({ level: 'silent' }) });
    try {
      await r2.start();
      const url = await r2.listen({ host: '127.0.0.1', port: 0 });
      const chat = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${r2.firstRun.apiKey}`, 'content-type': 'application/json' },
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
      await r2.stop();
    }
  }, 30_000);
});
