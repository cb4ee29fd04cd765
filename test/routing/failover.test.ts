/**
 * Routing that survives failure, end to end: the real relay (createCore → buildGateway on a
 * loopback socket), two fake OpenAI-compatible upstreams and the Lingma simulator as backends,
 * faults injected on each; clients speak plain HTTP.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LingmaInstance } from '../../src-main/core/backends/lingma/instance';
import type { LingmaProvider } from '../../src-main/core/backends/lingma/provider';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { MemorySecrets, SIM_BIN, sim, simSpawner, waitFor } from '../lingma/helpers';

const KEY = 'sk-relay-failover-test-key';
const LINGMA = 'lingma/dashscope_qwen3_coder';

const ALIASES_V1 = `
coder:
  description: Lingma first, HTTP fallback
  chain: [${LINGMA}, up/m1]
http-first:
  chain: [up/m1, up2/m2]
fast:
  chain:
    - { target: up/m1, firstByteTimeoutMs: 400 }
    - up2/m2
"claude-*": { chain: [http-first] }
dead-first: { chain: [dead/x, up/m1] }
`;

let up: FakeUpstream;
let up2: FakeUpstream;
let relay: Relay;
let url: string;
let dir: string;
let aliasesFile: string;
let lingma: LingmaInstance;

const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

async function chat(model: string, stream = false, extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers,
    signal,
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hello relay' }], ...extra }),
  });
}

/** SSE `data:` payloads of a whole streamed answer. */
async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => l.slice(6));
}

/** The text of a streamed answer, from its chunks. */
function contentOf(frames: string[]): string {
  return frames
    .filter((f) => f.startsWith('{"id"'))
    .map((f) => JSON.parse(f).choices?.[0]?.delta?.content ?? '')
    .join('');
}

async function getJson(path: string): Promise<any> {
  const r = await fetch(`${url}${path}`, { headers });
  expect(r.status).toBe(200);
  return r.json();
}

async function allHealthy(): Promise<void> {
  await waitFor(async () => {
    const h = await getJson('/v1/health');
    // `dead` points at a closed port on purpose: it never recovers.
    return h.data.every((d: { instance: string; healthy: boolean; state: string }) => d.instance === 'dead' || (d.healthy && d.state === 'ready'));
  }, 'every instance healthy and ready', 30_000);
}

async function idle(): Promise<void> {
  // The stream's end and the slot release race the client's read of the last frame: poll.
  await waitFor(() => relay.admission.stats().inFlight === 0 && relay.pool.totalInFlight() === 0, 'in-flight back to 0', 10_000);
  expect(relay.admission.stats().queued).toBe(0);
  const m = await relay.metrics.registry.getSingleMetricAsString('relay_in_flight');
  expect(m).toMatch(/relay_in_flight 0/);
}

async function metric(name: string): Promise<string> {
  return relay.metrics.registry.getSingleMetricAsString(name);
}

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1'], reply: 'from up' });
  up2 = await startFakeOpenAI({ models: ['m2'], reply: 'from up2' });
  dir = mkdtempSync(join(tmpdir(), 'relay-failover-'));
  // A port nobody listens on: connection refused.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  aliasesFile = join(dir, 'aliases.yaml');
  writeFileSync(aliasesFile, ALIASES_V1);
  const config = validateConfig({
    server: { apiKeys: [KEY], logLevel: process.env.TEST_LOG ? 'debug' : 'silent' },
    lingma: { binary: SIM_BIN, accounts: [{ username: 'alice', password: 'pw-alice' }], startupTimeoutMs: 20_000 },
    providers: [
      { name: 'up', type: 'openai', baseUrl: up.url, models: ['m1'] },
      { name: 'up2', type: 'openai', baseUrl: up2.url, models: ['m2'] },
      { name: 'dead', type: 'openai', baseUrl: `http://127.0.0.1:${deadPort}/v1`, models: ['x'] },
    ],
    aliasesFile,
    limits: { maxSwitches: 3, firstByteTimeoutMs: 15_000, queueTimeoutMs: 5_000 },
    health: { failureThreshold: 1, baseBackoffMs: 100, maxBackoffMs: 300, probeIntervalMs: 100 },
    ledger: { enabled: false },
  });
  relay = await createCore({
    config,
    dataDir: join(dir, 'data'),
    secrets: new MemorySecrets(),
    spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'alice' }),
    env: { ...process.env, LINGMA_BIN: '' },
    processMetrics: false,
  });
  await relay.start();
  url = await relay.listen({ host: '127.0.0.1', port: 0 });
  const provider = relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
  await provider.whenStarted();
  lingma = provider.lingmaInstances()[0];
  await lingma.ensureReady(new AbortController().signal);
  await waitFor(() => provider.models().some((m) => m.id === 'dashscope_qwq'), 'Lingma models listed');
}, 90_000);

