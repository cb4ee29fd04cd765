import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AddressInfo } from 'node:net';
import { encodeFrame, FrameReader } from '../../src-main/core/backends/lingma/framing';
import { RpcConnection, RpcError, type RpcCloseInfo } from '../../src-main/core/backends/lingma/rpc';

const servers: WebSocketServer[] = [];
const conns: RpcConnection[] = [];
afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

interface Peer {
  url: string;
  got: Array<Record<string, unknown>>;
  /** Resolves once what the peer received satisfies `done` (checked on every message). */
  received(done: (got: ReadonlyArray<Record<string, unknown>>) => boolean): Promise<void>;
}

/** A scripted peer: `onMessage` gets each decoded frame and the socket. */
async function peer(onMessage: (msg: Record<string, unknown>, ws: WebSocket) => void): Promise<Peer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  servers.push(wss);
  await new Promise((r) => wss.once('listening', r));
  const got: Array<Record<string, unknown>> = [];
  let waiters: Array<() => boolean> = [];
  wss.on('connection', (ws) => {
    const reader = new FrameReader();
    ws.on('message', (d: Buffer) => {
      for (const m of reader.push(d)) {
        got.push(m as Record<string, unknown>);
        onMessage(m as Record<string, unknown>, ws);
      }
      waiters = waiters.filter((w) => !w());
    });
  });
  const received = (done: (got: ReadonlyArray<Record<string, unknown>>) => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = (): boolean => {
        if (!done(got)) return false;
        resolve();
        return true;
      };
      if (!check()) waiters.push(check);
    });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, got, received };
}

async function connect(url: string, timeoutMs = 2000): Promise<RpcConnection> {
  const c = await RpcConnection.connect(url, { timeoutMs });
  conns.push(c);
  return c;
}

