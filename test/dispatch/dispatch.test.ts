import { estimatePromptTokens, estimateTokens } from '../../src-main/core/chat/tokens';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import type { ChatEvent, ChatRequest } from '../../src-main/core/chat/model';
import type { AliasesConfig } from '../../src-main/core/routing/aliases';
import { RelayError } from '../../src-main/core/errors';
import { answer, breakAfterFirst, fail, fakeInstance, fakeProvider, hang, silentLog, slowStream } from './fakes';
import { drain, req, setup, waitFor } from './setup';
import { fakeClock, settle } from '../helpers/fake-clock';

async function rejection(p: Promise<unknown>): Promise<RelayError> {
  try {
    await p;
  } catch (e) {
    return e as RelayError;
  }
  throw new Error('expected a rejection');
}

function twoProviders() {
  const a1 = fakeInstance('a1', 'pa');
  const a2 = fakeInstance('a2', 'pa');
  const b1 = fakeInstance('b1', 'pb');
  const pa = fakeProvider('pa', { models: ['m'], instances: [a1, a2] });
  const pb = fakeProvider('pb', { models: ['n'], instances: [b1] });
  return { a1, a2, b1, pa, pb };
}

const chain: AliasesConfig = { coder: { chain: ['pa/m', 'pb/n'] } };