afterAll(async () => {
  await relay?.stop();
  await up?.close();
  await up2?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await idle();
});

describe('failover through the real gateway', () => {
  it('the first target serves and the answer names it', async () => {
    await allHealthy();
    await sim(lingma, { reset: true, reply: { mode: 'fixed', text: 'from lingma' } });
    const r = await chat('coder');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-relay-resolved')).toBe(LINGMA);
    expect(((await r.json()) as any).choices[0].message.content).toBe('from lingma');

    const s = await chat('coder', true);
    expect(s.headers.get('content-type')).toMatch(/text\/event-stream/);
    const frames = await sseData(s);
    expect(frames[frames.length - 1]).toBe('[DONE]');
    for (const f of frames.slice(0, -1)) expect(JSON.parse(f).model).toBe(LINGMA);
    expect(await metric('relay_alias_resolved_total')).toContain(`alias="coder",target="${LINGMA}"`);
  });

  it('Lingma answering 500 fails over to the HTTP provider; health records it; the prober brings it back', async () => {
    await allHealthy();
    await sim(lingma, { reset: true, finishStatus: [500] });
    const before = up.requests.length;
    const r = await chat('coder');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-relay-resolved')).toBe('up/m1');
    expect(((await r.json()) as any).choices[0].message.content).toBe('from up');
    expect(up.requests.length).toBe(before + 1);
    const h = await getJson('/v1/health');
    const entry = h.data.find((d: { instance: string }) => d.instance === lingma.name);
    expect(entry.consecutiveFailures).toBeGreaterThanOrEqual(1);
    expect(entry.lastError).toBeTruthy();
    expect(await metric('relay_fallback_total')).toMatch(new RegExp(`from="${lingma.name}",to="up"`));
    await allHealthy();
    expect(await metric('relay_backend_healthy')).toContain(`backend="${lingma.name}"} 1`);
  });

  it('a 429 with Retry-After moves on; when every target fails the shortest Retry-After wins over a 502', async () => {
    await allHealthy();
    up.enqueue({ status: 429, retryAfter: 9 });
    const r = await chat('http-first');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-relay-resolved')).toBe('up2/m2');
    await r.text();

    await allHealthy();
    up.enqueue({ status: 429, retryAfter: 7 });
    up2.enqueue({ status: 500 });
    const all = await chat('http-first');
    expect(all.status).toBe(429);
    expect(all.headers.get('retry-after')).toBe('7');
    const body = (await all.json()) as any;
    expect(body.error.type).toBe('rate_limit_error');

    await allHealthy();
    up.enqueue({ status: 500 });
    up2.enqueue({ status: 503 });
    const down = await chat('http-first', true);
    expect(down.status).toBeGreaterThanOrEqual(500);
    expect(((await down.json()) as any).error.message).toBeTruthy();
  });

  it('a refused connection fails over to the next target', async () => {
    await allHealthy();
    const r = await chat('dead-first', true);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-relay-resolved')).toBe('up/m1');
    expect(contentOf(await sseData(r))).toBe('from up');
    const h = await getJson('/v1/health');
    const dead = h.data.find((d: { instance: string }) => d.instance === 'dead');
    expect(dead.healthy).toBe(false);
    expect(dead.lastError).toMatch(/Could not reach dead/);
    // Unhealthy now: the next request goes to the healthy target first, without trying `dead`.
    const again = await chat('dead-first');
    expect(again.headers.get('x-relay-resolved')).toBe('up/m1');
    await again.text();
  });

  it('a hanging upstream hits the first-byte timeout, is cancelled, and the next target serves', async () => {
    await allHealthy();
    const abortedBefore = up.aborted();
    up.enqueue({ hang: true });
    const r = await chat('fast', true);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-relay-resolved')).toBe('up2/m2');
    const frames = await sseData(r);
    expect(contentOf(frames)).toBe('from up2');
    await waitFor(() => up.aborted() > abortedBefore && up.open() === 0, 'the hung upstream call was cancelled');
    const rec = (await metric('relay_fallback_total')).split('\n').find((l) => l.includes('from="up"') && l.includes('first_byte_timeout'));
    expect(rec).toBeTruthy();
  });

  it('a killed Lingma process fails over, and the instance comes back', async () => {
    await allHealthy();
    await sim(lingma, { reset: true, crashAfterDeltas: 0 });
    const r = await chat('coder');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-relay-resolved')).toBe('up/m1');
    await r.text();
    // The supervisor restarts the process; health recovers through the prober.
    await allHealthy();
    await sim(lingma, { reset: true, reply: { mode: 'fixed', text: 'back again' } });
    const again = await chat('coder');
    expect(again.headers.get('x-relay-resolved')).toBe(LINGMA);
    expect(((await again.json()) as any).choices[0].message.content).toBe('back again');
  });

  it('a stream that fails after its first byte ends with one error event and [DONE], without retry', async () => {
    await allHealthy();
    up.setOptions({ chunks: 6 });
    const before = up2.requests.length;
    up.enqueue({ dropAfterChunks: 2 });
    const r = await chat('http-first', true);
    expect(r.status).toBe(200);
    const frames = await sseData(r);
    up.setOptions({ chunks: 4 });
    expect(frames[frames.length - 1]).toBe('[DONE]');
    const errorsSeen = frames.filter((f) => f.startsWith('{"error"'));
    expect(errorsSeen).toHaveLength(1);
    expect(JSON.parse(errorsSeen[0]).error.message).toBeTruthy();
    expect(frames.filter((f) => f !== '[DONE]' && !f.startsWith('{"error"')).length).toBeGreaterThan(0);
    expect(up2.requests.length).toBe(before);
  });

  it('a client that leaves mid-stream frees every slot and cancels upstream', async () => {
    await allHealthy();
    up.setOptions({ chunks: 50, chunkDelayMs: 50 });
    const abortedBefore = up.aborted();
    const ctrl = new AbortController();
    const r = await chat('up/m1', true, {}, ctrl.signal);
    const reader = r.body!.getReader();
    await reader.read();
    ctrl.abort();
    await reader.cancel().catch(() => undefined);
    await waitFor(() => up.aborted() > abortedBefore && up.open() === 0, 'upstream cancelled');
    up.setOptions({ chunks: 4, chunkDelayMs: 0 });
  });

  it('lists aliases and serves patterns', async () => {
    const a = await getJson('/v1/aliases');
    const coder = a.data.find((x: { name: string }) => x.name === 'coder');
    expect(coder).toMatchObject({ description: 'Lingma first, HTTP fallback', chain: [LINGMA, 'up/m1'], expanded: [LINGMA, 'up/m1'], pattern: false });
    expect(a.data.find((x: { name: string }) => x.name === 'claude-*')).toMatchObject({ pattern: true, expanded: ['up/m1', 'up2/m2'] });
    await allHealthy();
    const r = await chat('claude-sonnet-4-5');
    expect(r.headers.get('x-relay-resolved')).toBe('up/m1');
    await r.text();
    const models = await getJson('/v1/models');
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining(['coder', 'http-first']));
  });

  it('reloads on SIGHUP and on file change; a broken file keeps the old aliases', async () => {
    const onHup = () => relay.reloadAliases();
    process.on('SIGHUP', onHup);
    try {
      writeFileSync(aliasesFile, `${ALIASES_V1}\nhupped: up2/m2\n`);
      process.kill(process.pid, 'SIGHUP');
      await waitFor(async () => (await chat('hupped')).headers.get('x-relay-resolved') === 'up2/m2', 'alias added by SIGHUP');

      writeFileSync(aliasesFile, `${ALIASES_V1}\nhupped: up2/m2\nwatched: up/m1\n`);
      await waitFor(async () => (await chat('watched')).headers.get('x-relay-resolved') === 'up/m1', 'alias added by file change');

      writeFileSync(aliasesFile, 'coder: { chain: [a, b], bogus: true }\n');
      process.kill(process.pid, 'SIGHUP');
      const a = await waitFor(async () => {
        const j = await getJson('/v1/aliases');
        return j.lastReload && j.lastReload.ok === false ? j : undefined;
      }, 'rejected reload visible');
      expect(a.lastReload.error).toMatch(/alias 'coder': unknown key 'bogus'/);
      const still = await chat('watched');
      expect(still.status).toBe(200);
      expect(still.headers.get('x-relay-resolved')).toBe('up/m1');
      await still.text();
    } finally {
      process.off('SIGHUP', onHup);
      writeFileSync(aliasesFile, ALIASES_V1);
      relay.reloadAliases();
    }
  });

  it('unknown models get a 404 naming valid ones', async () => {
    const r = await chat('no-such-model');
    expect(r.status).toBe(404);
    const body = (await r.json()) as any;
    expect(body.error.code).toBe('model_not_found');
    expect(body.error.message).toMatch(/Try one of/);
  });
});
