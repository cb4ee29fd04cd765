import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRelayError } from '../../src-main/core/errors';
import type { LingmaInstance } from '../../src-main/core/backends/lingma/instance';
import { chatReq, collect, ctx, makeProvider, readyInstance, sim, user, assistant, system, waitFor, type Harness } from './helpers';

describe('Lingma instance against the simulator', () => {
  let h: Harness;
  let inst: LingmaInstance;

  beforeAll(async () => {
    h = makeProvider({ lingma: { accounts: [{ username: 'alice', password: 'pw-alice' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'alice' } });
    inst = await readyInstance(h);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('comes up ready, logged in, with the simulator models', async () => {
    expect(inst.state()).toBe('ready');
    await waitFor(() => inst.loginState().state === 'logged_in', 'logged in');
    expect(inst.loginState()).toMatchObject({ state: 'logged_in', user: 'alice' });
    await waitFor(() => h.provider.models().some((m) => m.id === 'dashscope_qwq'), 'models');
    const ids = h.provider.models().map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['dashscope_qwen3_coder_default', 'dashscope_qwen3_coder', 'dashscope_qwen_max_latest', 'dashscope_qwq', 'agent', 'lingma-agent']));
    expect(new Set(ids).size).toBe(ids.length);
    expect(h.provider.resolveModel('qwen3-coder')).toBe('dashscope_qwen3_coder');
    expect(h.provider.resolveModel('DASHSCOPE_QWEN3_CODER')).toBe('dashscope_qwen3_coder');
    expect(h.provider.resolveModel('lingma/dashscope_qwq')).toBe('dashscope_qwq');
    expect(h.provider.resolveModel('nope')).toBeUndefined();
    // The Auto entry is found by its display name; inline-only models are not chat models.
    expect(h.provider.resolveModel('auto')).toBe('dashscope_qwen3_coder_default');
    expect(ids).not.toContain('dashscope_qwen_coder_inline');
    const s = await sim(inst);
    expect(s.initializes).toBeGreaterThanOrEqual(1);
    expect(s.workspacePathEmpty).toBe(0);
    expect(h.provider.capabilities).toEqual({ tools: false, images: true, embeddings: false });
  });

  it('streams an answer, applying the overwrite rule, and answers every id-carrying notification with null', async () => {
    await sim(inst, { reset: true, reply: { mode: 'echo', deltas: 5 } });
    const c = ctx();
    const r = await collect(inst.chat(chatReq([user('hello there, simulator')]), c));
    expect(r.text).toBe('echo: hello there, simulator');
    expect(r.finish).toBe('stop');
    const textEvents = r.events.filter((e) => e.type === 'text');
    expect(textEvents.length).toBeGreaterThan(1);
    const usage = r.events.find((e) => e.type === 'usage');
    expect(usage && usage.type === 'usage' && usage.usage.estimated).toBe(true);
    expect(r.events[r.events.length - 1]).toEqual({ type: 'finish', reason: 'stop' });
    expect(c.meta.promptBytes).toBe(Buffer.byteLength('hello there, simulator'));
    const s = await waitFor(async () => {
      const st = await sim(inst);
      return st.unanswered === 0 && st.serverRequestsAnswered > 0 ? st : undefined;
    }, 'all server requests answered');
    expect(s.nonNullAnswers).toBe(0);
    expect(s.asks[0]).toMatchObject({ model: 'dashscope_qwen3_coder', mode: 'chat', sessionType: 'chat', isReply: false, sessionIdIn: '' });
  });

  it('non-streaming requests get deltas as they arrive, consistent with fullAnswer', async () => {
    await sim(inst, { reset: true, reply: { mode: 'fixed', text: 'The whole answer, in one piece.', deltas: 4, rewrite: true } });
    const r = await collect(inst.chat(chatReq([user('q')], { stream: false }), ctx()));
    // Several deltas (so the dispatcher sees a first byte early), never the rewrite's contradiction.
    expect(r.events.filter((e) => e.type === 'text').length).toBeGreaterThan(1);
    expect(r.text).toBe('The whole answer, in one piece.');
    expect(r.finish).toBe('stop');
  });

  it('a rewriting overwrite never contradicts text already streamed', async () => {
    await sim(inst, { reset: true, reply: { mode: 'fixed', text: 'abcdefgh', deltas: 4, rewrite: true } });
    const r = await collect(inst.chat(chatReq([user('q')]), ctx()));
    expect(r.text).toBe('abcdefgh');
  });

  it('maps chat/think to reasoning events', async () => {
    await sim(inst, { reset: true, reply: { mode: 'fixed', text: 'done', think: 'let me think' } });
    const r = await collect(inst.chat(chatReq([user('why?')], { model: 'dashscope_qwq' }), ctx()));
    expect(r.reasoning).toBe('let me think');
    expect(r.text).toBe('done');
    expect(r.events.findIndex((e) => e.type === 'reasoning')).toBeLessThan(r.events.findIndex((e) => e.type === 'text'));
  });

  it('reads frames split into many WebSocket messages and batched into one', async () => {
    await sim(inst, { reset: true, split: 7, batch: false, reply: { mode: 'echo', deltas: 6 } });
    const a = await collect(inst.chat(chatReq([user('split frames 你好😀')]), ctx()));
    expect(a.text).toBe('echo: split frames 你好😀');
    await sim(inst, { split: 9, splitBinary: true });
    const d = await collect(inst.chat(chatReq([user('binary split 你好😀é')]), ctx()));
    expect(d.text).toBe('echo: binary split 你好😀é');
    await sim(inst, { split: 0, splitBinary: false, batch: true });
    const b = await collect(inst.chat(chatReq([user('batched frames')]), ctx()));
    expect(b.text).toBe('echo: batched frames');
    await sim(inst, { split: 3, batch: true });
    const c = await collect(inst.chat(chatReq([user('both at once')]), ctx()));
    expect(c.text).toBe('echo: both at once');
    await sim(inst, { split: 0, batch: false });
    const st = await waitFor(async () => ((await sim(inst)).unanswered === 0 ? sim(inst) : undefined), 'answers');
    expect(st.nonNullAnswers).toBe(0);
  });

  it('renders a conversation as [role] lines; images on a text model are a 400 naming a vision model', async () => {
    await sim(inst, { reset: true, reply: { mode: 'fixed', text: 'ok' } });
    const convo = [
      system('be brief'),
      user('first'),
      { role: 'assistant' as const, content: [], toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' }] },
      { role: 'tool' as const, content: [{ type: 'text' as const, text: 'found x' }], toolCallId: 'call_1', toolName: 'lookup' },
      user('second'),
    ];
    await collect(inst.chat(chatReq(convo, { model: 'lingma-agent' }), ctx()));
    const s = await sim(inst);
    expect(s.asks[0].text).toContain('[system] be brief');
    expect(s.asks[0].text).toContain('[user] first');
    expect(s.asks[0].text).toContain('lookup({"q":"x"})');
    expect(s.asks[0].text).toContain('found x');
    expect(s.asks[0].mode).toBe('agent');
    expect(s.asks[0].sessionType).toBe('assistant');
    // Agent mode: the simulator asked for a client tool and got "tools are not available".
    // Spec §4 verified values: the answer echoes the call's id and name.
    expect(s.toolInvokeResults).toEqual([{ toolCallId: expect.any(String), name: 'read_file', success: false, errorMessage: 'tools are not available', result: null }]);

    const img = chatReq([{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', url: 'data:image/png;base64,AAAA' }] }]);
    const err = await collect(inst.chat(img, ctx())).catch((e) => e);
    expect(isRelayError(err) && err.status).toBe(400);
    expect(err.message).toMatch(/dashscope_qwen_max_latest/);
  });

  it('marks filtered answers content_filter', async () => {
    await sim(inst, { reset: true, filtered: true, reply: { mode: 'fixed', text: 'filtered text', deltas: 2 } });
    const r = await collect(inst.chat(chatReq([user('x')]), ctx()));
    expect(r.finish).toBe('content_filter');
  });

  it('maps chat/finish status codes to RelayErrors', async () => {
    const cases: Array<[number, number, string, boolean]> = [
      [408, 504, 'timeout', true],
      [80408, 504, 'timeout', true],
      [500, 502, 'upstream_error', true],
      [418, 502, 'upstream_error', true],
      [101, 502, 'upstream_error', false],
    ];
    for (const [code, status, errCode, retryable] of cases) {
      await sim(inst, { reset: true, finishStatus: [code], reply: {} });
      const err = await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e);
      expect(isRelayError(err), `status ${code}`).toBe(true);
      expect({ code, status: err.status, errCode: err.code, retryable: err.retryable, upstream: err.upstreamStatus }).toEqual({ code, status, errCode, retryable, upstream: code });
    }
  });

  it('406 on a fresh session is retried once inside the instance', async () => {
    await sim(inst, { reset: true, finishStatus: [406], reply: { mode: 'fixed', text: 'second try' } });
    const c = ctx();
    const r = await collect(inst.chat(chatReq([user('x')]), c));
    expect(r.text).toBe('second try');
    const s = await sim(inst);
    expect(s.asks.map((a) => a.statusCode)).toEqual([406, 200]);
  });

  it('two 406 in a row surface as a retryable session_blocked error', async () => {
    await sim(inst, { reset: true, finishStatus: [406, 406] });
    const err = await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e);
    expect(err.code).toBe('session_blocked');
    expect(err.retryable).toBe(true);
  });

  it('a stream that ends without chat/finish is a retryable upstream error (idle timeout)', async () => {
    const h2cfg = h.config.lingma.answerIdleTimeoutMs;
    h.config.lingma.answerIdleTimeoutMs = 1000;
    try {
      await sim(inst, { reset: true, noFinish: true, reply: {} });
      const err = await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e);
      expect(err.code).toBe('upstream_error');
      expect(err.retryable).toBe(true);
      await sim(inst, { hang: 'no_stream' });
      const err2 = await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e);
      expect(err2.code).toBe('timeout');
      expect(err2.status).toBe(504);
    } finally {
      h.config.lingma.answerIdleTimeoutMs = h2cfg;
      await sim(inst, { hang: null });
    }
  });

  it('a request that is never acknowledged times out by rpcTimeoutMs', async () => {
    const before = h.config.lingma.rpcTimeoutMs;
    h.config.lingma.rpcTimeoutMs = 800;
    try {
      await sim(inst, { reset: true, hang: 'no_ack' });
      const err = await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e);
      expect(err.status).toBe(504);
      expect(err.retryable).toBe(true);
    } finally {
      h.config.lingma.rpcTimeoutMs = before;
      await sim(inst, { hang: null });
      // Two silent calls in a row (this test and the previous one) make the instance recover itself.
      await waitFor(() => inst.state() === 'ready' || undefined, 'ready again', 30_000);
    }
  });

  it('a wedged process that answers nothing is recovered, then restarted', async () => {
    const before = h.config.lingma.rpcTimeoutMs;
    h.config.lingma.rpcTimeoutMs = 600;
    const { pid } = await sim(inst, { reset: true });
    const restarts = inst.snapshot().restarts;
    try {
      await sim(inst, { hang: 'all' });
      for (let i = 0; i < 2; i++) {
        const err = await inst.probe(new AbortController().signal).catch((e) => e);
        expect(err).toBeInstanceOf(Error);
      }
      // Two silent probes: it leaves 'ready' (the health probe alone would never restart it).
      expect(inst.state()).not.toBe('ready');
      await waitFor(() => inst.state() === 'ready' || undefined, 'ready again', 30_000);
      const after = await sim(inst);
      expect(after.pid).not.toBe(pid);
      expect(inst.snapshot().restarts).toBeGreaterThan(restarts);
      const r = await collect(inst.chat(chatReq([user('alive?')]), ctx()));
      expect(r.finish).toBe('stop');
    } finally {
      h.config.lingma.rpcTimeoutMs = before;
    }
  });

  it('abort sends chat/stop to the process and frees the instance', async () => {
    await sim(inst, { reset: true, reply: { mode: 'fixed', text: 'x'.repeat(200), deltas: 50, delayMs: 50 } });
    const ac = new AbortController();
    const it = inst.chat(chatReq([user('long one')]), ctx({ signal: ac.signal }))[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(inst.snapshot().extra?.inFlight).toBe(1);
    ac.abort();
    const err = await (async () => {
      for (;;) {
        const n = await it.next();
        if (n.done) return undefined;
      }
    })().catch((e) => e);
    expect(err?.code).toBe('client_closed');
    const s = await waitFor(async () => {
      const st = await sim(inst);
      return st.stops.length ? st : undefined;
    }, 'chat/stop');
    expect(s.stops).toEqual([s.asks[0].requestId]);
    expect(inst.snapshot().extra?.inFlight).toBe(0);
    // The slot serves again.
    await sim(inst, { reply: { mode: 'fixed', text: 'after abort' } });
    expect((await collect(inst.chat(chatReq([user('again')]), ctx()))).text).toBe('after abort');
  });

  it('breaking out of the iteration early also sends chat/stop', async () => {
    await sim(inst, { reset: true, reply: { mode: 'fixed', text: 'y'.repeat(100), deltas: 20, delayMs: 50 } });
    for await (const e of inst.chat(chatReq([user('stop early')]), ctx())) {
      if (e.type === 'text') break;
    }
    const s = await waitFor(async () => ((await sim(inst)).stops.length ? sim(inst) : undefined), 'chat/stop');
    expect(s.stops.length).toBe(1);
    expect(inst.snapshot().extra?.inFlight).toBe(0);
  });

  it('reports quota exceeded in the login state', async () => {
    await sim(inst, { quotaExceeded: true });
    await inst.probe(new AbortController().signal);
    expect(inst.loginState()).toMatchObject({ state: 'logged_in', quotaExceeded: true });
    await sim(inst, { quotaExceeded: false });
    await inst.probe(new AbortController().signal);
    expect(inst.loginState()).toMatchObject({ state: 'logged_in' });
    expect((inst.loginState() as { quotaExceeded?: boolean }).quotaExceeded).toBeFalsy();
  });

  it('uses the assistant history for nothing but the rendered prompt on a miss', async () => {
    await sim(inst, { reset: true, reply: { mode: 'fixed', text: 'fine' } });
    await collect(inst.chat(chatReq([user('a'), assistant('b'), user('c')]), ctx({ apiKeyId: 'other-key' })));
    const s = await sim(inst);
    expect(s.asks[0].text).toBe('[user] a\n[assistant] b\n[user] c');
    expect(s.asks[0].isReply).toBe(false);
  });
});
