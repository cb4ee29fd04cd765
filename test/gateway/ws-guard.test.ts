/**
 * A WebSocket upgrade refused by the Host/Origin guard or by auth must not leave the socket
 * behind: the refusal is a 403/401, and stopping the relay afterwards still completes.
 */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createCore, type Relay } from '../../src-main/core/relay';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { rawRequest, upgradeHeaders } from '../helpers/raw-http';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

let relay: Relay | undefined;

afterEach(() => {
  relay = undefined;
  cleanupTempDirs();
});

async function start(): Promise<{ url: string; admin: string; key: string }> {
  const dataDir = tempDir();
  relay = await createCore({
    config: validateConfig({}), dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false,
    logger: createLogger({ level: 'silent' }),
  });
  await relay.start();
  const url = await relay.listen({ host: '127.0.0.1', port: 0 });
  return { url, admin: relay.firstRun.adminToken!, key: relay.firstRun.apiKey! };
}

/** Opens a WebSocket and resolves with the HTTP status of a refused upgrade (or 101). */
function upgrade(url: string, opts: WebSocket.ClientOptions & { protocols?: string[] }): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [], opts);
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.close();
    });
    ws.on('error', reject);
  });
}

const stopsWithin = (ms: number) =>
  Promise.race([
    relay!.stop().then(() => 'stopped'),
    new Promise((r) => setTimeout(() => r('hung'), ms)),
  ]);

describe('WebSocket upgrades refused before the route', () => {
  it('a foreign Origin gets 403 and the relay still stops', async () => {
    const { url, admin } = await start();
    const ws = url.replace('http', 'ws');
    expect(await upgrade(`${ws}/admin/events`, { origin: 'http://evil.example', protocols: ['relay-admin', `bearer.${admin}`] })).toBe(403);
    expect(await upgrade(`${ws}/v1/responses`, { origin: 'http://evil.example' })).toBe(403);
    expect(await stopsWithin(10_000)).toBe('stopped');
  });

  it('a bad Host gets 403 and a missing key 401, and the relay still stops', async () => {
    const { url } = await start();
    const ws = url.replace('http', 'ws');
    expect(await upgrade(`${ws}/v1/responses`, { headers: { host: 'evil.example:80' } })).toBe(403);
    expect(await upgrade(`${ws}/v1/responses`, {})).toBe(401);
    expect(await stopsWithin(10_000)).toBe('stopped');
  });
});

describe('WebSocket subprotocols (SECURITY: a token-bearing protocol is never echoed)', () => {
  const head = async (url: string, path: string, headers: Record<string, string>) => {
    const port = Number(new URL(url).port);
    return rawRequest(port, { target: path, headers: upgradeHeaders(headers) });
  };

  it('the admin socket answers with relay-admin, never with bearer.<token>', async () => {
    const { url, admin } = await start();
    for (const offered of [`relay-admin, bearer.${admin}`, `bearer.${admin}, relay-admin`]) {
      const r = await head(url, '/admin/events', { 'sec-websocket-protocol': offered });
      expect(r.status, offered).toBe(101);
      expect(r.headers['sec-websocket-protocol'], offered).toBe('relay-admin');
    }
    // Only the token offered: the upgrade is authorized, but no protocol (and so no token) comes back.
    const only = await head(url, '/admin/events', { 'sec-websocket-protocol': `bearer.${admin}` });
    expect(only.status).toBe(101);
    expect(only.headers['sec-websocket-protocol']).toBeUndefined();
    expect(JSON.stringify(only.headers)).not.toContain(admin);
    // The dashboard's own client (ws) sees relay-admin selected.
    const ws = new WebSocket(`${url.replace('http', 'ws')}/admin/events`, ['relay-admin', `bearer.${admin}`]);
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    expect(ws.protocol).toBe('relay-admin');
    ws.terminate();
    expect(await stopsWithin(10_000)).toBe('stopped');
  });

  it('the Responses socket does not echo a key-bearing subprotocol', async () => {
    const { url, key } = await start();
    const r = await head(url, '/v1/responses', { 'x-api-key': key, 'sec-websocket-protocol': `openai-insecure-api-key.${key}, openai-beta.responses-v1` });
    expect(r.status).toBe(101);
    expect(r.headers['sec-websocket-protocol']).toBeUndefined();
    expect(JSON.stringify(r.headers)).not.toContain(key);
    expect(await stopsWithin(10_000)).toBe('stopped');
  });
});
