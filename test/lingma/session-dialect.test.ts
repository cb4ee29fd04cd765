/** The session dialect (spec §6) against the simulator in session mode, and dialect detection / forcing. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src-main/core/chat/model';
import type { LingmaInstance } from '../../src-main/core/backends/lingma/instance';
import { assistant, chatReq, collect, ctx, makeProvider, readyInstance, sim, system, user, waitFor, type Harness } from './helpers';

interface PromptRec {
  requestId: string;
  sessionIdIn: string;
  model: string;
  mode: string;
  meta: Record<string, unknown>;
  promptBytes: number;
  text: string;
  images: unknown[];
  contextParams: unknown[];
  statusCode: number | null;
}
type SStats = Awaited<ReturnType<typeof sim>> & { prompts: PromptRec[]; setModels: Array<{ sessionId: string; modelId: string }>; cancels: string[]; deletedSessions: string[]; sessionsCreated: string[]; dialect: string };
const stats = (i: LingmaInstance, body?: Record<string, unknown>) => sim(i, body) as Promise<SStats>;
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

describe('session dialect against a session-only runtime', () => {
  let h: Harness;
  let inst: LingmaInstance;

  beforeAll(async () => {
    h = makeProvider({ lingma: { accounts: [{ username: 'sam', name: 'sam' }], extraArgs: ['--dialect=session'] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'sam' } });
    inst = await readyInstance(h);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('detects the session dialect (chat/ask would be -32601) and shows it in the snapshot', async () => {
    await waitFor(() => inst.snapshot().extra?.dialect === 'session', 'dialect detected');
    const r = await collect(inst.chat(chatReq([user('hi')]), ctx()));
    expect(r.finish).toBe('stop');
    const s = await stats(inst);
    expect(s.dialect).toBe('session');
    expect(s.asks).toHaveLength(0);
    expect(s.prompts.length).toBeGreaterThanOrEqual(1);
  });

  it('streams deltas, ignores unknown update kinds, answers id-carrying pushes with null, reports real usage', async () => {
    await stats(inst, { reset: true, reply: { mode: 'echo', deltas: 5 } });
    const c = ctx();
    const r = await collect(inst.chat(chatReq([user('hello session')]), c));
    expect(r.text).toBe('echo: hello session');
    expect(r.events.filter((e) => e.type === 'text').length).toBeGreaterThan(1);
    const usage = r.events.find((e) => e.type === 'usage');
    expect(usage?.type === 'usage' && usage.usage).toMatchObject({ estimated: false });
    expect(r.events[r.events.length - 1]).toEqual({ type: 'finish', reason: 'stop' });
    // The context window the runtime reported (limitTokens) is what /v1/models shows as context_length.
    expect(h.provider.models().find((m) => m.id === 'dashscope_qwen3_coder')?.contextLength).toBe(131072);
    const s = await waitFor(async () => {
      const st = await stats(inst);
      return st.unanswered === 0 ? st : undefined;
    }, 'pushes answered');
    expect(s.nonNullAnswers).toBe(0);
    const p = s.prompts[0];
    // The runtime's own count (the simulator's context_usage: 100 + prompt bytes + answer length) is the prompt figure.
    expect(usage?.type === 'usage' && usage.usage.promptTokens).toBe(100 + p.promptBytes + r.text.length);
    expect(p.meta['ai-coding/request-id']).toEqual(expect.any(String));
    expect(p.meta).toMatchObject({ 'ai-coding/mode': 'chat', 'ai-coding/model': 'dashscope_qwen3_coder', 'ai-coding/enabled-mcp-servers': [] });
    expect(p.model).toBe('dashscope_qwen3_coder');
  });

  it('non-streaming and reasoning (agent_thought_chunk)', async () => {
    await stats(inst, { reset: true, reply: { mode: 'fixed', text: 'done', think: 'pondering deeply' } });
    const r = await collect(inst.chat(chatReq([user('why?')], { stream: false, model: 'dashscope_qwq' }), ctx()));
    expect(r.reasoning).toBe('pondering deeply');
    expect(r.text).toBe('done');
    expect(r.events.findIndex((e) => e.type === 'reasoning')).toBeLessThan(r.events.findIndex((e) => e.type === 'text'));
  });

  it('split and batched frames', async () => {
    await stats(inst, { reset: true, split: 7, reply: { mode: 'echo', deltas: 6 } });
    expect((await collect(inst.chat(chatReq([user('split 你好😀')]), ctx()))).text).toBe('echo: split 你好😀');
    await stats(inst, { split: 0, batch: true });
    expect((await collect(inst.chat(chatReq([user('batched')]), ctx()))).text).toBe('echo: batched');
    await stats(inst, { batch: false });
  });

  it('reuses the session with only the new turn (≤ 15% of full-replay bytes) and sets the model when it changes', async () => {
    await stats(inst, { reset: true, reply: { mode: 'fixed', text: 'A fairly ordinary answer of moderate length, repeated each turn.', deltas: 3 } });
    const convo: ChatMessage[] = [system('You are a helpful coding assistant.')];
    let sent = 0;
    let full = 0;
    for (let turn = 1; turn <= 20; turn++) {
      convo.push(user(`Turn ${turn}: please explain step ${turn} of the refactoring plan in a few sentences.`));
      const c = ctx({ apiKeyId: 'bench-session' });
      const r = await collect(inst.chat(chatReq(convo, { model: turn === 20 ? 'dashscope_qwen_max_latest' : 'dashscope_qwen3_coder' }), c));
      if (turn > 1) expect(c.meta.sessionReuse).toBe(true);
      sent += c.meta.promptBytes ?? 0;
      full += Buffer.byteLength(convo.map((m) => `[${m.role}] ${m.content.map((p) => (p.type === 'text' ? p.text : '')).join('')}`).join('\n'));
      convo.push(assistant(r.text));
    }
    const s = await stats(inst);
    expect(s.prompts.reduce((n, p) => n + p.promptBytes, 0)).toBe(sent);
    expect(new Set(s.prompts.map((p) => p.sessionIdIn)).size).toBe(1);
    expect(sent / full).toBeLessThanOrEqual(0.15);
    // set_model once for the new session, once when the model changed.
    expect(s.setModels.map((m) => m.modelId)).toEqual(['dashscope_qwen3_coder', 'dashscope_qwen_max_latest']);
  });

  it('images go to a vision model as prompt items (data and http URLs), in prompt and contextParams', async () => {
    await stats(inst, { reset: true, reply: { mode: 'fixed', text: 'a red dot' } });
    const req = chatReq(
      [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image', url: `data:image/png;base64,${PNG}` }, { type: 'image', url: 'https://example.com/cat.jpg', mediaType: 'image/jpeg' }] }],
      { model: 'Qwen-Max' },
    );
    const r = await collect(inst.chat({ ...req, model: 'dashscope_qwen_max_latest' }, ctx()));
    expect(r.text).toBe('a red dot');
    const p = (await stats(inst)).prompts[0];
    const want = [{ type: 'image', mimeType: 'image/png', data: PNG }, { type: 'image', mimeType: 'image/jpeg', uri: 'https://example.com/cat.jpg' }];
    expect(p.images).toEqual(want);
    expect(p.contextParams).toEqual(want);
    expect(p.text).toBe('what is this?');
    // A text-only model: 400 naming a vision-capable one, nothing sent.
    const err = await collect(inst.chat(chatReq([{ role: 'user', content: [{ type: 'image', url: `data:image/png;base64,${PNG}` }] }]), ctx())).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/vision-capable model such as dashscope_qwen_max_latest/);
    expect((await stats(inst)).prompts).toHaveLength(1);
  });

  it('client disconnect sends session/cancel for the session', async () => {
    await stats(inst, { reset: true, reply: { mode: 'fixed', text: 'x'.repeat(200), deltas: 50, delayMs: 40 } });
    const ac = new AbortController();
    const it = inst.chat(chatReq([user('long')]), ctx({ signal: ac.signal }))[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false);
    ac.abort();
    const err = await (async () => {
      for (;;) if ((await it.next()).done) return undefined;
    })().catch((e) => e);
    expect(err?.code).toBe('client_closed');
    const s = await waitFor(async () => {
      const st = await stats(inst);
      return st.cancels.length ? st : undefined;
    }, 'session/cancel');
    expect(s.cancels).toEqual([s.prompts[0].sessionIdIn]);
    expect(s.stops).toEqual([]);
    // Without session/cancel the driver falls back to chat/stop.
    await stats(inst, { reset: true, noSessionCancel: true });
    for await (const e of inst.chat(chatReq([user('stop early')]), ctx())) if (e.type === 'text') break;
    const s2 = await waitFor(async () => ((await stats(inst)).stops.length ? stats(inst) : undefined), 'chat/stop');
    expect(s2.stops).toEqual([s2.prompts[0].meta['ai-coding/request-id']]);
    await stats(inst, { noSessionCancel: false, reply: {} });
  });

  it('errors in the stream: finish status, error push (at once), 418, quota, content filter, crash', async () => {
    await stats(inst, { reset: true, finishStatus: [500] });
    expect(await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e)).toMatchObject({ code: 'upstream_error', upstreamStatus: 500, retryable: true });
    await stats(inst, { errorPush: { method: 'fatal_error', message: 'model backend unavailable', afterDeltas: 0 } });
    expect(await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e)).toMatchObject({ status: 502, retryable: true });
    await stats(inst, { upstreamError: { status: 418, message: 'Unknown sse issue', where: 'stream' } });
    expect(await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e)).toMatchObject({ upstreamStatus: 418, retryable: true });
    await stats(inst, { upstreamError: { status: 429, message: 'usage exceeds frequency limit' } });
    expect(await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e)).toMatchObject({ status: 429, code: 'quota_exceeded' });
    await stats(inst, { upstreamError: { status: 400, message: 'InternalError.Algo.DataInspectionFailed' } });
    expect((await collect(inst.chat(chatReq([user('x')]), ctx()))).finish).toBe('content_filter');
    await stats(inst, { reset: true, crashAfterDeltas: 1, reply: { deltas: 4 } });
    expect(await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e)).toMatchObject({ code: 'upstream_error', retryable: true });
    await waitFor(() => inst.state() === 'ready' || undefined, 'restarted', 30_000);
    expect((await collect(inst.chat(chatReq([user('alive?')]), ctx()))).finish).toBe('stop');
  });
});

describe('dialect choice', () => {
  const harnesses: Harness[] = [];
  afterAll(async () => {
    await Promise.allSettled(harnesses.map((h) => h.close()));
  });
  const up = async (protocol: string, dialect: string, sessionCache?: Record<string, unknown>) => {
    const h = makeProvider({ lingma: { protocol, extraArgs: [`--dialect=${dialect}`] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'dee' }, extra: sessionCache ? { sessionCache } : {} });
    harnesses.push(h);
    return readyInstance(h);
  };

  it('auto prefers the session dialect when both work; protocol: chat forces chat/ask', async () => {
    const both = await up('auto', 'both');
    await collect(both.chat(chatReq([user('q')]), ctx()));
    let s = await stats(both);
    expect(s.prompts).toHaveLength(1);
    expect(s.asks).toHaveLength(0);
    const forced = await up('chat', 'both');
    await collect(forced.chat(chatReq([user('q')]), ctx()));
    s = await stats(forced);
    expect(s.asks).toHaveLength(1);
    expect(s.prompts).toHaveLength(0);
    expect(s.sessionsCreated).toHaveLength(0); // no probe when forced
    expect(forced.snapshot().extra?.dialect).toBe('chat');
  }, 60_000);

  it('auto falls back to chat/ask on a legacy runtime; protocol: session on it fails retryably', async () => {
    const legacy = await up('auto', 'chat');
    await collect(legacy.chat(chatReq([user('q')]), ctx()));
    expect((await stats(legacy)).asks).toHaveLength(1);
    expect(legacy.snapshot().extra?.dialect).toBe('chat');
    const wrong = await up('session', 'chat');
    const err = await collect(wrong.chat(chatReq([user('q')]), ctx())).catch((e) => e);
    expect(err).toMatchObject({ retryable: true });
    // Images need the session dialect: a legacy runtime says so.
    const img = await collect(legacy.chat(chatReq([{ role: 'user', content: [{ type: 'image', url: `data:image/png;base64,${PNG}` }] }], { model: 'dashscope_qwen_max_latest' }), ctx())).catch((e) => e);
    expect(img.status).toBe(400);
    expect(img.message).toMatch(/legacy chat\/ask/);
  }, 60_000);

  it('sessions evicted from the session cache are dropped with chat/deleteSessionById', async () => {
    const inst = await up('session', 'session', { enabled: true, maxEntries: 1, ttlSec: 600 });
    await stats(inst, { reset: true, reply: { mode: 'fixed', text: 'ok' } });
    await collect(inst.chat(chatReq([user('first conversation')]), ctx()));
    await collect(inst.chat(chatReq([user('second conversation')]), ctx()));
    const s = await waitFor(async () => {
      const st = await stats(inst);
      return st.deletedSessions.length ? st : undefined;
    }, 'chat/deleteSessionById');
    expect(s.deletedSessions).toEqual([s.prompts[0].sessionIdIn]);
  }, 60_000);
});
