import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../src-main/core/gateway/metrics';
import type { ChatMessage } from '../../src-main/core/chat/model';
import type { LingmaInstance } from '../../src-main/core/backends/lingma/instance';
import { conversationHash, SessionCache } from '../../src-main/core/backends/lingma/session-cache';
import { fakeClock } from '../helpers/fake-clock';
import { assistant, chatReq, collect, ctx, makeProvider, readyInstance, sim, system, user, type Harness } from './helpers';

describe('session cache (unit)', () => {
  it('is an LRU with a TTL', async () => {
    const clock = fakeClock(1000);
    const c = new SessionCache({ enabled: true, maxEntries: 2, ttlSec: 10, clock });
    c.put('a', 's-a', 'i1');
    c.put('b', 's-b', 'i1');
    c.touch('a');
    c.put('c', 's-c', 'i2');
    expect(c.peek('b')).toBeUndefined();
    expect(c.peek('a')?.sessionId).toBe('s-a');
    expect(c.peek('c')?.instance).toBe('i2');
    await clock.advance(11_000);
    expect(c.peek('a')).toBeUndefined();
    c.put('d', 's-d', 'i1');
    c.put('e', 's-e', 'i2');
    expect(c.dropInstance('i1')).toBe(1);
    expect(c.stats()).toMatchObject({ entries: 1, maxEntries: 2 });
  });

  it('keys on the caller and the conversation, whitespace-insensitively', () => {
    const c = new SessionCache({ enabled: true, maxEntries: 10, ttlSec: 10 });
    const key = (k: string, convo: ChatMessage[]) => c.keysFor(k, [...convo, user('next')]).lookup;
    const convo: ChatMessage[] = [user('hi'), assistant('hello  there\n')];
    expect(key('k1', convo)).toBe(key('k1', [user('hi'), assistant('hello there')]));
    expect(key('k1', convo)).not.toBe(key('k2', convo));
    expect(key('k1', convo)).not.toBe(key('k1', [user('hi'), assistant('hello world')]));
  });

  it("hashes a request's conversation once: later asks with the same message list share it, and the next turn's key follows from it", () => {
    const c = new SessionCache({ enabled: true, maxEntries: 10, ttlSec: 10 });
    let reads = 0;
    const counted = (m: ChatMessage): ChatMessage => {
      const content = m.content;
      return Object.defineProperty({ ...m }, 'content', { enumerable: true, get: () => (reads++, content) });
    };
    const messages = [counted(user('hi')), counted(assistant('hello')), counted(user('and then?'))];
    const keys = c.keysFor('k1', messages); // the pool's preference (LingmaProvider.preferredInstance)
    expect(c.keysFor('k1', messages)).toBe(keys); // the turn (turns.ts), same request
    const answer = assistant('this');
    const next = keys.after(answer); // the key the turn stores for the next one
    expect(reads).toBe(3);
    expect(keys.lookup).toBe(`k1:${conversationHash(messages.slice(0, -1))}`);
    expect(next).toBe(`k1:${conversationHash([...messages, answer])}`);
    // The next request ends with a new turn: its lookup is this turn's stored key.
    expect(c.keysFor('k1', [...messages, answer, user('more')]).lookup).toBe(next);
    expect(c.keysFor('k2', messages).lookup).not.toBe(keys.lookup);
    // A caller that reuses its array for the next turn gets that turn's keys, not the memo.
    messages.push(answer, user('more'));
    expect(c.keysFor('k1', messages).lookup).toBe(next);
  });

  it('disabled or zero-sized stores nothing', () => {
    const c = new SessionCache({ enabled: false, maxEntries: 10, ttlSec: 10 });
    c.put('a', 's', 'i');
    expect(c.peek('a')).toBeUndefined();
    const z = new SessionCache({ enabled: true, maxEntries: 0, ttlSec: 10 });
    z.put('a', 's', 'i');
    expect(z.peek('a')).toBeUndefined();
  });
});