describe('dispatcher', () => {
  it('serves the first target and reports what served it', async () => {
    const { pa, pb, a1, a2 } = twoProviders();
    const t = setup([pa, pb], chain);
    const ex = await t.dispatcher.execute(req('coder'), t.ctx());
    expect(ex.resolved).toMatchObject({ alias: 'coder', provider: 'pa', model: 'm', label: 'pa/m' });
    // No usage from the backend: the dispatcher's one estimate comes as the usage event before finish.
    expect(await drain(ex.events)).toEqual([
      { type: 'text', text: 'hello' },
      { type: 'usage', usage: { promptTokens: ex.promptTokens, completionTokens: estimateTokens('hello'), estimated: true } },
      { type: 'finish', reason: 'stop' },
    ]);
    expect(a1.calls.length + a2.calls.length).toBe(1);
    await t.dispatcher.observed();
    expect(t.usage).toHaveLength(1);
    expect(t.usage[0]).toMatchObject({ status: 200, alias: 'coder', provider: 'pa', model: 'm', requestedModel: 'coder', switches: 0, tokensEstimated: true });
    expect(t.usage[0]).toMatchObject({ promptTokens: ex.promptTokens, completionTokens: estimateTokens('hello') });
    expect(ex.promptTokens).toBe(estimatePromptTokens(req('coder')));
    expect(await t.metrics.registry.getSingleMetricAsString('relay_requests_total')).toContain('model="coder",protocol="openai-chat",status="200"');
    expect(await t.metrics.registry.getSingleMetricAsString('relay_alias_resolved_total')).toContain('alias="coder",target="pa/m"');
    expect(t.ended.map((e) => e.status)).toEqual([200]);
    t.idle();
  });

  it('500 on one instance → the other instance of the same target', async () => {
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.behaviour = fail(500);
    a2.behaviour = answer('from a2');
    pa.preferred = 'a1';
    const t = setup([pa, pb], chain);
    const ctx = t.ctx();
    const ex = await t.dispatcher.execute(req('coder'), ctx);
    expect(ex.resolved.instance).toBe('a2');
    expect((await drain(ex.events))[0]).toEqual({ type: 'text', text: 'from a2' });
    expect(a1.calls).toHaveLength(1);
    expect(b1.calls).toHaveLength(0);
    await t.dispatcher.observed();
    const rec = t.usage[0];
    expect(rec.switches).toBe(1);
    expect(rec.switchReasons).toEqual(['a1:upstream_error:500']);
    expect(t.health.isHealthy('a1')).toBe(false);
    expect(t.health.snapshot('a1').lastError).toBe('upstream said 500');
    expect(await t.metrics.registry.getSingleMetricAsString('relay_fallback_total')).toContain('from="a1",to="a2",reason="upstream_error"} 1');
    t.idle();
  });

  it('all instances of a target fail → next target; 429s are recorded', async () => {
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.behaviour = fail(429, 7);
    a2.behaviour = fail(503);
    b1.behaviour = answer('from b');
    const t = setup([pa, pb], chain);
    const ex = await t.dispatcher.execute(req('coder'), t.ctx());
    expect(ex.resolved.label).toBe('pb/n');
    expect((await drain(ex.events))[0]).toEqual({ type: 'text', text: 'from b' });
    await t.dispatcher.observed();
    expect(t.usage[0].switches).toBe(2);
    expect(t.usage[0].status).toBe(200);
    t.idle();
  });

  it('all down → the 429 with the shortest Retry-After beats a 502', async () => {
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.behaviour = fail(429, 30);
    a2.behaviour = fail(429, 4);
    b1.behaviour = fail(502);
    const t = setup([pa, pb], chain);
    const e = await rejection(t.dispatcher.execute(req('coder'), t.ctx()));
    expect(e.status).toBe(429);
    expect(e.retryAfter).toBe(4);
    await t.dispatcher.observed();
    expect(t.usage).toHaveLength(1);
    expect(t.usage[0]).toMatchObject({ status: 429, errorType: 'rate_limited', switches: 2 });
    t.idle();
  });

  it('all down without 429 → the most recent upstream error, after error rules', async () => {
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.behaviour = fail(500);
    a2.behaviour = fail(500);
    b1.behaviour = fail(503, undefined, 'overloaded');
    const t = setup([pa, pb], chain, { errorRules: [{ status: 503, match: 'overload', action: 'replace', replaceStatus: 503, message: 'Busy, retry soon.' }] });
    const e = await rejection(t.dispatcher.execute(req('coder'), t.ctx()));
    expect(e.status).toBe(503);
    expect(e.message).toBe('Busy, retry soon.');
    t.idle();
  });

  it('a hanging instance hits the first-byte timeout, is cancelled, and the next target serves', async () => {
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.behaviour = hang();
    a2.behaviour = hang();
    b1.behaviour = answer('fast');
    const clock = fakeClock();
    const t = setup([pa, pb], { coder: { chain: [{ target: 'pa/m', firstByteTimeoutMs: 150 }, 'pb/n'] } }, {
      limits: { maxSwitches: 0, firstByteTimeoutMs: 10_000, queueTimeoutMs: 5_000 },
      clock,
    });
    const pending = t.dispatcher.execute(req('coder'), t.ctx());
    await clock.advance(149);
    expect(a1.calls.length + a2.calls.length).toBe(1);
    expect(b1.calls).toHaveLength(0);
    await clock.advance(1);
    const ex = await pending;
    expect(ex.resolved.label).toBe('pb/n');
    await drain(ex.events);
    // maxSwitches 0: one instance of pa tried, then straight to the next target.
    expect(a1.calls.length + a2.calls.length).toBe(1);
    expect(a1.aborted + a2.aborted).toBe(1);
    await t.dispatcher.observed();
    expect(t.usage[0].switchReasons[0]).toMatch(/first_byte_timeout/);
    // The cancelled call unwound (its generator ended) once its signal aborted.
    expect(a1.active + a2.active).toBe(0);
    t.idle();
  });

  it('a non-retryable failure is returned at once, without trying others', async () => {
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.behaviour = fail(400, undefined, 'context too long');
    a2.behaviour = fail(400, undefined, 'context too long');
    const t = setup([pa, pb], chain);
    const e = await rejection(t.dispatcher.execute(req('coder'), t.ctx()));
    expect(e.status).toBe(400);
    expect(e.message).toBe('context too long');
    expect(a1.calls.length + a2.calls.length).toBe(1);
    expect(b1.calls).toHaveLength(0);
    expect(t.health.isHealthy('a1') && t.health.isHealthy('a2')).toBe(true);
    await t.dispatcher.observed();
    expect(t.usage[0]).toMatchObject({ status: 400 });
    t.idle();
  });

  it('a failure after the first event is thrown from the iterator, without retry', async () => {
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.behaviour = breakAfterFirst();
    a2.behaviour = breakAfterFirst();
    const t = setup([pa, pb], chain);
    const ex = await t.dispatcher.execute(req('coder'), t.ctx());
    const seen: ChatEvent[] = [];
    const e = await rejection((async () => {
      for await (const ev of ex.events) seen.push(ev);
    })());
    expect(seen).toEqual([{ type: 'text', text: 'partial' }]);
    expect(e.status).toBe(502);
    expect(b1.calls).toHaveLength(0);
    await t.dispatcher.observed();
    expect(t.usage[0]).toMatchObject({ status: 200, errorType: 'upstream_error' });
    t.idle();
  });

  it('client abort mid-stream cancels upstream and frees everything (status 499)', async () => {
    const { pa, pb, a1, a2 } = twoProviders();
    a1.behaviour = slowStream();
    a2.behaviour = slowStream();
    const t = setup([pa, pb], chain);
    const ctrl = new AbortController();
    const ex = await t.dispatcher.execute(req('coder'), t.ctx(ctrl.signal));
    const it = ex.events[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'text', text: 'first' });
    const pending = it.next();
    ctrl.abort();
    expect((await rejection(pending)).code).toBe('client_closed');
    expect(a1.aborted + a2.aborted).toBe(1);
    await t.dispatcher.observed();
    expect(t.usage).toHaveLength(1);
    expect(t.usage[0]).toMatchObject({ status: 499, errorType: 'client_closed' });
    t.idle();
  });

  it('client abort while the first byte is awaited, and close() before iterating, free everything', async () => {
    const { pa, pb, a1, a2 } = twoProviders();
    a1.behaviour = hang();
    a2.behaviour = hang();
    const t = setup([pa, pb], chain);
    const ctrl = new AbortController();
    const p = t.dispatcher.execute(req('coder'), t.ctx(ctrl.signal));
    // Nothing in this path waits on real time: one turn of the event loop reaches the hanging call.
    await settle();
    expect(a1.calls.length + a2.calls.length).toBe(1);
    ctrl.abort();
    expect((await rejection(p)).code).toBe('client_closed');
    await t.dispatcher.observed();
    expect(t.usage[0]).toMatchObject({ status: 499 });
    t.idle();

    a1.behaviour = slowStream();
    a2.behaviour = slowStream();
    const ex = await t.dispatcher.execute(req('coder'), t.ctx());
    ex.close();
    ex.close();
    await t.dispatcher.observed();
    expect(t.usage[1]).toMatchObject({ status: 499 });
    t.idle();

    // A consumer that stops right after `finish` got a whole answer: 200.
    a1.behaviour = answer('done');
    a2.behaviour = answer('done');
    const ex2 = await t.dispatcher.execute(req('coder'), t.ctx());
    for await (const ev of ex2.events) if (ev.type === 'finish') break;
    await t.dispatcher.observed();
    expect(t.usage[2]).toMatchObject({ status: 200 });
    expect(t.usage).toHaveLength(3);
    t.idle();
  });

  it('uses reported usage, and counts tokens by the resolved model', async () => {
    const pa = fakeProvider('pa', { models: ['m'], instances: [fakeInstance('a1', 'pa', { behaviour: answer('x', { promptTokens: 11, completionTokens: 22 }) })] });
    const t = setup([pa]);
    const ex = await t.dispatcher.execute(req('pa/m'), t.ctx());
    await drain(ex.events);
    await t.dispatcher.observed();
    expect(t.usage[0]).toMatchObject({ promptTokens: 11, completionTokens: 22, tokensEstimated: false });
    const tokens = await t.metrics.registry.getSingleMetricAsString('relay_tokens_total');
    expect(tokens).toContain('model="pa/m",kind="prompt"} 11');
    t.idle();
  });

  it('skips targets that cannot take tools or images; 400 when none can', async () => {
    const noTools = fakeProvider('lm', { models: ['x'], capabilities: { tools: false, images: false } });
    const withTools = fakeProvider('ol', { models: ['y'] });
    const tools = [{ name: 'get_weather', parameters: { type: 'object' } }];
    const t = setup([noTools, withTools], {
      coder: { chain: ['lm/x', 'ol/y'] },
      only: { chain: ['lm/x'] },
      emu: { chain: [{ target: 'lm/x', options: { toolEmulation: true } }] },
    });
    const ex = await t.dispatcher.execute(req('coder', { tools }), t.ctx());
    expect(ex.resolved.label).toBe('ol/y');
    await drain(ex.events);
    await t.dispatcher.observed();
    expect(t.usage[0].switchReasons).toEqual(['lm/x:tools_unsupported']);
    const e = await rejection(t.dispatcher.execute(req('only', { tools }), t.ctx()));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/tools unsupported/);
    const img = req('only', { messages: [{ role: 'user', content: [{ type: 'image', url: 'data:image/png;base64,AAAA' }] }] });
    expect((await rejection(t.dispatcher.execute(img, t.ctx()))).message).toMatch(/images unsupported/);
    // Tool emulation: the backend gets no tools, the tools are described in the prompt.
    const lm = noTools.list[0];
    const ex2 = await t.dispatcher.execute(req('emu', { tools }), t.ctx());
    await drain(ex2.events);
    const sent = lm.calls[lm.calls.length - 1].req;
    expect(sent.tools).toBeUndefined();
    expect(sent.options).toEqual({ toolEmulation: true });
    expect(JSON.stringify(sent.messages)).toContain('get_weather');
    t.idle();
  });

  it('tool emulation leaves native tools alone on a provider that has them', async () => {
    const native = fakeProvider('ol', { models: ['y'] });
    const tools = [{ name: 'get_weather', parameters: { type: 'object' } }];
    const t = setup([native], { emu: { chain: [{ target: 'ol/y', options: { toolEmulation: true } }] } });
    const ex = await t.dispatcher.execute(req('emu', { tools }), t.ctx());
    await drain(ex.events);
    const sent = native.list[0].calls[0].req;
    expect(sent.tools).toEqual(tools);
    expect(JSON.stringify(sent.messages)).not.toContain('<tool_call>');
    t.idle();
  });

  it('passes the upstream id and merged options to the instance', async () => {
    const pa = fakeProvider('pa', { models: [{ id: 'real-id', displayName: 'Pretty' }] });
    const t = setup([pa], { nice: { chain: [{ target: 'pa/Pretty', options: { lingmaMode: 'agent' } }] } });
    const ex = await t.dispatcher.execute(req('nice', { options: { a: 1 } }), t.ctx());
    await drain(ex.events);
    expect(pa.list[0].calls[0].req).toMatchObject({ model: 'real-id', options: { a: 1, lingmaMode: 'agent' } });
  });

  it('unknown model, admission and budget refusals still produce one usage record each', async () => {
    const { pa, pb } = twoProviders();
    const t = setup([pa, pb], chain, {
      checkBudget: (caller) => {
        if (caller.keyId === 'poor') throw new RelayError({ status: 429, type: 'rate_limit_error', code: 'budget_exceeded', message: 'Daily token budget used up.', retryAfter: 60 });
      },
    });
    expect((await rejection(t.dispatcher.execute(req('nope'), t.ctx()))).status).toBe(404);
    const poor = { ...t.ctx(), caller: { keyId: 'poor' } };
    expect((await rejection(t.dispatcher.execute(req('coder'), poor))).code).toBe('budget_exceeded');
    await t.dispatcher.observed();
    expect(t.usage.map((u) => u.status)).toEqual([404, 429]);
    expect(await t.metrics.registry.getSingleMetricAsString('relay_rejected_total')).toContain('reason="budget"} 1');
    t.idle();
  });

  it('unhealthy instances are skipped while others are healthy', async () => {
    const { pa, pb, a1, a2 } = twoProviders();
    a1.behaviour = fail(500);
    const t = setup([pa, pb], chain);
    t.health.recordFailure('a1', new RelayError({ status: 502, type: 'upstream_error', code: 'upstream_error', message: 'x' }));
    for (let i = 0; i < 5; i++) {
      const ex = await t.dispatcher.execute(req('coder', { sessionKey: `s${i}` }), t.ctx());
      expect(ex.resolved.instance).toBe('a2');
      await drain(ex.events);
    }
    expect(a1.calls).toHaveLength(0);
    expect(a2.calls).toHaveLength(5);
    t.idle();
  });

  it('instances that are not ready are made ready first; a failing ensureReady fails over', async () => {
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.setState('stopped');
    a2.setState('failed');
    const t = setup([pa, pb], chain);
    const ex = await t.dispatcher.execute(req('coder'), t.ctx());
    expect(ex.resolved.instance).toBe('a1');
    await drain(ex.events);
    expect(a1.readyCalls).toBe(1);
    a1.setState('failed');
    const ex2 = await t.dispatcher.execute(req('coder'), t.ctx());
    expect(ex2.resolved.instance).toBe('b1');
    await drain(ex2.events);
    expect(b1.calls).toHaveLength(1);
    t.idle();
  });

  it('embeddings go through the same walk', async () => {
    const e1 = fakeInstance('e1', 'emb', { embed: true });
    const emb = fakeProvider('emb', { models: [{ id: 'vec', embedding: true }], instances: [e1] });
    const t = setup([emb]);
    const out = await t.dispatcher.embed({ model: 'emb/vec', input: ['a', 'b'] }, { ...t.ctx(), protocol: 'openai-embeddings', endpoint: '/v1/embeddings' });
    expect(out.resolved.label).toBe('emb/vec');
    expect(out.result.data).toHaveLength(2);
    await t.dispatcher.observed();
    expect(t.usage[0]).toMatchObject({ status: 200, promptTokens: 3, stream: false, tokensEstimated: false });
    t.idle();
  });

  it('concurrent requests on single-slot instances queue and all complete; nothing leaks', async () => {
    const a1 = fakeInstance('a1', 'pa', { maxConcurrency: 1, behaviour: slowStream() });
    const pa = fakeProvider('pa', { models: ['m'], instances: [a1] });
    const t = setup([pa]);
    const ctrls = [new AbortController(), new AbortController(), new AbortController()];
    const first = await t.dispatcher.execute(req('pa/m'), t.ctx(ctrls[0].signal));
    a1.behaviour = answer('next');
    const second = t.dispatcher.execute(req('pa/m'), t.ctx(ctrls[1].signal));
    const third = t.dispatcher.execute(req('pa/m'), t.ctx(ctrls[2].signal));
    await settle();
    expect(t.pool.waiting()).toBe(2);
    ctrls[2].abort();
    expect((await rejection(third)).code).toBe('client_closed');
    ctrls[0].abort();
    await rejection(drain(first.events));
    const ex2 = await second;
    await drain(ex2.events);
    await t.dispatcher.observed();
    expect(t.usage.map((u) => u.status).sort()).toEqual([200, 499, 499]);
    t.idle();
  });
});

