/** The whole relay (createCore: real dispatcher, pool, admission, ledger) over the fake OpenAI upstream. */
import OpenAI from 'openai';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createCore, type Relay } from '../../src-main/core/relay';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

let up: FakeUpstream;
let relay: Relay;
let client: OpenAI;
let key: string;

const waitFor = async (cond: () => boolean, what: string, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1', 'emb'], chunks: 3 });
  const dataDir = tempDir();
  const config = validateConfig({
    providers: [{ name: 'up', type: 'openai', baseUrl: up.url }],
    aliases: { coder: { chain: ['up/m1'] } },
    limits: { maxInFlight: 2, queueTimeoutMs: 200, keepAliveMs: 1000, shutdownGraceMs: 2000 },
  });
  relay = await createCore({
    config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false,
    logger: createLogger({ level: 'silent' }),
  });
  await relay.start();
  const url = await relay.listen({ host: '127.0.0.1', port: 0 });
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  key = relay.firstRun.apiKey!;
  expect(key).toMatch(/^sk-relay-/);
  expect(relay.firstRun.adminToken).toBeTruthy();
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: key, maxRetries: 0 });
});

afterAll(async () => {
  await relay?.stop();
  await up?.close();
  cleanupTempDirs();
});

describe('relay end to end', () => {
  it('lists provider models and aliases', async () => {
    // the provider lists its models in the background after start
    await waitFor(() => relay.providers[0].models().length > 0, 'the model list');
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['up/m1', 'coder']));
  });

  it('answers streaming and non-streaming through an alias', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'coder', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    expect(data.choices[0].message.content).toBe('Echo: hello');
    expect(response.headers.get('x-relay-resolved')).toBe('up/m1');
    const stream = await client.chat.completions.create({
      model: 'up/m1', messages: [{ role: 'user', content: 'streaming' }], stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let sawUsage = false;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.usage) sawUsage = true;
      expect(c.model).toBe('up/m1');
    }
    expect(text).toBe('Echo: streaming');
    expect(sawUsage).toBe(true);
    expect(up.requests[up.requests.length - 1].model).toBe('m1');
  });

  it('404s an unknown model with suggestions', async () => {
    const e = await client.chat.completions.create({ model: 'nope-model', messages: [{ role: 'user', content: 'x' }] }).catch((x) => x);
    expect(e.status).toBe(404);
    expect(e.error?.code ?? e.code).toBe('model_not_found');
  });

  it('a client leaving mid-stream frees the slot and aborts the upstream call', async () => {
    up.setOptions({ chunkDelayMs: 200, chunks: 50 });
    try {
      const abortedBefore = up.aborted();
      const ac = new AbortController();
      const r = await fetch(`${relay.url()}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'up/m1', stream: true, messages: [{ role: 'user', content: 'a long answer please' }] }),
        signal: ac.signal,
      });
      const reader = r.body!.getReader();
      await reader.read();
      expect(relay.admission.stats().inFlight).toBe(1);
      ac.abort();
      await waitFor(() => relay.admission.stats().inFlight === 0, 'the slot to be released');
      await waitFor(() => up.aborted() > abortedBefore, 'the upstream request to be aborted');
      expect(relay.pool.totalInFlight()).toBe(0);
    } finally {
      up.setOptions({ chunkDelayMs: 0, chunks: 3 });
    }
  });

  it('429s with Retry-After when saturated, and recovers', async () => {
    up.enqueue({ hang: true }, { hang: true });
    const ac = new AbortController();
    const hold = [0, 1].map(() =>
      fetch(`${relay.url()}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'up/m1', stream: true, messages: [{ role: 'user', content: 'hold' }] }),
        signal: ac.signal,
      }).catch(() => undefined),
    );
    await waitFor(() => relay.admission.stats().inFlight === 2, 'two requests in flight');
    const r = await fetch(`${relay.url()}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'up/m1', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await r.json()) as any).error.type).toBe('rate_limit_error');
    ac.abort();
    await Promise.all(hold);
    await waitFor(() => relay.admission.stats().inFlight === 0, 'slots to be released');
    const ok = await client.chat.completions.create({ model: 'up/m1', messages: [{ role: 'user', content: 'again' }] });
    expect(ok.choices[0].message.content).toBe('Echo: again');
  });

  it('serves healthz, metrics and the routing/admin plugins', async () => {
    const h = await fetch(`${relay.url()}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ ok: true, instances: [{ name: 'up', state: 'ready', inFlight: 0 }] });
    const m = await (await fetch(`${relay.url()}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
    expect(m).toMatch(/relay_requests_total\{[^}]*\} \d+/);
    expect(m).toMatch(/relay_backend_ready\{backend="up"\} 1/);
    expect((await fetch(`${relay.url()}/v1/aliases`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await fetch(`${relay.url()}/admin/state`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    const admin = await fetch(`${relay.url()}/admin/usage/status`, { headers: { authorization: `Bearer ${relay.adminToken()}` } });
    expect(admin.status).toBe(200);
  });
});

describe('graceful stop', () => {
  it('lets an in-flight stream finish, refuses new connections, and flushes the ledger', async () => {
    const slow = await startFakeOpenAI({ models: ['m1'], chunks: 8, chunkDelayMs: 60 });
    const dataDir = tempDir();
    const config = validateConfig({
      server: { apiKeys: ['sk-relay-stop-test-0001'] },
      providers: [{ name: 'up', type: 'openai', baseUrl: slow.url, models: ['m1'] }],
      limits: { shutdownGraceMs: 10_000 },
    });
    const r = await createCore({ config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false, logger: createLogger({ level: 'silent' }) });
    try {
      await r.start();
      const url = await r.listen({ host: '127.0.0.1', port: 0 });
      const res = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-relay-stop-test-0001', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'up/m1', stream: true, messages: [{ role: 'user', content: 'finish me please' }] }),
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read(); // the stream is under way
      const stopped = r.stop();
      let text = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain('data: [DONE]');
      await stopped;
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(join(dataDir, 'usage.db'), { readonly: true });
      try {
        const n = (db.prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n;
        expect(n).toBe(1);
      } finally {
        db.close();
      }
    } finally {
      await r.stop();
      await slow.close();
    }
  });
});
