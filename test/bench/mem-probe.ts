/**
 * `npx tsx test/bench/mem-probe.ts [phases]`: the relay's memory figures of issue 14 alone, relay
 * only (no peer), in the bench's order: RSS at start, idle after warm-up, after load, the slow-client
 * rise (150 clients reading nothing, ~600 KB each) and a short streaming soak. Phases (comma list,
 * default all): idle,load,slow,soak. Env as test/bench/procs.ts (BENCH_INSPECTOR=0, BENCH_LEDGER=0,
 * BENCH_LOG_LEVEL=warn, BENCH_NODE_FLAGS). Prints one JSON line, with the heap figures of /metrics.
 */
import { concurrentStreams, maxRps, sequential, soak, stalledClients, streamOnce, streaming, target } from './load';
import { startMockUpstream } from './mock-upstream';
import { GATEWAY_NODE_FLAGS } from '../../bin/serve-flags.mjs';
import { RELAY_KEY, startRelay } from './procs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (n: number) => Math.round(n * 10) / 10;
const phases = new Set((process.argv[2] ?? 'idle,load,slow,soak').split(','));
const flags = process.env.BENCH_NODE_FLAGS !== undefined ? process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) : [...GATEWAY_NODE_FLAGS];

const mock = await startMockUpstream();
const relay = await startRelay(mock.url, flags);
const headers = { 'content-type': 'application/json', authorization: `Bearer ${RELAY_KEY}` };
const t = target('relay', relay.url, '/v1/chat/completions', headers, 'mock/m');
const out: Record<string, unknown> = { flags: flags.join(' '), inspector: process.env.BENCH_INSPECTOR !== '0', ledger: process.env.BENCH_LEDGER !== '0' };
async function heap(): Promise<Record<string, number>> {
  const text = await (await fetch(`${relay.url}/metrics`, { headers: { authorization: `Bearer ${RELAY_KEY}` } })).text();
  const o: Record<string, number> = {};
  for (const m of text.matchAll(/^relay_process_nodejs_heap_(size_used|size_total)_bytes (\S+)/gm)) o[m[1]] = r1(Number(m[2]) / 2 ** 20);
  for (const m of text.matchAll(/^relay_process_nodejs_external_memory_bytes (\S+)/gm)) o.external = r1(Number(m[1]) / 2 ** 20);
  return o;
}
try {
  out.start = r1(relay.rssMb());
  for (let i = 0; i < 200; i++) await sequential(t, 1);
  for (let i = 0; i < 20; i++) await streamOnce(t, mock, 5, 0);
  await sleep(14000);
  out.idle = r1(relay.rssMb());
  out.idleHeap = await heap();
  if (phases.has('load')) {
    out.rps = Math.round((await maxRps(t, 32, 2000)).rps);
    await streaming(t, mock, 30, 20, 2);
    await concurrentStreams(t, mock, 512, 20, 10);
    await sleep(1000);
    out.afterLoad = r1(relay.rssMb());
    out.afterLoadHeap = await heap();
    await sleep(14000);
    out.idleAfterLoad = r1(relay.rssMb());
    out.idleAfterLoadHeap = await heap();
  }
  if (phases.has('slow')) {
    await sleep(3000);
    const base = relay.rssMb();
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, relay.rssMb())), 50);
    const close = await stalledClients(relay.url, '/v1/chat/completions', headers, 'mock/m', 150, 300, 2000);
    await sleep(2000);
    const normal = await sequential(t, 50);
    await sleep(1000);
    clearInterval(sampler);
    out.slowHeap = await heap();
    const acc = [...mock.accepted().values()];
    out.slowAcceptedKb = { streams: acc.length, avg: r1(acc.reduce((a, b) => a + b, 0) / acc.length / 1024), max: r1(Math.max(...acc) / 1024) };
    close();
    out.slow = { base: r1(base), peak: r1(peak), rise: r1(peak - base), normalMaxMs: r1(Math.max(...normal)) };
  }
  if (phases.has('soak')) {
    await sleep(2000);
    const s: number[] = [];
    const res = await soak(t, mock, 32, 15000, () => s.push(relay.rssMb()));
    out.soak = { start: r1(s[4]), end: r1(s[s.length - 1]), growthPct: r1((s[s.length - 1] / s[4] - 1) * 100), failed: res.failed, samples: s.map(r1) };
  }
} finally {
  await relay.stop();
  await mock.close();
}
console.log(JSON.stringify(out));
