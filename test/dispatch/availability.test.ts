/**
 * The one availability answer in the pool and the dispatcher: only serving instances are picked,
 * favourites yield, waits are on the pool, credit cool-downs (record, re-check, clear, 429).
 */
import { describe, expect, it, vi } from 'vitest';
import type { ChatEvent, ChatRequest } from '../../src-main/core/chat/model';
import { errors, RelayError } from '../../src-main/core/errors';
import { EventHub } from '../../src-main/core/events';
import { createAdmission } from '../../src-main/core/dispatch/admission';
import { createDispatcher } from '../../src-main/core/dispatch/dispatcher';
import { liveRequests } from '../../src-main/core/dispatch/observers';
import { Metrics, requestMetrics } from '../../src-main/core/gateway/metrics';
import type { RequestContext } from '../../src-main/core/dispatch/types';
import { createAvailability } from '../../src-main/core/pool/availability-model';
import { createPool, hopOf } from '../../src-main/core/pool/pool';
import type { Clock } from '../../src-main/core/ports';
import { createResolver, type AliasesConfig } from '../../src-main/core/routing/aliases';
import { createHealthCache } from '../../src-main/core/routing/health';
import { fakeClock } from '../helpers/fake-clock';
import { answer, fakeInstance, fakeProvider, silentLog, type Behaviour, type FakeProvider } from './fakes';

function setup(providers: FakeProvider[], opts: { aliases?: AliasesConfig; clock?: Clock; firstByteTimeoutMs?: number } = {}) {
  const metrics = new Metrics();
  const health = createHealthCache({ failureThreshold: 1, baseBackoffMs: 60_000, maxBackoffMs: 60_000, clock: opts.clock });
  const availability = createAvailability({ health, providers: () => providers, metrics, clock: opts.clock });
  const pool = createPool({ health, metrics, availability, clock: opts.clock });
  const admission = createAdmission({ maxInFlight: 32, queueTimeoutMs: 5_000, perKeyConcurrency: 32, perKeyQueue: 8 }, metrics, opts.clock);
  const dispatcher = createDispatcher({
    resolver: createResolver({ providers: () => providers, aliases: opts.aliases }),
    providers: () => providers,
    pool,
    admission,
    health,
    observers: [requestMetrics(metrics), liveRequests(new EventHub())],
    limits: { maxSwitches: 3, firstByteTimeoutMs: opts.firstByteTimeoutMs ?? 10_000, queueTimeoutMs: 5_000 },
    clock: opts.clock,
    log: silentLog,
  });
  let n = 0;
  const ctx = (): RequestContext => ({
    requestId: `req-${++n}`, caller: { keyId: 'key1' }, protocol: 'openai-chat', endpoint: '/v1/chat/completions',
    signal: new AbortController().signal, receivedAt: Date.now(), log: silentLog,
  });
  return { metrics, health, availability, pool, dispatcher, ctx };
}

const req = (model: string, over: Partial<ChatRequest> = {}): ChatRequest => ({
  model, stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'hello there' }] }], ...over,
});

