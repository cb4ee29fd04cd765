/**
 * `npx tsx test/bench/mem-probe.ts [phases]`: the relay's memory figures of issue 14 alone, relay
 * only (no peer), in the bench's order: RSS at start, idle after warm-up, after load, the slow-client
 * rise (150 clients reading nothing, ~600 KB each) and a short streaming soak. Phases (comma list,
 * default all): idle,load,slow,soak. Env as test/bench/procs.ts (BENCH_INSPECTOR=0, BENCH_LEDGER=0,
 * BENCH_LOG_LEVEL=warn, BENCH_NODE_FLAGS). Prints one JSON line, with the heap figures of /metrics.
 * BENCH_HEAPSNAPSHOT=<dir>: at idle (after the RSS reading), a heap snapshot of the relay's main
 * thread is written to <dir> (summarise it with test/bench/heap-summary.ts). BENCH_SMAPS=1: the
 * idle RSS split by mapping (/proc/<pid>/smaps: anonymous, node binary, shared libraries, ...).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { concurrentStreams, maxRps, sequential, soak, stalledClients, streamOnce, streaming, target } from './load';
import { startMockUpstream } from './mock-upstream';
import { GATEWAY_NODE_FLAGS } from '../../bin/serve-flags.mjs';
import { RELAY_KEY, startRelay } from './procs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (n: number) => Math.round(n * 10) / 10;
const phases = new Set((process.argv[2] ?? 'idle,load,slow,soak').split(','));
const flags = process.env.BENCH_NODE_FLAGS !== undefined ? process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) : [...GATEWAY_NODE_FLAGS];

const snapDir = process.env.BENCH_HEAPSNAPSHOT;
if (snapDir) flags.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapDir}`);

/** RSS by mapping kind, MB: anonymous (V8 heaps, malloc, thread stacks), the node binary, other files. */
function smaps(pid: number): Record<string, number> {
  const o: Record<string, number> = {};
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[2];
      kind = !name ? 'anon' : name.startsWith('[') ? name : name.endsWith('/node') || name.includes('/bin/node') ? `node binary ${head[1]}` : name.endsWith('.node') ? 'addons (.node)' : name.includes('.so') ? 'shared libs' : 'other files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) o[kind] = (o[kind] ?? 0) + Number(rss[1]) / 1024;
  }
  for (const k of Object.keys(o)) if ((o[k] = r1(o[k])) === 0) delete o[k];
  o.threads = Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return o;
}

async function heapSnapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (;;) {
    await sleep(500);
    const f = readdirSync(dir).find((n) => n.endsWith('.heapsnapshot') && !before.has(n));
    if (!f) continue;
    // Written in pieces: done when its size stops changing.
    const a = statSync(join(dir, f)).size;
    await sleep(1000);
    if (statSync(join(dir, f)).size === a && a > 0) return join(dir, f);
  }
}

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
  // Per V8 space, committed (used) MB, with BENCH_SMAPS=1.
  if (process.env.BENCH_SMAPS === '1') {
    for (const m of text.matchAll(/^relay_process_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)/gm)) {
      const used = new RegExp(`^relay_process_nodejs_heap_space_size_used_bytes\\{space="${m[1]}"\\} (\\S+)`, 'm').exec(text);
      o[m[1]] = `${r1(Number(m[2]) / 2 ** 20)} (${r1(Number(used?.[1]) / 2 ** 20)})` as unknown as number;
    }
  }
  return o;
}
try {
  out.start = r1(relay.rssMb());
  for (let i = 0; i < 200; i++) await sequential(t, 1);
  for (let i = 0; i < 20; i++) await streamOnce(t, mock, 5, 0);
  await sleep(14000);
  out.idle = r1(relay.rssMb());
  out.idleHeap = await heap();
  if (process.env.BENCH_SMAPS === '1') out.idleSmaps = smaps(relay.pid);
  if (snapDir) out.heapSnapshot = await heapSnapshot(relay.pid, snapDir);
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
