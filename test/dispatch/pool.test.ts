import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src-main/core/chat/model';
import { errors, RelayError } from '../../src-main/core/errors';
import { Metrics } from '../../src-main/core/gateway/metrics';
import { affinityKey, createPool, hopOf } from '../../src-main/core/pool/pool';
import { createHealthCache } from '../../src-main/core/routing/health';
import { fakeInstance, fakeProvider, silentLog } from './fakes';

const health = () => createHealthCache({ failureThreshold: 1, baseBackoffMs: 60_000, maxBackoffMs: 60_000 });
const chat = (over: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'm', stream: false, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], ...over,
});
const callCtx = { requestId: 'r', apiKeyId: 'k', signal: new AbortController().signal, log: silentLog, meta: {} };

function three(max = 4) {
  return fakeProvider('p', { instances: [fakeInstance('a', 'p', { maxConcurrency: max }), fakeInstance('b', 'p', { maxConcurrency: max }), fakeInstance('c', 'p', { maxConcurrency: max })] });
}

describe('pool', () => {
  it('picks by the affinity key the hop carries (hashed once by the caller), not by hashing the request again', async () => {
    const pool = createPool({ health: health() });
    const p = three();
    const names = new Set<string>();
    for (let k = 0; k < 12; k++) {
      // Different conversations, one key: one instance.
      const l = await pool.acquire({ provider: p, request: chat({ sessionKey: `other-${k}` }), affinity: affinityKey(chat({ sessionKey: 'pinned' })) });
      names.add(l.instance.name);
      l.release();
    }
    expect(names.size).toBe(1);
  });

  it('the same session key sticks to the same instance; different keys spread', async () => {
    const pool = createPool({ health: health() });
    const p = three();
    const seen = new Map<string, Set<string>>();
    for (let k = 0; k < 30; k++) {
      for (let rep = 0; rep < 3; rep++) {
        const l = await pool.acquire(hopOf(p, chat({ sessionKey: `s${k}` })));
        if (!seen.has(`s${k}`)) seen.set(`s${k}`, new Set());
        seen.get(`s${k}`)!.add(l.instance.name);
        l.release();
      }
    }
    for (const s of seen.values()) expect(s.size).toBe(1);
    const used = new Set([...seen.values()].map((s) => [...s][0]));
    expect(used.size).toBe(3);
  });

  it('affinity falls back: session key, then user, then system prompt, then first message', () => {
    const sys = { role: 'system' as const, content: [{ type: 'text' as const, text: 'you are helpful' }] };
    const user = (t: string) => ({ role: 'user' as const, content: [{ type: 'text' as const, text: t }] });
    expect(affinityKey(chat({ sessionKey: 'x', user: 'u' }))).toBe(affinityKey(chat({ sessionKey: 'x', user: 'v' })));
    expect(affinityKey(chat({ user: 'u', messages: [user('a')] }))).toBe(affinityKey(chat({ user: 'u', messages: [user('b')] })));
    expect(affinityKey(chat({ messages: [sys, user('a')] }))).toBe(affinityKey(chat({ messages: [sys, user('b')] })));
    expect(affinityKey(chat({ messages: [user('a'), user('x')] }))).toBe(affinityKey(chat({ messages: [user('a'), user('y')] })));
    expect(affinityKey(chat({ messages: [user('a')] }))).not.toBe(affinityKey(chat({ messages: [user('b')] })));
    expect(affinityKey(undefined)).toBeUndefined();
  });

  it('a busy favourite yields to the next in rank; removing an instance only moves its keys', async () => {
    const pool = createPool({ health: health() });
    const p = three(1);
    const req = chat({ sessionKey: 'sticky' });
    const l1 = await pool.acquire(hopOf(p, req));
    const l2 = await pool.acquire(hopOf(p, req));
    expect(l2.instance.name).not.toBe(l1.instance.name);
    l1.release();
    l2.release();

    const before = new Map<string, string>();
    for (let k = 0; k < 40; k++) {
      const l = await pool.acquire(hopOf(p, chat({ sessionKey: `k${k}` })));
      before.set(`k${k}`, l.instance.name);
      l.release();
    }
    const gone = 'b';
    p.list = p.list.filter((i) => i.name !== gone);
    for (const [k, was] of before) {
      const l = await pool.acquire(hopOf(p, chat({ sessionKey: k })));
      if (was !== gone) expect(l.instance.name).toBe(was);
      l.release();
    }
  });

  it('least in-flight without an affinity key; exclusion; preferred instance first', async () => {
    const m = new Metrics();
    const pool = createPool({ health: health(), metrics: m });
    const p = three();
    const held = [await pool.acquire(hopOf(p)), await pool.acquire(hopOf(p)), await pool.acquire(hopOf(p))];
    expect(new Set(held.map((l) => l.instance.name)).size).toBe(3);
    held[0].release();
    const next = await pool.acquire(hopOf(p));
    expect(next.instance.name).toBe(held[0].instance.name);
    expect(pool.inFlight(next.instance.name)).toBe(1);
    expect(await m.registry.getSingleMetricAsString('relay_backend_in_flight')).toContain(`backend="${next.instance.name}"} 1`);

    const ex = await pool.acquire(hopOf(p, chat({ sessionKey: 'z' })), { exclude: new Set(['a', 'b']) });
    expect(ex.instance.name).toBe('c');
    p.preferred = 'b';
    const pref = await pool.acquire(hopOf(p, chat({ sessionKey: 'z' })), { callCtx });
    expect(pref.instance.name).toBe('b');
    for (const l of [...held, next, ex, pref]) l.release();
    expect(pool.totalInFlight()).toBe(0);
  });

  it('release is idempotent', async () => {
    const pool = createPool({ health: health() });
    const p = three();
    const a = await pool.acquire(hopOf(p));
    const b = await pool.acquire(hopOf(p), { exclude: new Set(['b', 'c']) });
    expect(pool.inFlight('a')).toBe(2);
    a.release();
    a.release();
    a.release();
    expect(pool.inFlight('a')).toBe(1);
    b.release();
    expect(pool.totalInFlight()).toBe(0);
  });

  it('skips unhealthy instances while others are healthy; round-robin when none is', async () => {
    const h = health();
    const pool = createPool({ health: h });
    const p = three();
    h.recordFailure('a', errors.upstream('down'));
    h.recordFailure('b', errors.upstream('down'));
    for (let k = 0; k < 10; k++) {
      const l = await pool.acquire(hopOf(p, chat({ sessionKey: `k${k}` })));
      expect(l.instance.name).toBe('c');
      l.release();
    }
    h.recordFailure('c', errors.upstream('down'));
    const got = new Set<string>();
    for (let k = 0; k < 6; k++) {
      const l = await pool.acquire(hopOf(p, chat({ sessionKey: 'same' })));
      got.add(l.instance.name);
      l.release();
    }
    expect(got).toEqual(new Set(['a', 'b', 'c']));
  });

  it('waits for a free slot (FIFO), times out with a retryable 429, and stops waiting on abort', async () => {
    const pool = createPool({ health: health() });
    const p = fakeProvider('p', { instances: [fakeInstance('only', 'p', { maxConcurrency: 1 })] });
    const first = await pool.acquire(hopOf(p));
    const order: number[] = [];
    const w1 = pool.acquire(hopOf(p), { waitMs: 10_000 }).then((l) => (order.push(1), l));
    const w2 = pool.acquire(hopOf(p), { waitMs: 10_000 }).then((l) => (order.push(2), l));
    expect(pool.waiting()).toBe(2);
    first.release();
    const l1 = await w1;
    l1.release();
    const l2 = await w2;
    expect(order).toEqual([1, 2]);

    const timedOut = await pool.acquire(hopOf(p), { waitMs: 50 }).catch((e) => e as RelayError);
    expect(timedOut).toBeInstanceOf(RelayError);
    expect((timedOut as RelayError).status).toBe(429);
    expect((timedOut as RelayError).retryable).toBe(true);

    const ctrl = new AbortController();
    const aborted = pool.acquire(hopOf(p), { waitMs: 10_000, signal: ctrl.signal }).catch((e) => e as RelayError);
    expect(pool.waiting()).toBe(1);
    ctrl.abort();
    expect(((await aborted) as RelayError).code).toBe('client_closed');
    expect(pool.waiting()).toBe(0);
    l2.release();
    expect(pool.totalInFlight()).toBe(0);
  });

  it('no candidate at all is a retryable 503', async () => {
    const pool = createPool({ health: health() });
    const p = three();
    const e = (await pool.acquire(hopOf(p), { exclude: new Set(["a", "b", "c"]) }).catch((x) => x)) as RelayError;
    expect(e.status).toBe(503);
    expect(e.retryable).toBe(true);
    p.list.forEach((i) => i.setState('closed'));
    expect(((await pool.acquire(hopOf(p)).catch((x) => x)) as RelayError).code).toBe('no_instance');
  });
});