describe('JSON-RPC driver', () => {
  it('matches answers to requests by id, in any order', async () => {
    // 'slow' is answered only after 'fast' was: the answers come back in the other order.
    let slowId: unknown;
    const p = await peer((m, ws) => {
      if (m.method === 'slow') slowId = m.id;
      if (m.method === 'fast') {
        ws.send(encodeFrame({ jsonrpc: '2.0', id: m.id, result: 'fast' }));
        ws.send(encodeFrame({ jsonrpc: '2.0', id: slowId, result: 'slow' }));
      }
    });
    const c = await connect(p.url);
    const [a, b] = await Promise.all([c.request('slow', {}), c.request('fast', {})]);
    expect([a, b]).toEqual(['slow', 'fast']);
  });

  it('turns error answers into remote RpcErrors and enforces per-call timeouts', async () => {
    const p = await peer((m, ws) => {
      if (m.method === 'bad') ws.send(encodeFrame({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'unknown method' } }));
    });
    const c = await connect(p.url);
    await expect(c.request('bad', {})).rejects.toMatchObject({ kind: 'remote', code: -32601 });
    await expect(c.request('never', {}, { timeoutMs: 100 })).rejects.toMatchObject({ kind: 'timeout' });
    const ac = new AbortController();
    const pending = c.request('never', {}, { signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toBeInstanceOf(RpcError);
  });

  it('answers id-carrying server messages with null, tool/invoke with "tools are not available", and emits them', async () => {
    const p = await peer((m, ws) => {
      if (m.method === 'go') {
        ws.send(encodeFrame({ jsonrpc: '2.0', id: 900, method: 'chat/answer', params: { text: 'x' } }) + encodeFrame({ jsonrpc: '2.0', id: 901, method: 'tool/invoke', params: { toolCallId: 'tc-1', name: 'read_file' } }));
        ws.send(encodeFrame({ jsonrpc: '2.0', method: 'chat/think', params: { text: 'y' } }));
        ws.send(encodeFrame({ jsonrpc: '2.0', id: m.id, result: true }));
      }
    });
    const c = await connect(p.url);
    const seen: Array<[string, unknown]> = [];
    c.on('message', (method, _params, id) => seen.push([method, id]));
    await c.request('go', {});
    // The pushes were emitted before the answer to 'go'; the null answers are on their way to the peer.
    await p.received((got) => got.filter((m) => m.method === undefined).length >= 2);
    expect(seen).toEqual([['chat/answer', 900], ['tool/invoke', 901], ['chat/think', undefined]]);
    const answers = p.got.filter((m) => m.method === undefined);
    expect(answers).toEqual([
      { jsonrpc: '2.0', id: 900, result: null },
      { jsonrpc: '2.0', id: 901, result: { toolCallId: 'tc-1', name: 'read_file', success: false, errorMessage: 'tools are not available', result: null } },
    ]);
  });

  it('garbage on the wire closes the connection with a protocol reason and fails pending calls', async () => {
    const p = await peer((m, ws) => {
      if (m.method === 'garbage') ws.send('{"bare":"json"}');
    });
    const c = await connect(p.url);
    const closed = new Promise<RpcCloseInfo>((r) => c.once('close', r));
    await expect(c.request('garbage', {})).rejects.toMatchObject({ kind: 'protocol' });
    expect(await closed).toMatchObject({ reason: 'protocol', detail: expect.stringMatching(/Unknown message header/) });
    expect(c.closed).toBe(true);
    await expect(c.request('after', {})).rejects.toMatchObject({ kind: 'closed' });
  });

  it('a dropped socket surfaces as a close event and rejects pending calls', async () => {
    const p = await peer((m, ws) => {
      if (m.method === 'drop') ws.terminate();
    });
    const c = await connect(p.url);
    const closed = new Promise<RpcCloseInfo>((r) => c.once('close', r));
    await expect(c.request('drop', {})).rejects.toMatchObject({ kind: 'closed' });
    expect((await closed).reason).toMatch(/remote|error/);
  });

  it('writes each whole frame as one WebSocket message (spec §3), requests, notifications and answers alike', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    servers.push(wss);
    await new Promise((r) => wss.once('listening', r));
    const raw: string[] = [];
    let answered!: () => void;
    const gotAnswer = new Promise<void>((r) => (answered = r));
    wss.on('connection', (ws) => {
      ws.on('message', (d: Buffer) => {
        raw.push(d.toString('utf8'));
        const [m] = new FrameReader().push(d) as Array<Record<string, unknown>>;
        if (m.method === 'ask') {
          // A push with an id (answered with null by the client), then the answer.
          ws.send(encodeFrame({ jsonrpc: '2.0', id: 900, method: 'chat/answer', params: { text: 'é中😀' } }));
          ws.send(encodeFrame({ jsonrpc: '2.0', id: m.id, result: 'ok' }));
        }
        if (m.id === 900) answered();
      });
    });
    const c = await connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    c.notify('note', { text: 'x'.repeat(70_000) });
    expect(await c.request('ask', { text: 'é中😀' })).toBe('ok');
    await gotAnswer;
    expect(raw.length).toBe(3);
    for (const m of raw) {
      // Exactly one complete frame per message: a fresh reader reads one message and holds nothing back.
      const reader = new FrameReader();
      expect(reader.push(m)).toHaveLength(1);
      expect(reader.pending).toBe(0);
    }
  });

  it('initialize sends the work dir as the workspace folder', async () => {
    const p = await peer((m, ws) => {
      if (m.method === 'initialize') ws.send(encodeFrame({ jsonrpc: '2.0', id: m.id, result: { serverInfo: { name: 'lingma', version: '9.9' } } }));
    });
    const c = await connect(p.url);
    expect(await c.initialize('/data/lingma/a b', '1.0.0')).toEqual({ name: 'lingma', version: '9.9' });
    await p.received((got) => got.some((m) => m.method === 'initialized'));
    const init = p.got.find((m) => m.method === 'initialize') as { params: { workspaceFolders: Array<{ uri: string }>; rootUri: string; processId: number } };
    expect(init.params.workspaceFolders[0].uri).toBe('file:///data/lingma/a%20b');
    expect(init.params.rootUri).toBe('file:///data/lingma/a%20b');
    expect(init.params.processId).toBe(process.pid);
    expect(p.got.some((m) => m.method === 'initialized' && m.id === undefined)).toBe(true);
  });

  it('connect to a closed port fails with a closed RpcError', async () => {
    await expect(RpcConnection.connect('ws://127.0.0.1:1/', { timeoutMs: 500 })).rejects.toMatchObject({ kind: 'closed' });
  });
});