describe('session reuse against the simulator', () => {
  let h: Harness;
  let a: LingmaInstance;
  let b: LingmaInstance;
  const metrics = new Metrics();

  beforeAll(async () => {
    h = makeProvider({
      lingma: { accounts: [{ username: 'ann', name: 'ann' }, { username: 'bob', name: 'bob' }] },
      env: { LINGMA_SIM_LOGGED_IN_AS: 'someone' },
      deps: { metrics },
    });
    a = await readyInstance(h, 0);
    b = h.provider.lingmaInstances()[1];
    await b.ensureReady(new AbortController().signal);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('sends only the new turn on a hit, sticks to the owner, and counts hits and misses', async () => {
    await sim(a, { reset: true, reply: { mode: 'echo', deltas: 3 } });
    const convo: ChatMessage[] = [system('You are terse.'), user('turn one')];
    const c1 = ctx();
    const r1 = await collect(a.chat(chatReq(convo), c1));
    expect(c1.meta.sessionReuse).toBe(false);
    convo.push(assistant(r1.text), user('turn two'));

    const req2 = chatReq(convo);
    const c2 = ctx();
    expect(h.provider.preferredInstance(req2, c2)).toBe('ann');
    const r2 = await collect(a.chat(req2, c2));
    expect(r2.text).toBe('echo: turn two');
    expect(c2.meta.sessionReuse).toBe(true);
    expect(c2.meta.promptBytes).toBe(Buffer.byteLength('turn two'));
    // The request inspector's view of what went upstream: the whole conversation, then only the delta.
    expect(c1.meta.upstream).toMatchObject({ kind: 'lingma', info: { sessionReuse: false } });
    expect(c1.meta.upstream?.prompt).toContain('turn one');
    expect(c2.meta.upstream).toMatchObject({ kind: 'lingma', prompt: 'turn two', info: { sessionReuse: true } });

    const s = await sim(a);
    expect(s.asks).toHaveLength(2);
    expect(s.asks[1]).toMatchObject({ isReply: true, text: 'turn two', sessionIdIn: s.asks[0].sessionIdOut });
    const st = h.provider.stats().sessionCache;
    expect(st.hits).toBe(1);
    expect(st.misses).toBe(1);
    expect(st.entries).toBeGreaterThanOrEqual(1);
    const text = await metrics.text();
    expect(text).toMatch(/relay_session_cache_hits_total 1/);
    expect(text).toMatch(/relay_session_cache_misses_total 1/);
    // Another caller with the same conversation gets no reuse.
    expect(h.provider.preferredInstance(chatReq([...convo, assistant(r2.text), user('three')]), ctx({ apiKeyId: 'someone-else' }))).toBeUndefined();
  });

  it('a cached session owned by another instance is dropped and the full conversation goes out', async () => {
    await sim(a, { reset: true, reply: { mode: 'fixed', text: 'A1' } });
    await sim(b, { reset: true, reply: { mode: 'fixed', text: 'B1' } });
    const convo: ChatMessage[] = [user('owned by ann')];
    await collect(a.chat(chatReq(convo), ctx()));
    convo.push(assistant('A1'), user('next'));
    expect(h.provider.preferredInstance(chatReq(convo), ctx())).toBe('ann');
    // The pool chose bob anyway (ann unusable): bob must send everything, fresh.
    const c = ctx();
    await collect(b.chat(chatReq(convo), c));
    expect(c.meta.sessionReuse).toBe(false);
    const sb = await sim(b);
    expect(sb.asks[0]).toMatchObject({ isReply: false, sessionIdIn: '', text: '[user] owned by ann\n[assistant] A1\n[user] next' });
    // The stale entry is gone; the new one belongs to bob.
    expect(h.provider.preferredInstance(chatReq([...convo, assistant('B1'), user('more')]), ctx())).toBe('bob');
  });

  it('406 on a reused session drops it and retries once with the full conversation', async () => {
    await sim(a, { reset: true, reply: { mode: 'fixed', text: 'ok' } });
    const convo: ChatMessage[] = [user('first question')];
    await collect(a.chat(chatReq(convo), ctx()));
    convo.push(assistant('ok'), user('second question'));
    await sim(a, { blockAllSessions: true });
    const c = ctx();
    const r = await collect(a.chat(chatReq(convo), c));
    expect(r.text).toBe('ok');
    await sim(a, { blockAllSessions: false });
    const s = await sim(a);
    expect(s.asks.slice(1).map((x) => ({ reply: x.isReply, status: x.statusCode, session: !!x.sessionIdIn }))).toEqual([
      { reply: true, status: 406, session: true },
      { reply: false, status: 200, session: false },
    ]);
    expect(s.asks[2].text).toBe('[user] first question\n[assistant] ok\n[user] second question');
    expect(c.meta.sessionReuse).toBe(false);
  });

  it('an error invalidates the session: the next turn replays in full', async () => {
    await sim(a, { reset: true, reply: { mode: 'fixed', text: 'ok' } });
    const convo: ChatMessage[] = [user('q1')];
    await collect(a.chat(chatReq(convo), ctx()));
    convo.push(assistant('ok'), user('q2'));
    await sim(a, { finishStatus: [500] });
    await expect(collect(a.chat(chatReq(convo), ctx()))).rejects.toMatchObject({ code: 'upstream_error' });
    const c = ctx();
    await collect(a.chat(chatReq(convo), c));
    expect(c.meta.sessionReuse).toBe(false);
    const s = await sim(a);
    expect(s.asks[2]).toMatchObject({ isReply: false, sessionIdIn: '' });
  });

  it('a 20-turn conversation sends at most 15% of the bytes of full replay', async () => {
    await sim(a, { reset: true, reply: { mode: 'fixed', text: 'A fairly ordinary answer of moderate length, repeated each turn.', deltas: 3 } });
    const convo: ChatMessage[] = [system('You are a helpful coding assistant.')];
    let sentWithReuse = 0;
    let fullReplay = 0;
    for (let turn = 1; turn <= 20; turn++) {
      convo.push(user(`Turn ${turn}: please explain step ${turn} of the refactoring plan in a few sentences.`));
      const c = ctx({ apiKeyId: 'bench' });
      const r = await collect(a.chat(chatReq(convo), c));
      sentWithReuse += c.meta.promptBytes ?? 0;
      fullReplay += Buffer.byteLength(convo.map((m) => `[${m.role}] ${m.content.map((p) => (p.type === 'text' ? p.text : '')).join('')}`).join('\n'));
      convo.push(assistant(r.text));
    }
    const s = await sim(a);
    const simBytes = s.asks.reduce((n, x) => n + x.promptBytes, 0);
    expect(simBytes).toBe(sentWithReuse);
    expect(s.asks.filter((x) => x.isReply)).toHaveLength(19);
    expect(sentWithReuse / fullReplay).toBeLessThanOrEqual(0.15);
  });
});
