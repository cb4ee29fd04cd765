/**
 * The benchmark's upstream: a minimal OpenAI-compatible server (node:http) that answers at once,
 * so what is measured is the gateway. Streams carry content `s<stream>-c<i>|` and the mock records
 * when it wrote each chunk (same process as the client, same clock), so the client can tell how
 * long each chunk took to arrive, directly and through the gateway.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface MockUpstream {
  url: string;
  /** performance.now() at which chunk `i` of stream `s` was written: key `${s}:${i}`. */
  sentAt: Map<string, number>;
  /** TCP connections accepted so far (keep-alive reuse check). */
  connections(): number;
  /**
   * Per padded stream still open (`pad` in its parameters): the bytes of its answer the kernel
   * accepted so far (written, not queued in this process), i.e. roughly what the gateway pulled
   * plus the sockets' buffers. Backpressure checks.
   */
  accepted(): Map<string, number>;
  close(): Promise<void>;
}

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-mock',
  object: 'chat.completion',
  created: 1700000000,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the mock upstream.' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
});
const MODELS = JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model', created: 0, owned_by: 'mock' }] });

function chunk(content: string): string {
  return `data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}]}\n\n`;
}
const FINISH =
  'data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}}\n\ndata: [DONE]\n\n';

export async function startMockUpstream(): Promise<MockUpstream> {
  const sentAt = new Map<string, number>();
  const sockets = new Set<Socket>();
  const open = new Map<string, { res: ServerResponse; base: number }>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(MODELS) });
      res.end(MODELS);
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      // Stream parameters ride in the `user` field: "s=<id>;n=<chunks>;gap=<ms>[;pad=<bytes>]"
      // (pad: filler after each chunk's marker, for large answers).
      const b = JSON.parse(body);
      if (!b.stream) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(COMPLETION) });
        res.end(COMPLETION);
        return;
      }
      if (!b.user) {
        // A plain streamed answer: the same text as the non-streamed one, in one chunk.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.end(chunk('Hello from the mock upstream.') + FINISH);
        return;
      }
      const params = Object.fromEntries(String(b.user).split(';').map((kv: string) => kv.split('=')));
      const s = params.s ?? '0';
      const n = Number(params.n ?? 10);
      const gap = Number(params.gap ?? 0);
      const pad = params.pad ? ' '.repeat(Number(params.pad)) : '';
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.socket?.setNoDelay(true);
      // Keep-alive sockets carry earlier answers: count from here on.
      if (pad && res.socket) {
        open.set(s, { res, base: res.socket.bytesWritten - res.socket.writableLength });
        res.once('close', () => open.delete(s));
      }
      let i = 0;
      const next = () => {
        if (res.destroyed) return;
        if (i >= n) {
          res.end(FINISH);
          return;
        }
        const content = `s${s}-c${i}|`;
        sentAt.set(`${s}:${i}`, performance.now());
        res.write(chunk(content + pad));
        i++;
        if (gap > 0) setTimeout(next, gap);
        else setImmediate(next);
      };
      next();
    });
  });
  server.keepAliveTimeout = 60_000;
  let accepted = 0;
  server.on('connection', (s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    sentAt,
    connections: () => accepted,
    accepted: () => {
      const out = new Map<string, number>();
      for (const [s, { res, base }] of open) {
        const sock = res.socket;
        if (sock) out.set(s, sock.bytesWritten - sock.writableLength - base);
      }
      return out;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
