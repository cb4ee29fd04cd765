/**
 * The shared streaming execution (core/frontends/shared/stream.ts) against a fake sink and an
 * event-driven backend, on fake time: keep-alives before and after the first byte, one error
 * event, cleanup once, and backpressure (no pull while the sink waits for a drain).
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChatEvent } from '../../src-main/core/chat/model';
import { createLogger } from '../../src-main/core/gateway/logging';
import { errors, type RelayError } from '../../src-main/core/errors';
import type { RequestContext, Resolved } from '../../src-main/core/dispatch/types';
import { streamAnswer, type StreamEncoder, type StreamSink } from '../../src-main/core/frontends/shared/stream';
import { fakeClock, type FakeClock } from '../helpers/fake-clock';
import { ScriptedChat, type Call } from '../helpers/scripted-chat';

class FakeSink implements StreamSink<string> {
  readonly ac = new AbortController();
  readonly signal = this.ac.signal;
  committed = false;
  frames: string[] = [];
  ends = 0;
  abandoned = false;
  /** The client leaves right after this frame was written. */
  leaveAfter: string | undefined;
  /** Writes report a full buffer while true. */
  full = false;
  drains: Array<(ok: boolean) => void> = [];
  private ended = false;
  get closed(): boolean {
    return this.signal.aborted;
  }
  commit(): void {
    this.committed = true;
  }
  write(f: string): boolean {
    if (this.closed || this.ended) return false;
    this.committed = true;
    if (f) this.frames.push(f);
    if (f === this.leaveAfter) this.ac.abort();
    return !this.full;
  }
  keepAlive(): void {
    this.committed = true;
    this.frames.push(':ka');
  }
  drained(): Promise<boolean> {
    return new Promise((resolve) => this.drains.push(resolve));
  }
  end(last?: string): void {
    if (this.ended) return;
    this.ended = true;
    this.ends++;
    if (last && !this.closed) this.frames.push(last);
  }
  abandon(last: string | undefined): void {
    this.abandoned = true;
    this.end(last);
  }
}

const encoder: StreamEncoder<string> = {
  ping: 'ping',
  start: (r: Resolved) => `S:${r.label}`,
  push: (ev: ChatEvent) => (ev.type === 'text' ? `P:${ev.text}` : ''),
  end: () => 'E',
  fail: (e: RelayError) => `F:${e.code}`,
};

const text = (t: string): ChatEvent => ({ type: 'text', text: t });
const LIMITS = { keepAliveMs: 100, clientDrainTimeoutMs: 1000 };

let chat: ScriptedChat;
let sink: FakeSink;
/** The stream path's clock: keep-alives and the drain deadline run on it. */
let clock: FakeClock;

function run(): { call: Promise<Call>; done: Promise<void> } {
  const call = chat.nextCall();
  const ctx = { requestId: 'r1', signal: sink.signal, log: createLogger({ level: 'silent' }) } as unknown as RequestContext;
  const done = streamAnswer(chat, { model: 'm', messages: [], stream: true }, ctx, sink, encoder, LIMITS, clock);
  return { call, done };
}

beforeEach(() => {
  clock = fakeClock();
  chat = new ScriptedChat();
  sink = new FakeSink();
});

