/**
 * Session owners (the port the pool consults in team mode): the pool sends a conversation to the
 * instance the map names, ahead of rendezvous affinity, and records the instance it picks; the
 * single-node map forgets entries after their TTL and keeps a bounded number. `acquireOn` takes a
 * slot on one named instance under the pool's rules. Without a map the pool is as before.
 */
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src-main/core/chat/model';
import { MemorySessionOwners } from '../../src-main/core/cluster/memory-owners';
import type { SessionOwners } from '../../src-main/core/cluster/ports';
import { affinityKey, weight } from '../../src-main/core/pool/affinity';
import { createPool, hopOf } from '../../src-main/core/pool/pool';
import { createHealthCache } from '../../src-main/core/routing/health';
import { fakeClock } from '../helpers/fake-clock';
import { fakeInstance, fakeProvider, silentLog } from '../dispatch/fakes';

const health = () => createHealthCache({ failureThreshold: 1, baseBackoffMs: 60_000, maxBackoffMs: 60_000 });
const chat = (sessionKey: string): ChatRequest => ({ model: 'm', stream: false, sessionKey, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
const callCtx = { requestId: 'r', apiKeyId: 'k1', signal: new AbortController().signal, log: silentLog, meta: {} };
const two = () => fakeProvider('p', { instances: [fakeInstance('a', 'p', { maxConcurrency: 1 }), fakeInstance('b', 'p', { maxConcurrency: 1 })] });
/** The instance rendezvous affinity favours for a conversation, and the other one. */
const ranks = (sid: string): [string, string] => {
  const k = affinityKey(chat(sid))!;
  return weight(k, 'a') > weight(k, 'b') ? ['a', 'b'] : ['b', 'a'];
};

describe('session owners in the pool', () => {
  it('follows the owner the map names over rendezvous, and records what it picks', async () => {
    const owners = new MemorySessionOwners({ ttlMs: 60_000 });
    const pool = createPool({ health: health(), owners });
    const p = two();
    const [fav, other] = ranks('conv-1');
    const key = `p:k1:${affinityKey(chat('conv-1'))}`;
    // Nothing known: rendezvous, and the pick is remembered under (provider, caller, affinity).
    let l = await pool.acquire(hopOf(p, chat('conv-1')), { callCtx });
    expect(l.instance.name).toBe(fav);
    expect(owners.get(key)).toBe(fav);
    l.release();
    // Another node (or a failover) moved the conversation: the map wins over rendezvous.
    owners.set(key, other);
    l = await pool.acquire(hopOf(p, chat('conv-1')), { callCtx });
    expect(l.instance.name).toBe(other);
    l.release();
    // Another caller with the same conversation key is not steered by it.
    l = await pool.acquire(hopOf(p, chat('conv-1')), { callCtx: { ...callCtx, apiKeyId: 'k2' } });
    expect(l.instance.name).toBe(fav);
    l.release();
  });

  it('an owner that is busy yields to a free instance, and an asynchronous map is awaited', async () => {
    const map = new Map<string, string>();
    const owners: SessionOwners = { get: async (k) => map.get(k), set: (k, v) => void map.set(k, v) };
    const pool = createPool({ health: health(), owners });
    const p = two();
    const [fav, other] = ranks('conv-2');
    map.set(`p:k1:${affinityKey(chat('conv-2'))}`, other);
    const first = await pool.acquire(hopOf(p, chat('conv-2')), { callCtx });
    expect(first.instance.name).toBe(other);
    const second = await pool.acquire(hopOf(p, chat('conv-2')), { callCtx });
    expect(second.instance.name).toBe(fav);
    first.release();
    second.release();
  });

  it('a hop whose affinity is a getter keeps it when the owner is busy (rendezvous among the free ones)', async () => {
    // The dispatcher's hop computes `affinity` on its prototype: the pool's copy with the owner must carry it.
    class GetterHop {
      constructor(readonly provider: ReturnType<typeof fakeProvider>, readonly request: ChatRequest) {}
      get affinity(): string | undefined {
        return affinityKey(this.request);
      }
    }
    const map = new Map<string, string>();
    const owners: SessionOwners = { get: (k) => map.get(k), set: () => undefined };
    const pool = createPool({ health: health(), owners });
    const names = ['a', 'b', 'c', 'd'];
    const p = fakeProvider('p', { instances: names.map((n) => fakeInstance(n, 'p', { maxConcurrency: 1 })) });
    const busy = await pool.acquireOn(p, 'a');
    for (let i = 0; i < 8; i++) {
      const req = chat(`conv-getter-${i}`);
      const k = affinityKey(req)!;
      map.set(`p:k1:${k}`, 'a');
      const fav = names.slice(1).reduce((best, n) => (weight(k, n) > weight(k, best) ? n : best));
      const l = await pool.acquire(new GetterHop(p, req), { callCtx });
      expect(l.instance.name).toBe(fav);
      l.release();
    }
    busy.release();
  });

  it('without a map, picks stay rendezvous (single node unchanged)', async () => {
    const pool = createPool({ health: health() });
    const p = two();
    const [fav] = ranks('conv-3');
    for (let i = 0; i < 3; i++) {
      const l = await pool.acquire(hopOf(p, chat('conv-3')), { callCtx });
      expect(l.instance.name).toBe(fav);
      l.release();
    }
  });

  it('acquireOn takes a slot on the named instance and waits for it when it is taken', async () => {
    const pool = createPool({ health: health() });
    const p = two();
    const held = await pool.acquireOn(p, 'b');
    expect(held.instance.name).toBe('b');
    expect(pool.inFlight('b')).toBe(1);
    const waiting = pool.acquireOn(p, 'b', { waitMs: 60_000 });
    expect(pool.waiting()).toBe(1);
    held.release();
    const next = await waiting;
    expect(next.instance.name).toBe('b');
    expect(pool.inFlight('a')).toBe(0);
    next.release();
    await expect(pool.acquireOn(p, 'nobody')).rejects.toMatchObject({ code: 'no_instance' });
  });
});

describe('MemorySessionOwners', () => {
  it('forgets an entry its TTL after the last use and keeps at most maxEntries', async () => {
    const clock = fakeClock();
    const owners = new MemorySessionOwners({ ttlMs: 1000, maxEntries: 2, clock });
    owners.set('x', 'a');
    await clock.advance(900);
    expect(owners.get('x')).toBe('a');
    owners.set('x', 'a'); // used again: lives another TTL
    await clock.advance(900);
    expect(owners.get('x')).toBe('a');
    await clock.advance(200);
    expect(owners.get('x')).toBeUndefined();
    owners.set('1', 'a');
    owners.set('2', 'b');
    owners.set('3', 'c');
    expect(owners.size).toBe(2);
    expect(owners.get('1')).toBeUndefined();
    expect(owners.get('3')).toBe('c');
  });
});
