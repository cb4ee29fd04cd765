/**
 * The one streaming path, through the real gateway and the three front ends as the relay registers
 * them, over an event-driven backend (no sleeps): keep-alives after the first byte, one error
 * event after it, the client leaving (noticed once, upstream cancelled once), and slow readers
 * (the backend is not pulled while the client's socket is full; a client stuck past
 * `limits.clientDrainTimeoutMs` releases its upstream).
 */
import { once } from 'node:events';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ChatEvent } from '../../src-main/core/chat/model';
import { errors } from '../../src-main/core/errors';
import { startTestGateway, TEST_KEY, type TestGateway } from '../helpers/gateway';
import { ScriptedChat, type Call } from '../helpers/scripted-chat';

const text = (t: string): ChatEvent => ({ type: 'text', text: t });
const finish: ChatEvent = { type: 'finish', reason: 'stop' };

interface Protocol {
  name: string;
  path: string;
  body: Record<string, unknown>;
  /** Present once the first content event is on the wire. */
  first: string;
  /** The idle frame after the first byte. */
  heartbeat: string;
  /** The one error event after the first byte. */
  error: RegExp;
  /** The last frame of a completed answer. */
  end: string;
  /** What precedes a text delta (Responses repeats the whole text in its `done` events). */
  delta: string;
}

const PROTOCOLS: Protocol[] = [
  {
    name: 'OpenAI chat',
    path: '/v1/chat/completions',
    body: { model: 'fake/m', stream: true, messages: [{ role: 'user', content: 'hi' }] },
    first: '"content":"a"',
    heartbeat: ': keep-alive\n\n',
    error: /^data: \{"error":/gm,
    end: 'data: [DONE]\n\n',
    delta: '"content":"',
  },
  {
    name: 'Anthropic',
    path: '/v1/messages',
    body: { model: 'fake/m', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] },
    first: '"text_delta","text":"a"',
    heartbeat: 'event: ping\ndata: {"type":"ping"}\n\n',
    error: /^event: error$/gm,
    end: 'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    delta: '"text_delta","text":"',
  },
  {
    name: 'Responses',
    path: '/v1/responses',
    body: { model: 'fake/m', input: 'hi', stream: true },
    first: 'event: response.output_text.delta',
    heartbeat: ': keep-alive\n\n',
    error: /^event: response\.failed$/gm,
    end: 'event: response.completed\n',
    delta: '"delta":"',
  },
];

/** A streaming request whose body the test reads as it comes (or not at all). */
class Stream {
  text = '';
  readonly req: ClientRequest;
  readonly response: Promise<IncomingMessage>;
  private wake: (() => void) | undefined;
  ended = false;

