/**
 * Team mode, shared limits: three relay nodes on one private redis-server (started here) in front
 * of one fake OpenAI upstream. A key's rpm, tokens per day and concurrency hold across nodes; a
 * key created or revoked on one node is seen by the others; the slots of a node that stops
 * renewing them free themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RedisKeyBudget } from '../../src-main/core/cluster/redis-budget';
import { RedisKeySlots } from '../../src-main/core/cluster/redis-slots';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs } from '../helpers/tmp';
import { NO_REDIS, redisServerPath, startRedis, type TestRedis } from '../helpers/redis';
import { chat, startNode, waitFor, type Node } from './nodes';

const hasRedis = !!redisServerPath();
if (!hasRedis) console.warn(NO_REDIS);

const RPM_KEY = 'sk-team-rpm-000000000001';
const TOKENS_KEY = 'sk-team-tokens-0000000002';
const CONC_KEY = 'sk-team-conc-00000000003';

describe.skipIf(!hasRedis)('team mode: keys and limits shared through Redis', () => {
  let redis: TestRedis;
  let up: FakeUpstream;
  let nodes: Node[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    up = await startFakeOpenAI({ models: ['m1'] });
    const config = {
      server: {
        apiKeys: [
          { key: RPM_KEY, name: 'rpm', rpm: 10 },
          { key: TOKENS_KEY, name: 'tokens', tokensPerDay: 5 },
          { key: CONC_KEY, name: 'conc', concurrency: 1 },
        ],
      },
      providers: [{ name: 'up', type: 'openai', baseUrl: up.url }],
      limits: { queueTimeoutMs: 300, keepAliveMs: 1000, shutdownGraceMs: 500 },
    };
    nodes = await Promise.all(['a', 'b', 'c'].map((n) => startNode(n, redis.url, config)));
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.relay.stop()));
    await up?.close();
    await redis?.stop();
    cleanupTempDirs();
  });

  it('a per-key rpm of 10 holds across three nodes: 10 answered, the rest 429', async () => {
    const statuses = await Promise.all(Array.from({ length: 16 }, (_, i) => chat(nodes[i % 3].url, RPM_KEY).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    })));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(6);
    const refused = await chat(nodes[1].url, RPM_KEY);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await refused.json()) as any).error.code).toBe('rpm_exceeded');
  });

  it('tokens used on one node count against the daily budget on another', async () => {
    const first = await chat(nodes[0].url, TOKENS_KEY, { messages: [{ role: 'user', content: 'a prompt long enough to use more than five tokens' }] });
    expect(first.status).toBe(200);
    await first.json();
    const reader = new Redis(redis.url);
    try {
      const budget = new RedisKeyBudget({ redis: reader, nodeName: 'test' });
      const keyId = nodes[0].relay.keys.list().find((k) => k.name === 'tokens')!.id;
      await waitFor(async () => (await budget.tokensToday(keyId, Date.now())) >= 5, 'the token count in Redis');
    } finally {
      reader.disconnect();
    }
    const second = await chat(nodes[2].url, TOKENS_KEY);
    expect(second.status).toBe(429);
    expect(((await second.json()) as any).error.code).toBe('tokens_per_day_exceeded');
  });

  it('a key of concurrency 1 busy on one node is refused on another until it is released', async () => {
    up.enqueue({ hang: true });
    const ctl = new AbortController();
    const held = chat(nodes[0].url, CONC_KEY, { stream: true }, {}, ctl.signal).catch(() => undefined);
    await waitFor(() => up.requests.length > 0 && nodes[0].relay.admission.stats().inFlight === 1, 'the first request to reach the upstream');
    const refused = await chat(nodes[1].url, CONC_KEY);
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as any).error.code).toBe('too_many_pending_requests');
    ctl.abort();
    await held;
    await waitFor(() => nodes[0].relay.admission.stats().inFlight === 0, 'the first request to end');
    const after = await chat(nodes[1].url, CONC_KEY);
    expect(after.status).toBe(200);
    await after.json();
  });

  it('a key created on one node works on the others; revoked, it stops working there too', async () => {
    const { key, id } = nodes[0].relay.keys.create('shared-key');
    await waitFor(() => nodes.every((n) => n.relay.keys.list().some((k) => k.id === id)), 'the key on every node');
    const onC = await chat(nodes[2].url, key);
    expect(onC.status).toBe(200);
    await onC.json();
    expect(nodes[1].relay.keys.list().find((k) => k.id === id)).toMatchObject({ source: 'created', revocable: true });
    nodes[1].relay.keys.revoke(id);
    await waitFor(() => nodes.every((n) => !n.relay.keys.list().some((k) => k.id === id)), 'the revocation on every node');
    expect((await chat(nodes[0].url, key)).status).toBe(401);
  });

  it('slots held by a node that stops renewing them (it died) free themselves after the lease', async () => {
    const a = new Redis(redis.url);
    const b = new Redis(redis.url);
    const subA = a.duplicate();
    const subB = b.duplicate();
    const subscriber = (s: Redis) => async (channel: string, on: (m: string) => void) => {
      s.on('message', (c: string, m: string) => c === channel && on(m));
      await s.subscribe(channel);
    };
    const slotsA = new RedisKeySlots({ redis: a, subscribe: subscriber(subA), nodeName: 'dead', ttlMs: 1000 });
    const slotsB = new RedisKeySlots({ redis: b, subscribe: subscriber(subB), nodeName: 'alive', ttlMs: 1000 });
    try {
      await slotsA.acquire('k-dead', 1, undefined, 1000);
      // Node A "dies": its renewals stop and it never releases.
      slotsA.close();
      a.disconnect();
      subA.disconnect();
      const slot = await slotsB.acquire('k-dead', 1, undefined, 10_000);
      slot.release();
    } finally {
      slotsB.close();
      for (const c of [a, b, subA, subB]) c.disconnect();
    }
  });
});