describe('dispatcher circuit breaking across the chain', () => {
  it('a target whose instances are all unhealthy is tried after healthy targets, and still tried last', async () => {
    const a1 = fakeInstance('a1', 'pa');
    const b1 = fakeInstance('b1', 'pb');
    const pa = fakeProvider('pa', { models: ['m'], instances: [a1] });
    const pb = fakeProvider('pb', { models: ['n'], instances: [b1] });
    const t = setup([pa, pb], chain);
    t.health.recordFailure('a1', new RelayError({ status: 502, type: 'upstream_error', code: 'upstream_error', message: 'x' }));
    const ex = await t.dispatcher.execute(req('coder'), t.ctx());
    expect(ex.resolved.instance).toBe('b1');
    await drain(ex.events);
    expect(a1.calls).toHaveLength(0);
    // When the healthy target fails too, the sick one still gets its chance.
    b1.behaviour = fail(500);
    const ex2 = await t.dispatcher.execute(req('coder'), t.ctx());
    expect(ex2.resolved.instance).toBe('a1');
    await drain(ex2.events);
    expect(t.health.isHealthy('a1')).toBe(true);
    t.idle();
  });
});

describe('dispatcher observability', () => {
  it('one structured log line per switch with the request id, and live-request events', async () => {
    const lines: any[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const { pa, pb, a1, a2, b1 } = twoProviders();
    a1.behaviour = fail(500);
    a2.behaviour = fail(502);
    b1.behaviour = answer('ok');
    pa.preferred = 'a1';
    const t = setup([pa, pb], chain);
    const live: string[] = [];
    t.hub.on('requestStart', (r) => live.push(`start:${r.model}`));
    t.hub.on('requestUpdate', (r) => live.push(`update:${r.resolved}:${r.instance}`));
    t.hub.on('requestEnd', (r) => live.push(`end:${r.status}`));
    const ex = await t.dispatcher.execute(req('coder'), { ...t.ctx(), requestId: 'rid-42', log });
    await drain(ex.events);
    const switches = lines.filter((l) => l.msg === 'backend switch');
    expect(switches).toHaveLength(2);
    expect(switches.every((l) => l.requestId === 'rid-42')).toBe(true);
    expect(switches.map((l) => `${l.from}->${l.to}`)).toEqual(['a1->a2', 'a2->b1']);
    await t.dispatcher.observed();
    expect(live).toEqual(['start:coder', 'update:pb/n:b1', 'end:200']);
    t.idle();
  });
});

describe('dispatcher hops', () => {
  it("the pool gets the resolved hop: the target's model and the alias options, the same request the instance is sent", async () => {
    const a1 = fakeInstance('a1', 'pa');
    const a2 = fakeInstance('a2', 'pa');
    const pa = fakeProvider('pa', { models: ['m'], instances: [a1, a2] });
    const seen: ChatRequest[] = [];
    pa.preferredInstance = (r) => {
      seen.push(r);
      return 'a2';
    };
    const t = setup([pa], { agent: { chain: [{ target: 'pa/m', options: { lingmaMode: 'agent' } }] } });
    const ex = await t.dispatcher.execute(req('agent', { options: { fromClient: 1 } }), t.ctx());
    await drain(ex.events);
    expect(ex.resolved.instance).toBe('a2');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ model: 'm', options: { fromClient: 1, lingmaMode: 'agent' } });
    expect(a2.calls[0].req).toBe(seen[0]);
    t.idle();
  });
});

