/**
 * Providers managed from the dashboard (issue 17): an OpenAI-compatible provider added, edited,
 * tested and removed through the admin API serves at once (no restart), survives a restart, and
 * its key is write-only: in the secret store, never in settings.json, an admin response, the
 * snapshot or a log line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createCore, type Relay } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ADMIN = 'admin-token-providers-test-0001';
const KEY = 'sk-relay-providers-test-key-001';
const UPSTREAM_KEY = 'sk-upstream-very-secret-key-4242';
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const open: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});
afterAll(() => cleanupTempDirs());

async function startRelay(dataDir: string, lines: string[], providers: unknown[] = []): Promise<{ relay: Relay; url: string }> {
  const relay = await createCore({
    config: validateConfig({ server: { adminToken: ADMIN, apiKeys: [KEY] }, providers, discovery: { enabled: false } }),
    dataDir,
    secrets: new FileSecretStore(dataDir),
    lingma: 'never',
    processMetrics: false,
    env: { PATH: process.env.PATH },
    logger: createLogger({ level: 'debug', destination: { write: (s: string) => void lines.push(s) } }),
  });
  open.push({ close: () => relay.stop() });
  await relay.start();
  return { relay, url: await relay.listen({ host: '127.0.0.1', port: 0 }) };
}

async function upstream(): Promise<FakeUpstream> {
  const up = await startFakeOpenAI({ models: ['m1', 'm2'], apiKey: UPSTREAM_KEY, reply: 'pong' });
  open.push(up);
  return up;
}

function chat(url: string, model: string) {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }] }),
  });
}

const call = async (url: string, method: string, path: string, body?: unknown) => {
  const headers = body === undefined ? { authorization: admin.authorization } : admin;
  const res = await fetch(`${url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
};

describe('providers from the dashboard', () => {
  it('add → serves at once; edit keeps the key; test; remove; the key is never shown anywhere', async () => {
    const up = await upstream();
    const dir = tempDir();
    const lines: string[] = [];
    const { url } = await startRelay(dir, lines);
    const seen: string[] = [];

    const bad = await call(url, 'POST', '/admin/providers', { name: 'up', baseUrl: 'ftp://nope' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.param).toBe('baseUrl');

    const added = await call(url, 'POST', '/admin/providers', { name: 'up', baseUrl: up.url, apiKey: UPSTREAM_KEY, models: ['m1'], headers: { 'X-Team': 'blue' }, maxConcurrency: 4, tools: false });
    seen.push(added.text);
    expect(added.status).toBe(201);
    expect(JSON.parse(added.text).providers).toEqual([expect.objectContaining({ name: 'up', hasApiKey: true, headerNames: ['X-Team'], models: ['m1'], source: 'dashboard', tools: false })]);
    const dup = await call(url, 'POST', '/admin/providers', { name: 'up', baseUrl: up.url });
    expect(JSON.parse(dup.text).error).toMatchObject({ param: 'name', code: 'provider_exists' });

    // Live: routes without a restart, with the key and headers upstream.
    const first = await chat(url, 'up/m1');
    expect(first.status).toBe(200);
    expect(up.headers.at(-1)?.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(up.headers.at(-1)?.['x-team']).toBe('blue');

    const tested = await call(url, 'POST', '/admin/providers/up/test', {});
    seen.push(tested.text);
    expect(JSON.parse(tested.text)).toMatchObject({ ok: true });

    // Edit without a key: the key stays; the model list changes at once.
    const edited = await call(url, 'PATCH', '/admin/providers/up', { models: ['m2'] });
    seen.push(edited.text);
    expect(edited.status).toBe(200);
    expect((await chat(url, 'up/m2')).status).toBe(200);
    expect((await chat(url, 'up/m1')).status).toBe(404);
    expect(up.headers.at(-1)?.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);

    for (const path of ['/admin/state', '/admin/providers', '/admin/settings', '/admin/requests']) seen.push((await call(url, 'GET', path)).text);
    // SECURITY: the key is in the secret store only.
    const settings = readFileSync(join(dir, 'settings.json'), 'utf8');
    expect(settings).toContain('"up"');
    for (const text of [...seen, settings, lines.join('\n')]) expect(text).not.toContain(UPSTREAM_KEY);
    expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8'))).toMatchObject({ 'provider/up/apiKey': UPSTREAM_KEY });

    const removed = await call(url, 'DELETE', '/admin/providers/up');
    expect(removed.status).toBe(200);
    expect(JSON.parse(removed.text).providers).toEqual([]);
    expect((await chat(url, 'up/m2')).status).toBe(404);
    expect(readFileSync(join(dir, 'settings.json'), 'utf8')).not.toContain('"up"');
    expect(readFileSync(join(dir, 'secrets.json'), 'utf8')).not.toContain(UPSTREAM_KEY);
    expect((await call(url, 'DELETE', '/admin/providers/up')).status).toBe(404);
  });

  it('an answer streaming while its provider is edited or removed finishes whole (the old one retires, it is not cut)', async () => {
    const up = await startFakeOpenAI({ models: ['m1'], reply: 'one two three four five six seven eight', chunks: 8, chunkDelayMs: 60 });
    open.push(up);
    const { url } = await startRelay(tempDir(), []);
    expect((await call(url, 'POST', '/admin/providers', { name: 'up', baseUrl: up.url, models: ['m1'] })).status).toBe(201);
    for (const change of [() => call(url, 'PATCH', '/admin/providers/up', { maxConcurrency: 3 }), () => call(url, 'DELETE', '/admin/providers/up')]) {
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'up/m1', stream: true, messages: [{ role: 'user', content: 'count' }] }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = await reader.read(); // the answer has started
      expect(first.done).toBe(false);
      expect((await change()).status).toBe(200);
      let text = new TextDecoder().decode(first.value);
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const said = text.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)).choices?.[0]?.delta?.content ?? '').join('');
      expect(said).toBe('one two three four five six seven eight');
      expect(text).toContain('data: [DONE]');
      expect(text).not.toContain('"error"');
    }
  });

  it('survives a restart with its key (read from the secret store); clearApiKey removes it', async () => {
    const up = await upstream();
    const dir = tempDir();
    const a = await startRelay(dir, []);
    expect((await call(a.url, 'POST', '/admin/providers', { name: 'up', baseUrl: up.url, apiKey: UPSTREAM_KEY, models: ['m1'] })).status).toBe(201);
    await a.relay.stop();
    const b = await startRelay(dir, []);
    expect((await chat(b.url, 'up/m1')).status).toBe(200);
    expect(up.headers.at(-1)?.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect((await call(b.url, 'PATCH', '/admin/providers/up', { clearApiKey: true })).status).toBe(200);
    expect(JSON.parse((await call(b.url, 'GET', '/admin/providers')).text)[0].hasApiKey).toBe(false);
    // The upstream now refuses: the relay sent no key.
    expect((await chat(b.url, 'up/m1')).status).toBeGreaterThanOrEqual(400);
    expect(up.headers.at(-1)?.authorization).toBeUndefined();
    expect(existsSync(join(dir, 'secrets.json')) ? readFileSync(join(dir, 'secrets.json'), 'utf8') : '').not.toContain(UPSTREAM_KEY);
  });

  it('a provider from the config file is not editable here (400 saying where); unknown ones are 404', async () => {
    const up = await upstream();
    const { url } = await startRelay(tempDir(), [], [{ name: 'cfg', type: 'openai', baseUrl: up.url, apiKey: UPSTREAM_KEY, models: ['m1'] }]);
    const list = await call(url, 'GET', '/admin/providers');
    expect(list.text).not.toContain(UPSTREAM_KEY);
    expect(JSON.parse(list.text)).toEqual([expect.objectContaining({ name: 'cfg', source: 'config', hasApiKey: true })]);
    const edit = await call(url, 'PATCH', '/admin/providers/cfg', { maxConcurrency: 2 });
    expect(edit.status).toBe(400);
    expect(JSON.parse(edit.text).error).toMatchObject({ code: 'provider_not_editable', message: expect.stringMatching(/config file/) });
    expect((await call(url, 'PATCH', '/admin/providers/ghost', { maxConcurrency: 2 })).status).toBe(404);
    const badField = await call(url, 'PATCH', '/admin/providers/cfg', { maxConcurrency: 0 });
    expect(JSON.parse(badField.text).error.param).toBe('maxConcurrency');
  });
});