async function drain(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

const quotaFail = (resetsAt?: number): Behaviour =>
  async function* () {
    throw errors.quotaExceeded('usage exceeds frequency limit', { upstreamStatus: 429, resetsAt });
  };

describe('the pool picks only serving instances', () => {
  it('one account stuck signing in + two serving: eight requests with different affinity keys are all answered by the serving ones', async () => {
    const stuck = fakeInstance('stuck', 'lingma', { login: { state: 'logged_in' } });
    const a = fakeInstance('a', 'lingma', { login: { state: 'logged_in' } });
    const b = fakeInstance('b', 'lingma', { login: { state: 'logged_in' } });
    const lingma = fakeProvider('lingma', { models: ['m'], instances: [stuck, a, b] });
    // The stuck one owns every session, as a reusable session's owner would.
    lingma.preferred = 'stuck';
    const t = setup([lingma]);

    // Keys whose rendezvous favourite is the stuck account, while it serves.
    const keys: string[] = [];
    const favourites: string[] = [];
    for (let k = 0; keys.length < 8 && k < 500; k++) {
      const l = await t.pool.acquire(hopOf(lingma, req('lingma/m', { sessionKey: `s${k}` })));
      if (favourites.length < 4 && l.instance.name === 'stuck') favourites.push(`s${k}`);
      else if (keys.length + favourites.length < 8 && l.instance.name !== 'stuck') keys.push(`s${k}`);
      l.release();
      if (favourites.length + keys.length >= 8) break;
    }
    const all = [...favourites, ...keys];
    expect(favourites.length).toBe(4);
    expect(all).toHaveLength(8);

    // It starts signing in again and never completes.
    stuck.setLogin({ state: 'logging_in' });
    expect(t.availability.of(stuck)).toMatchObject({ serving: false, status: 'signing_in' });

    const done = await Promise.all(all.map(async (sessionKey) => {
      const ex = await t.dispatcher.execute(req('lingma/m', { sessionKey }), t.ctx());
      await drain(ex.events);
      return ex.resolved.instance;
    }));
    expect(done.every((n) => n === 'a' || n === 'b')).toBe(true);
    // Nobody waited on (or even touched) the stuck account.
    expect(stuck.calls).toHaveLength(0);
    expect(stuck.readyCalls).toBe(0);
    expect(t.pool.waiting()).toBe(0);
    expect(a.calls.length + b.calls.length).toBe(8);
  });

  it('with nothing serving, a request waits on the pool and takes the first instance that becomes serving', async () => {
    const s1 = fakeInstance('s1', 'p', { state: 'starting' });
    const s2 = fakeInstance('s2', 'p', { state: 'ready', login: { state: 'logging_in' } });
    const p = fakeProvider('p', { models: ['m'], instances: [s1, s2] });
    const t = setup([p]);
    const pending = t.dispatcher.execute(req('p/m', { sessionKey: 'x' }), t.ctx());
    await vi.waitFor(() => expect(t.pool.waiting()).toBe(1));
    // The second one finishes signing in first: the request takes it, whatever its favourite.
    s2.setLogin({ state: 'logged_in' });
    const ex = await pending;
    expect(ex.resolved.instance).toBe('s2');
    await drain(ex.events);
    expect(s1.readyCalls).toBe(0);
    expect(t.pool.waiting()).toBe(0);
  });

  it('the wait for a serving instance is bounded by the first-byte timeout (a retryable 503 naming why)', async () => {
    const s1 = fakeInstance('s1', 'p', { state: 'starting' });
    const p = fakeProvider('p', { models: ['m'], instances: [s1] });
    const t = setup([p], { firstByteTimeoutMs: 100 });
    const e = (await t.dispatcher.execute(req('p/m'), t.ctx()).catch((x) => x)) as RelayError;
    expect(e).toBeInstanceOf(RelayError);
    expect(e.status).toBe(503);
    expect(e.message).toContain('s1 is starting');
    expect(t.pool.waiting()).toBe(0);
  });

  it('an account that needs a person is never picked; with nothing else it is a 503 that says so', async () => {
    const manual = fakeInstance('m1', 'p', { login: { state: 'needs_manual', url: 'https://login.example/x?token=abc', reason: 'captcha' } });
    const p = fakeProvider('p', { models: ['m'], instances: [manual] });
    const t = setup([p]);
    const e = (await t.dispatcher.execute(req('p/m'), t.ctx()).catch((x) => x)) as RelayError;
    expect(e.status).toBe(503);
    expect(e.message).toContain('m1 needs a person to finish signing in');
    expect(e.message).not.toContain('login.example');
    expect(manual.calls).toHaveLength(0);
  });
});

describe('credits and quota', () => {
  it('a quota error cools the account down until its reset, the dispatcher fails over, and clearing removes every trace', async () => {
    const resetsAt = Date.now() + 3_600_000;
    const a = fakeInstance('a', 'p', { behaviour: quotaFail(resetsAt) });
    const b = fakeInstance('b', 'p');
    const p = fakeProvider('p', { models: ['m'], instances: [a, b] });
    p.preferred = 'a';
    const t = setup([p]);
    const ex = await t.dispatcher.execute(req('p/m'), t.ctx());
    expect(ex.resolved.instance).toBe('b');
    await drain(ex.events);
    expect(t.availability.of(a)).toMatchObject({ serving: false, status: 'out_of_credits', until: resetsAt, quota: { exceeded: true, resetsAt }, clearable: true });
    // Out of credits is not ill health.
    expect(t.health.isHealthy('a')).toBe(true);
    expect(await t.metrics.registry.getSingleMetricAsString('relay_account_quota_exceeded')).toContain('relay_account_quota_exceeded{provider="p",instance="a"} 1');

    a.behaviour = answer('back');
    for (let i = 0; i < 4; i++) {
      const next = await t.dispatcher.execute(req('p/m', { sessionKey: `k${i}` }), t.ctx());
      expect(next.resolved.instance).toBe('b');
      await drain(next.events);
    }
    expect(a.calls).toHaveLength(1);

    // A health backoff on top, then a person clears it: serving, healthy, metric 0.
    t.health.recordFailure('a', errors.upstream('down'));
    t.availability.clear('a');
    expect(t.availability.of(a)).toMatchObject({ serving: true, status: 'serving' });
    expect(t.availability.of(a).quota).toBeUndefined();
    expect(t.health.isHealthy('a')).toBe(true);
    expect(await t.metrics.registry.getSingleMetricAsString('relay_account_quota_exceeded')).toContain('instance="a"} 0');
    const again = await t.dispatcher.execute(req('p/m'), t.ctx());
    expect(again.resolved.instance).toBe('a');
    await drain(again.events);
  });

  it('when every instance of every target is out of credits, clients get 429 rate_limit_error with Retry-After until the earliest reset', async () => {
    const soon = Date.now() + 120_000;
    const later = Date.now() + 7_200_000;
    const a1 = fakeInstance('a1', 'pa', { behaviour: quotaFail(later) });
    const b1 = fakeInstance('b1', 'pb', { behaviour: quotaFail(soon) });
    const pa = fakeProvider('pa', { models: ['m'], instances: [a1] });
    const pb = fakeProvider('pb', { models: ['n'], instances: [b1] });
    const t = setup([pa, pb], { aliases: { coder: { chain: ['pa/m', 'pb/n'] } } });
    const first = (await t.dispatcher.execute(req('coder'), t.ctx()).catch((x) => x)) as RelayError;
    expect(first.status).toBe(429);
    expect(first.type).toBe('rate_limit_error');
    // Now both are cooling down: refused without calling anyone, Retry-After to the earliest reset.
    const second = (await t.dispatcher.execute(req('coder'), t.ctx()).catch((x) => x)) as RelayError;
    expect(second.status).toBe(429);
    expect(second.type).toBe('rate_limit_error');
    expect(second.code).toBe('quota_exceeded');
    expect(second.retryAfter).toBeGreaterThan(100);
    expect(second.retryAfter).toBeLessThanOrEqual(120);
    expect(a1.calls).toHaveLength(1);
    expect(b1.calls).toHaveLength(1);
  });

  it('without a reset time the cool-down is exponential from one minute, at most a day; the prober re-checks it when it ends', async () => {
    const clock = fakeClock();
    const a = fakeInstance('a', 'p');
    const p = fakeProvider('p', { models: ['m'], instances: [a] });
    const t = setup([p], { clock });
    const prober = t.health.startProbing(() => p.list, 3_600_000, 1000, {
      due: (i) => t.availability.due(i),
      outcome: (i, e) => t.availability.probed(i, e),
    });
    const t0 = clock.now();
    expect(t.availability.recordQuota('a')).toBe(t0 + 60_000);
    expect(t.availability.of(a).status).toBe('out_of_credits');
    expect(t.availability.due(a)).toBe(false);
    await clock.advance(60_000);
    expect(t.availability.due(a)).toBe(true);
    // The re-check finds it still out of credits: the next cool-down is twice as long.
    a.probe = async () => {
      a.probes++;
      throw errors.quotaExceeded('usage exceeds frequency limit');
    };
    await prober.tick();
    expect(a.probes).toBe(1);
    expect(t.availability.of(a)).toMatchObject({ status: 'out_of_credits', until: clock.now() + 120_000 });
    expect(t.health.isHealthy('a')).toBe(true);
    // Strikes keep doubling, capped at a day.
    for (let i = 0; i < 20; i++) t.availability.recordQuota('a');
    expect(t.availability.of(a).until).toBe(clock.now() + 24 * 3_600_000);
    t.availability.clear('a');
    t.availability.recordQuota('a');
    expect(t.availability.of(a).until).toBe(clock.now() + 60_000);
    // The re-check passes: serving again.
    a.probe = async () => {
      a.probes++;
    };
    await clock.advance(60_000);
    await prober.tick();
    expect(t.availability.of(a)).toMatchObject({ serving: true, status: 'serving' });
    prober.stop();
    t.availability.stop();
  });

  it("the backend's own quota flag takes the account out until it changes; a person's clear overrides a stale flag", async () => {
    const a = fakeInstance('a', 'p', { login: { state: 'logged_in' } });
    const b = fakeInstance('b', 'p', { login: { state: 'logged_in' } });
    const p = fakeProvider('p', { models: ['m'], instances: [a, b] });
    const t = setup([p]);
    t.availability.sync();
    const resetsAt = Date.now() + 600_000;
    a.setQuota({ exceeded: true, resetsAt });
    expect(t.availability.of(a)).toMatchObject({ status: 'out_of_credits', quota: { exceeded: true, resetsAt } });
    for (let i = 0; i < 3; i++) {
      const l = await t.pool.acquire(hopOf(p, req('p/m', { sessionKey: `z${i}` })));
      expect(l.instance.name).toBe('b');
      l.release();
    }
    t.availability.clear('a');
    expect(t.availability.of(a).serving).toBe(true);
    // A fresh report from the backend counts again.
    a.setQuota({ exceeded: true, resetsAt: resetsAt + 1 });
    expect(t.availability.of(a).status).toBe('out_of_credits');
    a.setQuota({ exceeded: false });
    expect(t.availability.of(a)).toMatchObject({ serving: true, quota: { exceeded: false } });
  });
});
