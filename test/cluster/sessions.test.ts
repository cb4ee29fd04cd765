/**
 * Team mode, session ownership: which account holds a conversation's Lingma session is kept in
 * Redis, so a turn arriving at another node goes to that account (forwarded to the node running
 * it) and continues its session, even when the conversation did not land on its rendezvous
 * favourite (turn 1 failed over). A forwarded call takes the owner node's instance slot like a
 * local one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LingmaProvider } from '../../src-main/core/backends/lingma/provider';
import type { LingmaInstance } from '../../src-main/core/backends/lingma/instance';
import { affinityKey, weight } from '../../src-main/core/pool/affinity';
import { cleanupTempDirs } from '../helpers/tmp';
import { NO_REDIS, redisServerPath, startRedis, type TestRedis } from '../helpers/redis';
import { SIM_BIN, sim, simSpawner, system, user } from '../lingma/helpers';
import { chat, startNode, waitFor, type Node } from './nodes';

const hasRedis = !!redisServerPath();
if (!hasRedis) console.warn(NO_REDIS);

const KEY = 'sk-team-sessions-0000000001';
const MODEL = 'lingma/dashscope_qwen3_coder';
const SYSTEM = 'you are terse';
const ADMIN = 'admin-token-team-sessions-01';

describe.skipIf(!hasRedis)('team mode: a conversation keeps its Lingma session across nodes', () => {
  let redis: TestRedis;
  const nodes: Node[] = [];
  const lingmaOf = (n: Node) => n.relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
  /** The node running `name` and its instance there. */
  const runner = (name: string): { node: Node; inst: LingmaInstance } => {
    for (const node of nodes) {
      const inst = lingmaOf(node).localInstance(name);
      if (inst) return { node, inst };
    }
    throw new Error(`no node runs ${name}`);
  };

  beforeAll(async () => {
    redis = await startRedis();
    const config = {
      server: { apiKeys: [KEY], adminToken: ADMIN },
      lingma: { binary: SIM_BIN, accounts: [{ username: 'alice', password: 'pw-a' }, { username: 'bob', password: 'pw-b' }], startupTimeoutMs: 20_000 },
      limits: { firstByteTimeoutMs: 15_000, queueTimeoutMs: 10_000, shutdownGraceMs: 500 },
      health: { failureThreshold: 1 },
      ledger: { enabled: false },
    };
    const relay = { lingma: 'auto' as const, spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'alice' }), env: { ...process.env, LINGMA_BIN: '' } };
    for (const name of ['a', 'b']) nodes.push(await startNode(name, redis.url, config, { relay }));
    await waitFor(() => ['alice', 'bob'].every((acc) => nodes.some((n) => lingmaOf(n).localInstance(acc)?.state() === 'ready')), 'alice and bob to run', 60_000);
    // Every node knows who runs each account.
    await waitFor(
      () => nodes.every((n) => lingmaOf(n).instances().filter((i) => i.state() === 'ready').length === 2),
      'both nodes to see both accounts serving',
    );
  }, 90_000);

  afterAll(async () => {
    for (const n of nodes) await n.relay.stop();
    await redis?.stop();
    cleanupTempDirs();
  });

  it('turn 2 at the other node reaches the account that took turn 1 and reuses its session', async () => {
    // The conversation's rendezvous favourite, which every node would pick by itself.
    const key = affinityKey({ model: 'm', stream: false, messages: [system(SYSTEM), user('turn 1')] })!;
    const [fav, other] = weight(key, 'alice') > weight(key, 'bob') ? ['alice', 'bob'] : ['bob', 'alice'];
    const favRun = runner(fav);
    const otherRun = runner(other);
    // Turn 1: the favourite fails before its first byte, so the request fails over to the other account.
    await sim(favRun.inst, { reset: true, finishStatus: [500], reply: { mode: 'echo' } });
    await sim(otherRun.inst, { reset: true, reply: { mode: 'echo' } });
    const messages: Array<{ role: string; content: string }> = [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'turn 1' }];
    const first = nodes[0];
    const r1 = await chat(first.url, KEY, { model: MODEL, messages });
    expect(r1.status).toBe(200);
    const answer1 = ((await r1.json()) as any).choices[0].message.content as string;
    expect(answer1).toMatch(/turn 1$/);
    expect((await sim(otherRun.inst)).asks).toHaveLength(1);

    // Turn 2 at the other node: its own health knows nothing of the failure and rendezvous would
    // pick the favourite; the shared owner map sends it to the account holding the session.
    await sim(favRun.inst, { reset: true, reply: { mode: 'echo' } });
    messages.push({ role: 'assistant', content: answer1 }, { role: 'user', content: 'turn 2' });
    const r2 = await chat(nodes[1].url, KEY, { model: MODEL, messages });
    expect(r2.status).toBe(200);
    expect(((await r2.json()) as any).choices[0].message.content).toBe('echo: turn 2');

    const asks = (await sim(otherRun.inst)).asks;
    expect(asks.map((a) => a.text)).toEqual([expect.stringMatching(/turn 1$/), 'turn 2']);
    expect(asks[1]).toMatchObject({ isReply: true, sessionIdIn: asks[0].sessionIdOut });
    expect((await sim(favRun.inst)).asks).toHaveLength(0);
  });

  it('a forwarded call holds the owner node\'s instance slot', async () => {
    const { node: owner, inst } = runner('alice');
    const bob = runner('bob').inst;
    const sender = nodes.find((n) => n !== owner)!;
    // alice takes the call and never answers it; bob answers at once.
    await sim(inst, { reset: true, hang: 'no_ack' });
    await sim(bob, { reset: true, reply: { mode: 'fixed', text: 'from bob' } });
    // A conversation whose favourite is alice (affinity by its session header).
    const favours = (sid: string) => {
      const k = affinityKey({ model: 'm', stream: false, messages: [user('x')], sessionKey: sid })!;
      return weight(k, 'alice') > weight(k, 'bob');
    };
    let sid = 'slot-0';
    for (let k = 1; !favours(sid); k++) sid = `slot-${k}`;
    const body = { model: MODEL, messages: [{ role: 'user', content: 'x' }] };
    const gone = new AbortController();
    const forwarded = chat(sender.url, KEY, body, { 'x-session-id': sid }, gone.signal).catch(() => undefined);
    await waitFor(() => owner.relay.pool.inFlight('alice') === 1, 'the forwarded call to take alice\'s slot on its node');
    // A call for the same conversation at the owner node finds alice's one slot taken: bob serves it.
    const local = await chat(owner.url, KEY, body, { 'x-session-id': sid });
    expect(local.status).toBe(200);
    expect(((await local.json()) as any).choices[0].message.content).toBe('from bob');
    expect((await sim(bob)).asks).toHaveLength(1);
    // The client of the forwarded call goes away: the owner node frees the slot.
    gone.abort();
    await forwarded;
    await waitFor(() => owner.relay.pool.inFlight('alice') === 0, 'alice\'s slot to be free again');
    await sim(inst, { reset: true });
  });

  it('GET /admin/cluster names the node that runs each account', async () => {
    const runs = (view: any): Record<string, string[]> => Object.fromEntries(view.nodes.map((n: any) => [n.name, (n.accounts ?? []).map((a: any) => a.name)]));
    const want = { [runner('alice').node.name]: ['alice'], [runner('bob').node.name]: ['bob'] };
    const expected: Record<string, string[]> = {};
    for (const n of nodes) expected[n.name] = [...(want[n.name] ?? [])];
    if (runner('alice').node === runner('bob').node) expected[runner('alice').node.name] = ['alice', 'bob'];
    let view: any;
    await waitFor(async () => {
      view = await (await fetch(`${nodes[1].url}/admin/cluster`, { headers: { authorization: `Bearer ${ADMIN}` } })).json();
      return JSON.stringify(runs(view)) === JSON.stringify(expected);
    }, 'the Nodes view to show who runs alice and bob', 20_000);
    expect(view.totals.nodes).toBe(2);
  }, 30_000);
});
