/**
 * Backpressure on the upstream side of the OpenAI backend: a consumer that stops pulling events
 * stops the relay reading the upstream body (undici pauses its socket), so a slow client never
 * makes the gateway read a whole long answer into memory. Asserted on the bytes the fake upstream
 * managed to hand to its socket (it honours `write()` returning false), not on time: the loop is
 * given many turns in which a pre-reading gateway would have drained tens of MB.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createOpenAIProvider, type OpenAIProvider } from '../../src-main/core/backends/openai';
import type { CallContext } from '../../src-main/core/backends/types';

const log = pino({ level: 'silent' });
const MB = 1024 * 1024;
/** The whole answer: far beyond any socket buffer on this machine (tcp_wmem / tcp_rmem max: 4 + 32 MB here). */
const ANSWER_BYTES = 160 * MB;

function frame(i: number): string {
  return `data: {"choices":[{"index":0,"delta":{"content":"c${i}|${'x'.repeat(4000)}"},"finish_reason":null}]}\n\n`;
}

/** An upstream that writes a huge stream only as fast as the reader takes it. */
class SlowReadUpstream {
  server!: Server;
  url = '';
  /** Bytes the socket accepted (written with `write()` not yet asking to wait, or drained since). */
  accepted = 0;
  /** The response under test. */
  res: ServerResponse | undefined;
  /** Waiting for 'drain' right now (or done). */
  waiting = false;
  private waiters: Array<() => void> = [];

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        this.res = res;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let i = 0;
        const pump = (): void => {
          while (!res.destroyed && this.accepted < ANSWER_BYTES) {
            const f = frame(i++);
            const more = res.write(f);
            this.accepted += f.length;
            if (!more) {
              this.waiting = true;
              this.notify();
              res.once('drain', () => {
                this.waiting = false;
                pump();
              });
              return;
            }
          }
          if (!res.destroyed) res.end('data: [DONE]\n\n');
          this.waiting = true;
          this.notify();
        };
        pump();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  /** Resolves the next time the upstream has to wait for its reader (or finished). */
  blocked(): Promise<void> {
    if (this.waiting) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

let up: SlowReadUpstream;
let provider: OpenAIProvider;

beforeAll(async () => {
  up = new SlowReadUpstream();
  await up.start();
  provider = createOpenAIProvider({ name: 'slow', type: 'openai', baseUrl: up.url, models: ['m'] }, { log });
  await provider.start();
});

afterAll(async () => {
  await provider.stop();
  up.server.closeAllConnections();
  await new Promise<void>((r) => up.server.close(() => r()));
});

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

it('a consumer that stops pulling stops the upstream read: the upstream cannot write the answer', async () => {
  const ac = new AbortController();
  const ctx: CallContext = { requestId: 'bp', apiKeyId: 'k', signal: ac.signal, log, meta: {} };
  const events = provider.instances()[0].chat({ model: 'm', stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'long' }] }] }, ctx);
  const it = events[Symbol.asyncIterator]();
  const first = await it.next();
  expect(first.value).toMatchObject({ type: 'text' });
  // The consumer now pulls nothing. The upstream fills the sockets' buffers and has to wait.
  await up.blocked();
  // Many loop turns (each a 64 KB read for a gateway that kept reading): the upstream stays stuck.
  await turns(2000);
  const stuckAt = up.accepted;
  expect(stuckAt).toBeLessThan(40 * MB);
  await turns(2000);
  expect(up.accepted).toBe(stuckAt);
  // Pulling again moves the upstream on: the pause was backpressure, not a dead stream.
  for (let i = 0; i < 2000; i++) await it.next();
  expect(up.accepted).toBeGreaterThan(stuckAt);
  await it.return?.(undefined);
  ac.abort();
});
