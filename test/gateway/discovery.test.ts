/**
 * Zero-configuration start (issue 16, "Measured" (b)): a local OpenAI-compatible server found on
 * 127.0.0.1 is offered, used only after a person confirms it through the admin API, then serves;
 * the confirmed provider survives a restart. Only 127.0.0.1 is ever probed.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { probeLocalServer } from '../../src-main/core/backends/openai/local';
import { probeList } from '../../src-main/core/backends/discovery';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createCore, type Relay } from '../../src-main/core/relay';
import type { DiscoveryView } from '../../src-main/core/state-types';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ADMIN = 'admin-token-discovery-test-01';
const KEY = 'sk-relay-discovery-test-key-01';
const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
const open: Array<{ close(): unknown }> = [];

afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});
afterAll(() => cleanupTempDirs());

/** A port nothing listens on (bound, read, released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startRelay(dataDir: string, discovery: Record<string, unknown>, opts: { discover?: boolean; lines?: string[] } = {}): Promise<{ relay: Relay; url: string }> {
  const relay = await createCore({
    config: validateConfig({ server: { adminToken: ADMIN, apiKeys: [KEY] }, discovery }),
    dataDir,
    secrets: new FileSecretStore(dataDir),
    lingma: 'never',
    processMetrics: false,
    env: { PATH: process.env.PATH },
    discover: opts.discover,
    logger: createLogger({ level: 'info', destination: { write: (s: string) => void opts.lines?.push(s) } }),
  });
  open.push({ close: () => relay.stop() });
  await relay.start();
  return { relay, url: await relay.listen({ host: '127.0.0.1', port: 0 }) };
}

function chat(url: string, model: string) {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello there' }] }),
  });
}

describe('discovery of local servers', () => {
  it('offers a fake Ollama, uses it only after a person confirms, then serves and keeps it', async () => {
    const fake: FakeUpstream = await startFakeOpenAI({ models: ['qwen3:8b', 'llama3.2:3b', 'nomic-embed-text'] });
    open.push(fake);
    const missing = await freePort();
    const dataDir = tempDir();
    const lines: string[] = [];
    const a = await startRelay(dataDir, { ports: { ollama: fake.port, vllm: missing } }, { lines });

    // Offered, with its models; the port where nothing answers is not.
    const offered = (await (await fetch(`${a.url}/admin/discovery`, { headers: admin })).json()) as DiscoveryView;
    expect(offered.probed).toEqual([{ id: 'ollama', port: fake.port }, { id: 'vllm', port: missing }]);
    expect(offered.servers).toEqual([
      { id: 'ollama', label: 'Ollama', port: fake.port, baseUrl: `http://127.0.0.1:${fake.port}/v1`, models: ['qwen3:8b', 'llama3.2:3b', 'nomic-embed-text'], status: 'offered' },
    ]);
    expect(lines.join('')).toContain(`found Ollama on :${fake.port} with 3 models: run with --discover to use it, or \\"Use it\\" on the dashboard's Overview`);
    // The dashboard gets it in its snapshot too.
    const snap = (await (await fetch(`${a.url}/admin/state`, { headers: admin })).json()) as { discovery: DiscoveryView };
    expect(snap.discovery.servers[0]).toMatchObject({ id: 'ollama', status: 'offered' });

    // Not used before confirmation: no provider, the model is unknown, the fake got no call.
    expect(a.relay.providers.map((p) => p.name)).toEqual([]);
    const before = await chat(a.url, 'ollama/qwen3:8b');
    expect(before.status).toBe(404);
    expect(fake.requests).toHaveLength(0);

    // Admin-only.
    expect((await fetch(`${a.url}/admin/discovery/ollama/use`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${a.url}/admin/discovery`)).status).toBe(401);
    // A name nothing was found under is a clear 404.
    const unknown = await fetch(`${a.url}/admin/discovery/lmstudio/use`, { method: 'POST', headers: admin, body: '{}' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/Nothing called 'lmstudio' was found/);

    // A person confirms: provider 'ollama' serves at once, no restart.
    const used = await fetch(`${a.url}/admin/discovery/ollama/use`, { method: 'POST', headers: admin, body: '{}' });
    expect(used.status).toBe(200);
    const body = await used.json();
    expect(body).toMatchObject({ ok: true, server: { id: 'ollama', status: 'in_use' } });
    expect(a.relay.providers.map((p) => p.name)).toEqual(['ollama']);
    const res = await chat(a.url, 'ollama/qwen3:8b');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe('Echo: hello there');
    expect(fake.requests.at(-1)).toMatchObject({ model: 'qwen3:8b' });
    // Confirming again changes nothing.
    expect((await fetch(`${a.url}/admin/discovery/ollama/use`, { method: 'POST', headers: admin, body: '{}' })).status).toBe(200);
    expect(a.relay.providers.map((p) => p.name)).toEqual(['ollama']);

    // Saved like the other live settings, and back at the next start without asking again.
    const saved = JSON.parse(readFileSync(join(dataDir, 'settings.json'), 'utf8'));
    expect(saved.providers).toEqual([{ name: 'ollama', type: 'openai', baseUrl: `http://127.0.0.1:${fake.port}/v1` }]);
    await a.relay.stop();
    const b = await startRelay(dataDir, { ports: { ollama: fake.port } });
    expect(b.relay.providers.map((p) => p.name)).toEqual(['ollama']);
    expect((await chat(b.url, 'ollama/llama3.2:3b')).status).toBe(200);
    // A start with a provider configured does not scan by itself.
    expect(b.relay.discovery.view().scannedAt).toBeUndefined();
  });

  it('headless --discover uses what it finds at start', async () => {
    const fake = await startFakeOpenAI({ models: ['m1'] });
    open.push(fake);
    const { relay, url } = await startRelay(tempDir(), { ports: { lmstudio: fake.port } }, { discover: true });
    expect(relay.providers.map((p) => p.name)).toEqual(['lmstudio']);
    expect(relay.discovery.view().servers[0]).toMatchObject({ id: 'lmstudio', status: 'in_use' });
    expect((await chat(url, 'lmstudio/m1')).status).toBe(200);
  });

  it('a scan on demand finds a server that came up later', async () => {
    const dataDir = tempDir();
    const fake = await startFakeOpenAI({ models: ['late'] });
    open.push(fake);
    const { url } = await startRelay(dataDir, { enabled: false, ports: { llamacpp: fake.port } });
    const first = (await (await fetch(`${url}/admin/discovery`, { headers: admin })).json()) as DiscoveryView;
    expect(first.scannedAt).toBeUndefined();
    const scanned = (await (await fetch(`${url}/admin/discovery/scan`, { method: 'POST', headers: admin, body: '{}' })).json()) as DiscoveryView;
    expect(scanned.servers.map((s) => [s.id, s.status, s.models])).toEqual([['llamacpp', 'offered', ['late']]]);
  });

  it('probes 127.0.0.1 only, and only the configured ports', async () => {
    // A server on every interface records the address each probe reached it on.
    const seen: string[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(`${req.socket.localAddress} ${req.headers.host} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'x' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    open.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
    const port = (server.address() as AddressInfo).port;
    expect(await probeLocalServer(port, 2000)).toEqual(['x']);
    expect(seen).toEqual([`127.0.0.1 127.0.0.1:${port} /v1/models`]);
    expect(probeList(validateConfig({})).map((s) => `${s.id}:${s.port}`)).toEqual(['ollama:11434', 'lmstudio:1234', 'llamacpp:8080', 'vllm:8000']);
    expect(probeList(validateConfig({ discovery: { ports: { vllm: 9 } } }))).toEqual([{ id: 'vllm', label: 'vLLM', port: 9 }]);
  });

  it('something that is not a model list is not offered', async () => {
    const server = createServer((_req, res) => res.end('<html>a web app</html>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    open.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
    expect(await probeLocalServer((server.address() as AddressInfo).port, 2000)).toBeUndefined();
    expect(await probeLocalServer(await freePort(), 2000)).toBeUndefined();
  });
});