  constructor(url: string, p: Protocol, opts: { read?: boolean } = {}) {
    this.req = request(`${url}${p.path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': TEST_KEY } });
    this.req.on('error', () => undefined);
    this.response = new Promise((resolve) => {
      this.req.on('response', (res) => {
        resolve(res);
        if (opts.read === false) return res.pause();
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          this.text += d;
          this.wake?.();
        });
        res.on('end', () => {
          this.ended = true;
          this.wake?.();
        });
        res.on('error', () => undefined);
      });
    });
    this.req.end(JSON.stringify(p.body));
  }

  async until(pred: (text: string) => boolean): Promise<void> {
    while (!pred(this.text)) {
      if (this.ended) throw new Error(`stream ended without the expected text:\n${this.text}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  async done(): Promise<string> {
    await this.until(() => this.ended);
    return this.text;
  }
}

/** Let pending callbacks run (no time passes): anything a second cleanup would do happens here. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

let gw: TestGateway;
let chat: ScriptedChat;

beforeAll(async () => {
  chat = new ScriptedChat();
  gw = await startTestGateway({ config: { limits: { keepAliveMs: 100 } }, deps: { chat } });
});
afterAll(async () => {
  await gw?.close();
});

async function started(p: Protocol, opts?: { read?: boolean }): Promise<{ s: Stream; call: Call }> {
  const next = chat.nextCall();
  const s = new Stream(gw.url, p, opts);
  const call = await next;
  call.start();
  return { s, call };
}

describe.each(PROTOCOLS)('$name stream', (p) => {
  it('sends keep-alives after the first byte while the backend is silent', async () => {
    const { s, call } = await started(p);
    call.send(text('a'));
    await s.until((t) => t.includes(p.first));
    const at = s.text.indexOf(p.first);
    await s.until((t) => t.indexOf(p.heartbeat, at) > 0);
    call.send(text('b'), finish, 'done');
    const body = await s.done();
    expect(body).toContain(p.end);
    expect(body.match(p.error)).toBeNull();
    expect(call.returns + call.cancels).toBe(0);
  });

  it('reports a failure after the first byte as exactly one error event, and ends', async () => {
    const { s, call } = await started(p);
    call.send(text('a'));
    await s.until((t) => t.includes(p.first));
    call.send({ error: errors.upstream('the upstream dropped the stream') });
    const body = await s.done();
    expect(body.match(p.error)).toHaveLength(1);
    expect(body).not.toContain(p.name === 'OpenAI chat' ? '"finish_reason":"stop"' : p.end);
    if (p.name === 'OpenAI chat') expect(body.match(/data: \[DONE\]/g)).toHaveLength(1);
    else expect(body.trimEnd().endsWith('}')).toBe(true); // nothing after the error event
    expect(call.returns + call.cancels).toBe(0);
  });

  it('notices the client leaving once and cancels the upstream call once', async () => {
    const { s, call } = await started(p);
    call.send(text('a'));
    await s.until((t) => t.includes(p.first));
    const aborted = once(call, 'abort');
    s.req.destroy();
    await aborted;
    await settle();
    expect(call.aborts).toBe(1);
    expect(call.returns + call.cancels).toBe(1);
  });

  it('does not pull from the backend while a client that reads nothing has a full socket, and lets go of it after clientDrainTimeoutMs', async () => {
    const slow = new ScriptedChat();
    const g = await startTestGateway({ config: { limits: { keepAliveMs: 100, clientDrainTimeoutMs: 100 } }, deps: { chat: slow } });
    try {
      const next = slow.nextCall();
      const s = new Stream(g.url, p, { read: false });
      const call = await next;
      const chunk = 'x'.repeat(64 * 1024);
      // An endless upstream: without backpressure the gateway would pull (and buffer) for ever.
      call.generate = () => text(chunk);
      const released = once(call, 'return');
      call.start();
      await s.response;
      await released;
      const pulls = call.pulls;
      await settle();
      expect(call.pulls).toBe(pulls);
      expect(call.returns).toBe(1);
      // Bounded by the socket buffers (a few MB on loopback), not by the answer.
      expect(pulls * chunk.length).toBeLessThan(64 * 1024 * 1024);
      s.req.destroy();
    } finally {
      await g.close();
    }
  });

  it('answers a reader slower than the backend completely and in order', async () => {
    const { s, call } = await started(p);
    const n = 120;
    const chunk = 'y'.repeat(32 * 1024);
    const gen = (i: number): ChatEvent => {
      if (i <= n) return text(`<${i}>${chunk}`);
      call.generate = undefined;
      call.send('done');
      return finish;
    };
    // The first pull is already waiting: answer it, then every later pull at once.
    call.generate = gen;
    call.send(gen(1));
    const body = await s.done();
    const marks = body.split(p.delta).slice(1).map((part) => /^<(\d+)>/.exec(part)?.[1]).filter(Boolean).map(Number);
    expect(marks).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(body).toContain(p.end);
  });
});

describe('Responses WebSocket turn', () => {
  async function open(g: TestGateway): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${g.port}/v1/responses`, { headers: { 'x-api-key': TEST_KEY } });
    await once(ws, 'open');
    return ws;
  }
  /** Every message type the socket received, and a wait for one (no message is missed). */
  function watch(ws: WebSocket): { types: string[]; until(type: string): Promise<void> } {
    const types: string[] = [];
    let wake: (() => void) | undefined;
    ws.on('message', (d) => {
      types.push(JSON.parse(d.toString()).type);
      wake?.();
    });
    return {
      types,
      async until(type: string) {
        while (!types.includes(type)) await new Promise<void>((resolve) => (wake = resolve));
      },
    };
  }

  it('pings after the first byte, then completes', async () => {
    const ws = await open(gw);
    const w = watch(ws);
    const next = chat.nextCall();
    ws.send(JSON.stringify({ type: 'response.create', model: 'fake/m', input: 'hi' }));
    const call = await next;
    call.start();
    call.send(text('a'));
    await w.until('response.output_text.delta');
    await once(ws, 'ping');
    call.send(finish, 'done');
    await w.until('response.completed');
    expect(w.types.filter((t) => t === 'response.failed')).toEqual([]);
    ws.close();
  });

  it('a failure after the first byte is one response.failed', async () => {
    const ws = await open(gw);
    const w = watch(ws);
    const next = chat.nextCall();
    ws.send(JSON.stringify({ type: 'response.create', model: 'fake/m', input: 'hi' }));
    const call = await next;
    call.start();
    call.send(text('a'));
    await w.until('response.output_text.delta');
    call.send({ error: errors.upstream('dropped') });
    await w.until('response.failed');
    await settle();
    expect(w.types.filter((t) => t === 'response.failed' || t === 'error')).toEqual(['response.failed']);
    ws.close();
  });

  it('a socket closed mid-answer cancels the upstream call once', async () => {
    const ws = await open(gw);
    const w = watch(ws);
    const next = chat.nextCall();
    ws.send(JSON.stringify({ type: 'response.create', model: 'fake/m', input: 'hi' }));
    const call = await next;
    call.start();
    call.send(text('a'));
    await w.until('response.output_text.delta');
    const aborted = once(call, 'abort');
    ws.terminate();
    await aborted;
    await settle();
    expect(call.aborts).toBe(1);
    expect(call.returns + call.cancels).toBe(1);
  });

  it('a client that reads nothing stops the pulls, and is let go after clientDrainTimeoutMs', async () => {
    const slow = new ScriptedChat();
    const g = await startTestGateway({ config: { limits: { keepAliveMs: 100, clientDrainTimeoutMs: 100 } }, deps: { chat: slow } });
    try {
      const ws = await open(g);
      const next = slow.nextCall();
      ws.send(JSON.stringify({ type: 'response.create', model: 'fake/m', input: 'hi' }));
      const call = await next;
      ws.pause();
      const chunk = 'z'.repeat(64 * 1024);
      call.generate = () => text(chunk);
      const released = once(call, 'return');
      call.start();
      await released;
      const pulls = call.pulls;
      await settle();
      expect(call.pulls).toBe(pulls);
      expect(call.returns).toBe(1);
      expect(pulls * chunk.length).toBeLessThan(64 * 1024 * 1024);
      ws.terminate();
    } finally {
      await g.close();
    }
  });
});
