/**
 * Team mode sizing (`npx tsx test/bench/team.ts`; needs redis-server). Prints a Markdown table for
 * the README's team-mode section:
 *
 * 1. Requests per second one node serves (non-streaming, 16 connections, the bench's mock
 *    upstream answering at once, so the relay itself is measured): a single node without Redis;
 *    a team node (every request takes a cluster-wide per-key slot in Redis); a team node with a
 *    key that has `rpm` and `tokensPerDay` too (the budget's Lua script on every request).
 * 2. The cost of a forwarded call: one Lingma account (the simulator) run by node A; the same
 *    sequential requests sent to A (served there) and to B (forwarded to A over HTTP, signed,
 *    streamed back). The difference of the medians is what forwarding adds.
 *
 * Everything runs on this machine: the nodes, Redis, the upstream and the load, so absolute
 * figures are lower than on separate hosts; compare the rows with each other.
 */
import { cpus } from 'node:os';
import { createLogger } from '../../src-main/core/gateway/logging';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import type { LingmaProvider } from '../../src-main/core/backends/lingma/provider';
import { startRedis } from '../helpers/redis';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { SIM_BIN, simSpawner } from '../lingma/helpers';
import { startNode, waitFor, type Node } from '../cluster/nodes';
import { maxRps, pct, sequential, target } from './load';
import { startMockUpstream } from './mock-upstream';

const KEY = 'sk-bench-team-000000000001';
const SECONDS = Number(process.env.TEAM_BENCH_SECONDS ?? 4);
const ROUNDS = 3;
const CONNECTIONS = 16;
const FORWARD_N = Number(process.env.TEAM_BENCH_FORWARDS ?? 300);

async function singleNode(config: Record<string, unknown>): Promise<{ relay: Relay; url: string }> {
  const dataDir = tempDir('relay-bench-single-');
  const relay = await createCore({
    config: validateConfig(config), dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false,
    logger: createLogger({ level: 'silent' }),
  });
  await relay.start();
  return { relay, url: await relay.listen({ host: '127.0.0.1', port: 0 }) };
}

async function rpsOf(url: string, key: string, model: string): Promise<number> {
  const t = target('relay', url, '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${key}` }, model, CONNECTIONS);
  await maxRps(t, CONNECTIONS, 1000); // warm-up
  const r = await maxRps(t, CONNECTIONS, SECONDS * 1000);
  await t.pool.close();
  if (r.errors) throw new Error(`${r.errors} requests failed`);
  return r.rps;
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);

async function main(): Promise<void> {
  const redis = await startRedis();
  const mock = await startMockUpstream();
  const out: string[] = [];
  const cpu = cpus();
  out.push(`Machine: ${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}; nodes, Redis, upstream and load on the same machine.`);
  out.push('');
  try {
    // ---- 1. requests per second per node
    const base = {
      server: { apiKeys: [KEY] },
      providers: [{ name: 'up', type: 'openai', baseUrl: mock.url, models: ['m'], maxConcurrency: 64 }],
      limits: { maxInFlight: 256, perKeyConcurrency: 64, shutdownGraceMs: 200 },
      ledger: { enabled: false },
      inspector: { enabled: false },
    };
    const single = await singleNode(base);
    const team = await startNode('bench-a', redis.url, base);
    const limit = { rpm: 10_000_000, tokensPerDay: 1_000_000_000, concurrency: 64 };
    const rows = [
      { url: single.url, key: single.relay.keys.create('bench', limit).key, rps: [] as number[] },
      { url: team.url, key: KEY, rps: [] as number[] },
      { url: team.url, key: team.relay.keys.create('bench', limit).key, rps: [] as number[] },
    ];
    // Interleaved rounds (median of each), so background load from other work hits every row alike.
    for (let round = 0; round < ROUNDS; round++) for (const r of rows) r.rps.push(await rpsOf(r.url, r.key, 'up/m'));
    await single.relay.stop();
    await team.relay.stop();
    const [rSingle, rTeam, rLimited] = rows.map((r) => pct(r.rps, 50));

    out.push(`| one node, ${CONNECTIONS} connections, non-streaming (median of ${ROUNDS} rounds of ${SECONDS} s) | requests/s |`);
    out.push('| --- | ---: |');
    out.push(`| single node, no Redis (key with rpm, tokensPerDay, concurrency: counted in memory) | ${f0(rSingle)} |`);
    out.push(`| team node, key without rpm/tokensPerDay (cluster-wide concurrency slot in Redis) | ${f0(rTeam)} |`);
    out.push(`| team node, key with rpm, tokensPerDay and concurrency (all shared limits in Redis) | ${f0(rLimited)} |`);
    out.push('');

    // ---- 2. the cost of a forwarded call
    const lingmaCfg = {
      server: { apiKeys: [KEY] },
      lingma: { binary: SIM_BIN, accounts: [{ username: 'alice', password: 'pw-alice' }], startupTimeoutMs: 20_000 },
      limits: { firstByteTimeoutMs: 15_000, shutdownGraceMs: 200 },
      ledger: { enabled: false },
      inspector: { enabled: false },
    };
    const relayOpts = { lingma: 'auto' as const, spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'alice' }), env: { ...process.env, LINGMA_BIN: '' } };
    const nodes: Node[] = [];
    for (const name of ['fwd-a', 'fwd-b']) nodes.push(await startNode(name, redis.url, lingmaCfg, { relay: relayOpts }));
    const lingmaOf = (n: Node) => n.relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
    await waitFor(() => nodes.some((n) => lingmaOf(n).localInstance('alice')?.state() === 'ready'), 'alice to run', 60_000);
    const owner = nodes.find((n) => lingmaOf(n).localInstance('alice'))!;
    const other = nodes.find((n) => n !== owner)!;
    await waitFor(() => lingmaOf(other).instances().some((i) => i.name === 'alice' && i.state() === 'ready'), 'the other node to see alice');
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };
    const tDirect = target('direct', owner.url, '/v1/chat/completions', headers, 'lingma/dashscope_qwen3_coder', 1);
    const tForward = target('forwarded', other.url, '/v1/chat/completions', headers, 'lingma/dashscope_qwen3_coder', 1);
    await sequential(tDirect, 20);
    await sequential(tForward, 20);
    // Interleaved rounds, so background load from other work hits both alike.
    const direct: number[] = [];
    const forwarded: number[] = [];
    for (let round = 0; round < 5; round++) {
      direct.push(...(await sequential(tDirect, FORWARD_N / 5)));
      forwarded.push(...(await sequential(tForward, FORWARD_N / 5)));
    }
    await tDirect.pool.close();
    await tForward.pool.close();
    for (const n of nodes) await n.relay.stop();

    out.push(`| one Lingma account (simulator), ${FORWARD_N} sequential requests each | p50 ms | p90 ms | p99 ms |`);
    out.push('| --- | ---: | ---: | ---: |');
    out.push(`| sent to the node that runs it | ${f1(pct(direct, 50))} | ${f1(pct(direct, 90))} | ${f1(pct(direct, 99))} |`);
    out.push(`| sent to another node (forwarded) | ${f1(pct(forwarded, 50))} | ${f1(pct(forwarded, 90))} | ${f1(pct(forwarded, 99))} |`);
    out.push(`| forwarding adds | ${f1(pct(forwarded, 50) - pct(direct, 50))} | ${f1(pct(forwarded, 90) - pct(direct, 90))} | |`);
  } finally {
    await mock.close();
    await redis.stop();
    cleanupTempDirs();
  }
  console.log(out.join('\n'));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
