/**
 * Team mode, routing: any node accepts any request. Two nodes, one Lingma account (the
 * simulator) run by one of them; requests that arrive at the other are forwarded to it over HTTP
 * (signed with the cluster secret), streaming end to end, and a conversation continues its Lingma
 * session whichever node its turns arrive at. The node-to-node route refuses anything not signed
 * with the cluster secret.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LingmaProvider } from '../../src-main/core/backends/lingma/provider';
import { clusterCrypto } from '../../src-main/core/cluster/crypto';
import { FORWARD_PATH } from '../../src-main/core/cluster/forward';
import { FORWARD_CONTENT_TYPE, signNodeRequest } from '../../src-main/core/cluster/node-auth';
import { cleanupTempDirs } from '../helpers/tmp';
import { NO_REDIS, redisServerPath, startRedis, type TestRedis } from '../helpers/redis';
import { SIM_BIN, sim, simSpawner } from '../lingma/helpers';
import { chat, SECRET, startNode, waitFor, type Node } from './nodes';

const hasRedis = !!redisServerPath();
if (!hasRedis) console.warn(NO_REDIS);

const KEY = 'sk-team-routing-00000000001';
const MODEL = 'lingma/dashscope_qwen3_coder';

describe.skipIf(!hasRedis)('team mode: requests for an account another node runs are forwarded', () => {
  let redis: TestRedis;
  let nodes: Node[] = [];
  let owner: Node;
  let other: Node;
  const lingmaOf = (n: Node) => n.relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;

  beforeAll(async () => {
    redis = await startRedis();
    const config = {
      server: { apiKeys: [KEY] },
      lingma: { binary: SIM_BIN, accounts: [{ username: 'alice', password: 'pw-alice' }], startupTimeoutMs: 20_000 },
      limits: { firstByteTimeoutMs: 15_000, queueTimeoutMs: 5_000, shutdownGraceMs: 500 },
      ledger: { enabled: false },
    };
    const relay = { lingma: 'auto' as const, spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'alice' }), env: { ...process.env, LINGMA_BIN: '' } };
    for (const name of ['a', 'b']) nodes.push(await startNode(name, redis.url, config, { relay }));
    await waitFor(() => nodes.some((n) => lingmaOf(n).localInstance('alice')?.state() === 'ready'), 'one node to run alice', 60_000);
    owner = nodes.find((n) => lingmaOf(n).localInstance('alice'))!;
    other = nodes.find((n) => n !== owner)!;
    await waitFor(() => lingmaOf(other).instances().some((i) => i.name === 'alice' && i.snapshot().reason === `runs on node ${owner.name}`), 'the other node to see who runs alice');
  }, 90_000);

  afterAll(async () => {
    for (const n of nodes) await n.relay.stop();
    await redis?.stop();
    cleanupTempDirs();
  });

  it('streams a forwarded answer end to end and continues the session across nodes', async () => {
    const inst = lingmaOf(owner).localInstance('alice')!;
    await sim(inst, { reset: true, reply: { mode: 'echo', deltas: 3 } });
    const messages: Array<{ role: string; content: string }> = [{ role: 'system', content: 'be short' }, { role: 'user', content: 'turn 1' }];

    // Turn 1 at the node that does not run alice: forwarded, streamed.
    const s = await chat(other.url, KEY, { model: MODEL, messages, stream: true });
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toMatch(/text\/event-stream/);
    const frames = (await s.text()).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
    expect(frames[frames.length - 1]).toBe('[DONE]');
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f));
    const answer1 = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(answer1).toMatch(/^echo: [\s\S]*turn 1$/);
    expect(chunks.filter((c) => c.choices[0]?.delta?.content).length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.model).toBe(MODEL);

    // Turn 2 at the node that runs it; turn 3 back at the other one.
    messages.push({ role: 'assistant', content: answer1 }, { role: 'user', content: 'turn 2' });
    const r2 = await chat(owner.url, KEY, { model: MODEL, messages });
    expect(((await r2.json()) as any).choices[0].message.content).toBe('echo: turn 2');
    messages.push({ role: 'assistant', content: 'echo: turn 2' }, { role: 'user', content: 'turn 3' });
    const r3 = await chat(other.url, KEY, { model: MODEL, messages });
    expect(r3.status).toBe(200);
    expect(r3.headers.get('x-relay-resolved')).toBe(MODEL);
    expect(((await r3.json()) as any).choices[0].message.content).toBe('echo: turn 3');

    const asks = (await sim(inst)).asks;
    expect(asks).toHaveLength(3);
    expect(asks[0].text).toMatch(/turn 1$/);
    expect(asks.slice(1).map((a) => a.text)).toEqual(['turn 2', 'turn 3']);
    // One upstream session: turns 2 and 3 were sent as replies in it, not as new conversations.
    expect(asks[1]).toMatchObject({ isReply: true });
    expect(asks[2]).toMatchObject({ isReply: true, sessionIdIn: asks[1].sessionIdOut });
  });

  it('refuses node-to-node calls not signed with the cluster secret', async () => {
    const body = JSON.stringify({ instance: 'alice', request: { model: 'dashscope_qwen3_coder', messages: [{ role: 'user', content: 'x' }] }, apiKeyId: 'k', requestId: 'r' });
    const post = (headers: Record<string, string>, b = body) =>
      fetch(`${owner.url}${FORWARD_PATH}`, { method: 'POST', headers: { 'content-type': FORWARD_CONTENT_TYPE, ...headers }, body: b });
    const good = clusterCrypto(SECRET);
    const wrong = clusterCrypto('not-the-cluster-secret-0000');
    expect((await post({})).status).toBe(401);
    expect((await post({ authorization: `Bearer ${KEY}` })).status).toBe(401);
    expect((await post(signNodeRequest(wrong, 'x', 'POST', FORWARD_PATH, body))).status).toBe(401);
    expect((await post(signNodeRequest(good, 'x', 'POST', FORWARD_PATH, body, Date.now() - 10 * 60_000))).status).toBe(401);
    // Signed for one body, sent with another.
    expect((await post(signNodeRequest(good, 'x', 'POST', FORWARD_PATH, body), body.replace('"x"', '"y"'))).status).toBe(401);
    // Signed, for an account this node does not run: refused without running anything.
    const elsewhere = body.replace('"alice"', '"nobody"');
    const r = await post(signNodeRequest(good, 'x', 'POST', FORWARD_PATH, elsewhere), elsewhere);
    expect(r.status).toBe(503);
    expect(((await r.json()) as any).error).toMatchObject({ code: 'account_elsewhere', retryable: true });
  });
});