describe('dispatcher queued counts', () => {
  it('counts calls waiting for a busy instance slot in relay_queued and admission stats', async () => {
    const inst = fakeInstance('l1', 'pa', { maxConcurrency: 1, behaviour: hang() });
    const p = fakeProvider('pa', { models: ['m'], instances: [inst] });
    const { dispatcher, metrics, pool, admission, ctx } = setup([p]);
    const ctrls = [0, 1, 2].map(() => new AbortController());
    const runs = ctrls.map((c, i) => dispatcher.execute(req('pa/m'), ctx(c.signal, `q${i}`)).catch((e) => e));
    await waitFor(() => pool.waiting() === 2, 'two pool waiters');
    expect((await metrics.queued.get()).values[0].value).toBe(2);
    expect(admission.stats().queued).toBe(2);
    for (const c of ctrls) c.abort();
    await Promise.all(runs);
    await waitFor(() => pool.waiting() === 0 && pool.totalInFlight() === 0, 'the pool to empty');
    expect((await metrics.queued.get()).values[0].value).toBe(0);
    expect(admission.stats().queued).toBe(0);
  });
});

describe('dispatcher views', () => {
  it('exposes the health cache view and model resolution', () => {
    const p = fakeProvider('pa', { models: ['m'] });
    const { dispatcher, health } = setup([p]);
    health.recordFailure('pa-1', Object.assign(new Error('x'), { code: 'upstream_error', status: 502, message: 'boom' }) as never);
    expect(dispatcher.instanceHealth?.('pa-1').healthy).toBe(false);
    expect(dispatcher.resolveModel?.('pa/m').targets[0].label).toBe('pa/m');
    expect(() => dispatcher.resolveModel?.('nope')).toThrow(/nope/);
  });
});