describe('streamAnswer', () => {
  it('sends keep-alives before the first byte and the encoder ping after it, only when idle', async () => {
    const { call: c, done } = run();
    const call = await c;
    await clock.advance(250);
    expect(sink.frames).toEqual([':ka', ':ka']);
    call.start();
    await call.pulled(1);
    expect(sink.frames).toEqual([':ka', ':ka', 'S:fake/m']);
    await clock.advance(100);
    expect(sink.frames.slice(3)).toEqual(['ping']);
    // An event re-arms the idle timer: no ping 60 ms after it.
    call.send(text('a'));
    await call.pulled(2);
    await clock.advance(60);
    expect(sink.frames.slice(4)).toEqual(['P:a']);
    await clock.advance(40);
    expect(sink.frames.slice(5)).toEqual(['ping']);
    call.send('done');
    await done;
    expect(sink.frames.slice(6)).toEqual(['E']);
    expect(sink.ends).toBe(1);
    // Cleanup stopped the timer: nothing more, ever.
    expect(clock.pending()).toBe(0);
    expect(call.returns).toBe(0);
  });

  it('a failure before anything was sent is thrown (a plain HTTP error), with no frame', async () => {
    const { call: c, done } = run();
    (await c).reject(errors.upstream('nope'));
    await expect(done).rejects.toMatchObject({ code: 'upstream_error' });
    expect(sink.frames).toEqual([]);
    expect(clock.pending()).toBe(0);
  });

  it('a failure after a keep-alive committed the stream is one error frame', async () => {
    const { call: c, done } = run();
    const call = await c;
    await clock.advance(100);
    call.reject(errors.upstream('nope'));
    await done;
    expect(sink.frames).toEqual([':ka', 'F:upstream_error']);
    expect(sink.ends).toBe(1);
  });

  it('a failure after the first byte is exactly one error frame; the finished iteration is not returned', async () => {
    const { call: c, done } = run();
    const call = await c;
    call.start();
    call.send(text('a'), { error: errors.upstream('dropped') });
    await done;
    expect(sink.frames).toEqual(['S:fake/m', 'P:a', 'F:upstream_error']);
    expect(sink.ends).toBe(1);
    expect(call.returns).toBe(0);
  });

  it('a client gone between events: no frame, no further pull, the iteration returned once', async () => {
    const { call: c, done } = run();
    const call = await c;
    sink.leaveAfter = 'P:a';
    call.start();
    call.send(text('a'));
    await done;
    expect(sink.frames).toEqual(['S:fake/m', 'P:a']);
    expect(call.pulls).toBe(1);
    expect(call.returns).toBe(1);
    expect(call.cancels).toBe(0);
    expect(sink.ends).toBe(1);
  });

  it('a client gone while the backend is silent: the pull is cancelled (by the service), nothing returned twice', async () => {
    const { call: c, done } = run();
    const call = await c;
    call.start();
    call.send(text('a'));
    await call.pulled(2);
    sink.ac.abort();
    await done;
    expect(sink.frames).toEqual(['S:fake/m', 'P:a']);
    expect(call.cancels + call.returns).toBe(1);
    expect(sink.ends).toBe(1);
  });

  it('a full sink: no pull until it drained', async () => {
    const { call: c, done } = run();
    const call = await c;
    call.generate = (n) => text(String(n));
    sink.full = true;
    call.start();
    // start's write reported a full buffer: the first pull waits for the drain.
    await vi.waitFor(() => expect(sink.drains).toHaveLength(1));
    expect(call.pulls).toBe(0);
    await clock.advance(500); // no keep-alive into a full buffer either
    expect(call.pulls).toBe(0);
    expect(sink.frames).toEqual(['S:fake/m']);
    sink.drains[0](true);
    await vi.waitFor(() => expect(sink.drains).toHaveLength(2));
    expect(call.pulls).toBe(1);
    sink.full = false;
    call.generate = undefined;
    sink.drains[1](true);
    await call.pulled(2);
    call.send('done');
    await done;
    expect(sink.frames).toEqual(['S:fake/m', 'P:1', 'E']);
  });

  it('a sink that does not drain in time: one error frame, the upstream released once, no more pulls', async () => {
    const { call: c, done } = run();
    const call = await c;
    call.generate = (n) => text(String(n));
    call.start();
    await call.pulled(3);
    sink.full = true;
    await vi.waitFor(() => expect(sink.drains).toHaveLength(1));
    const pulls = call.pulls;
    sink.drains[0](false);
    await done;
    expect(call.pulls).toBe(pulls);
    expect(call.returns).toBe(1);
    expect(sink.abandoned).toBe(true);
    expect(sink.frames.at(-1)).toBe('F:client_too_slow');
    expect(sink.frames.filter((f) => f.startsWith('F:'))).toHaveLength(1);
  });
});
