/**
 * `npx tsx test/bench/flags.ts "<flags A>" "<flags B>" ...` (env ROUNDS, default 2): compares Node/V8
 * flag sets for the gateway process, alternating them round by round so a change in the machine's
 * load hits every set. Per run: 3 s warm-up, 6 s at 32 connections (req/s, process CPU µs per
 * request, main-thread GC µs per request by kind and the collection counts, from /metrics), 300
 * sequential requests (p50 ms), 30 streams, then RSS (MB). One JSON line per run. Env as
 * test/bench/procs.ts (BENCH_INSPECTOR=0, BENCH_LEDGER=0, BENCH_LOG_LEVEL=warn).
 */
import { maxRps, pct, sequential, streaming, target } from './load';
import { startMockUpstream } from './mock-upstream';
import { RELAY_KEY, startRelay } from './procs';

const sets = process.argv.slice(2);
if (!sets.length) throw new Error('usage: npx tsx test/bench/flags.ts "<flags A>" "<flags B>" ...');
const rounds = Number(process.env.ROUNDS ?? 2);
const headers = { 'content-type': 'application/json', authorization: `Bearer ${RELAY_KEY}` };

/** GC seconds (`kind`) and collections (`kind`N) so far, from the relay's process metrics. */
async function gcTotals(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  const o: Record<string, number> = {};
  for (const m of text.matchAll(/^relay_process_nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)/gm)) o[m[1] === 'sum' ? m[2] : `${m[2]}N`] = Number(m[3]);
  return o;
}

const mock = await startMockUpstream();
for (let r = 0; r < rounds; r++) {
  for (const flags of sets) {
    const relay = await startRelay(mock.url, flags.split(' ').filter(Boolean));
    const t = target('relay', relay.url, '/v1/chat/completions', headers, 'mock/m');
    await maxRps(t, 32, 3000);
    const g0 = await gcTotals(relay.url);
    const c0 = relay.cpuMs();
    const t0 = performance.now();
    const { rps } = await maxRps(t, 32, 6000);
    const n = (rps * (performance.now() - t0)) / 1000;
    const cpuUsPerReq = Math.round(((relay.cpuMs() - c0) * 1000) / n);
    const g1 = await gcTotals(relay.url);
    const gcUsPerReq: Record<string, number> = {};
    for (const k of Object.keys(g1)) gcUsPerReq[k] = k.endsWith('N') ? g1[k] - (g0[k] ?? 0) : Math.round(((g1[k] - (g0[k] ?? 0)) * 1e6) / n);
    const seq = await sequential(t, 300);
    await streaming(t, mock, 30, 20, 2);
    console.log(JSON.stringify({ flags, rps: Math.round(rps), cpuUsPerReq, seqP50: Number(pct(seq, 50).toFixed(3)), rss: Math.round(relay.rssMb()), gcUsPerReq }));
    await relay.stop();
  }
}
await mock.close();
