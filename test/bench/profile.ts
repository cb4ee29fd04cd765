/**
 * `npx tsx test/bench/profile.ts [seconds] [label]`: the relay as `npm run serve` runs it (compiled
 * bundle, default configuration) under `--cpu-prof`, warmed up, then loaded by 32 connections of
 * non-streaming requests and then 32 of streams for `seconds` each (default 10); prints the top 10
 * frames by self time over the load only (start-up and warm-up samples are left out: the profile's
 * timestamps and this process's hrtime share the monotonic clock) and writes them, with the
 * profile, under test-artifacts/profile/<label>.
 *
 * `npx tsx test/bench/profile.ts --c1 [seconds] [label]`: one connection, sequential non-streaming
 * requests (nothing batches). First without the profiler: the relay's CPU per request (utime +
 * stime of the whole process, worker threads included, over the phase ÷ requests) and the added
 * latency (p50/p99 through the relay − p50/p99 straight to the mock, same client); then a second
 * relay under `--cpu-prof` for the top frames by self and by inclusive time. The unprofiled relay also
 * serves sequential streams: the added time to the first content frame (TTFT p50/p99 through the
 * relay − straight to the mock). The env switches of
 * `startRelay` (BENCH_LEDGER=0, BENCH_LOG_LEVEL=warn, BENCH_INSPECTOR=0) apply; `--c1-cpu` measures only.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { maxRps, pct, sequential, soak, streamOnce, target, type Target } from './load';
import type { MockUpstream } from './mock-upstream';
import { startMockUpstream } from './mock-upstream';
import { GATEWAY_NODE_FLAGS } from '../../bin/serve-flags.mjs';
import { RELAY_KEY, root, startRelay } from './procs';

/** BENCH_NODE_FLAGS (space-separated) replaces GATEWAY_NODE_FLAGS, to compare flag sets. */
const NODE_FLAGS = process.env.BENCH_NODE_FLAGS !== undefined ? process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean) : [...GATEWAY_NODE_FLAGS];

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number };

function frameKey(f: Node['callFrame']): string {
  const url = f.url.replace(/^file:\/\//, '');
  const where = url ? `${url.includes('node_modules') ? url.slice(url.lastIndexOf('node_modules/') + 13) : relative(root, url)}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}

/** Inclusive time per frame (each frame counted once per sample, however deep it recurses), ms. */
export function topInclusive(profile: Profile, n = 25, fromUs = 0, toUs = Infinity): { frame: string; ms: number; pct: number }[] {
  const parent = new Map<number, number>();
  for (const x of profile.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const incl = new Map<string, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    const seen = new Set<string>();
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (!node) break;
      const key = frameKey(node.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + dt);
    }
  }
  return [...incl.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, ms]) => ({ frame, ms: Math.round(ms), pct: Math.round((ms / total) * 1000) / 10 }));
}

/** Self time per frame (function + file + line), ms, highest first. */
export function topFrames(profile: Profile, n = 10, fromUs = 0, toUs = Infinity): { frame: string; ms: number; pct: number }[] {
  const byId = new Map(profile.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const node = byId.get(profile.samples[i]);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    total += dt;
    if (!node) continue;
    const key = frameKey(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, ms]) => ({ frame, ms: Math.round(ms), pct: Math.round((ms / total) * 1000) / 10 }));
}

function table(rows: { frame: string; ms: number; pct: number }[], what: string): string[] {
  return [`| ${what} ms | % | frame |`, '| ---: | ---: | --- |', ...rows.map((x) => `| ${x.ms} | ${x.pct} | \`${x.frame}\` |`)];
}

/** utime + stime per thread of `pid`, by thread name (threads of one name summed), ms. */
function threadsMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(`${name}#${tid === String(pid) ? "main" : tid}`, (Number(f[11]) + Number(f[12])) * 10);
    } catch {
      /* gone */
    }
  }
  return out;
}

/** stime of `pid` (all threads), ms. */
function sysMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[12]) * 10;
}

/** Sequential streams (4 chunks, no gap) for `ms`: time to the first content frame of each. */
async function ttftFor(t: Target, mock: MockUpstream, ms: number): Promise<number[]> {
  const end = performance.now() + ms;
  const out: number[] = [];
  while (performance.now() < end) out.push((await streamOnce(t, mock, 4, 0)).ttft);
  return out;
}

/** Sequential requests for `ms`: latencies. */
async function sequentialFor(t: Target, ms: number): Promise<number[]> {
  const end = performance.now() + ms;
  const out: number[] = [];
  while (performance.now() < end) out.push(...(await sequential(t, 50)));
  return out;
}

async function oneConnection(seconds: number, label: string, dir: string, profileToo: boolean): Promise<void> {
  const mock = await startMockUpstream();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${RELAY_KEY}` };
  const mockUrl = new URL(mock.url);
  const direct = target('mock', mockUrl.origin, `${mockUrl.pathname}/chat/completions`, { 'content-type': 'application/json' }, 'm', 1);
  await sequentialFor(direct, 1000);
  const d = await sequentialFor(direct, 3000);
  await ttftFor(direct, mock, 500);
  const dTtft = await ttftFor(direct, mock, 3000);
  await direct.pool.close();
  // Without the profiler: CPU per request and added latency.
  let relay = await startRelay(mock.url, [...NODE_FLAGS]);
  let t = target('relay', relay.url, '/v1/chat/completions', headers, 'mock/m', 1);
  await sequentialFor(t, Number(process.env.BENCH_WARM_S ?? 2) * 1000);
  const c0 = relay.cpuMs();
  const s0 = sysMs(relay.pid);
  const th0 = threadsMs(relay.pid);
  const lat = await sequentialFor(t, seconds * 1000);
  const th1 = threadsMs(relay.pid);
  const perThread = [...th1].map(([name, ms]) => [name, Math.round(((ms - (th0.get(name) ?? 0)) * 1000) / lat.length)] as const).filter(([, us]) => us > 0).sort((a, b) => b[1] - a[1]);
  const cpuUs = ((relay.cpuMs() - c0) * 1000) / lat.length;
  const sysUs = ((sysMs(relay.pid) - s0) * 1000) / lat.length;
  // Streams, one at a time: the time to the first content frame, relay vs the mock straight.
  await ttftFor(t, mock, 1000);
  const ttft = await ttftFor(t, mock, Math.max(3000, (seconds * 1000) / 2));
  await t.pool.close();
  await relay.stop();
  const r2 = (x: number) => Math.round(x * 1000) / 1000;
  const head = [
    `${label} (c=1, sequential, non-streaming): ${lat.length} requests in ${seconds} s, ${Math.round(cpuUs)} µs CPU per request (process, worker threads included; ${Math.round(sysUs)} of it in the kernel)`,
    `added latency p50 ${r2(pct(lat, 50) - pct(d, 50))} ms, p99 ${r2(pct(lat, 99) - pct(d, 99))} ms (relay p50 ${r2(pct(lat, 50))}, mock p50 ${r2(pct(d, 50))})`,
    `streamed (c=1, sequential): ${ttft.length} streams, added TTFT p50 ${r2(pct(ttft, 50) - pct(dTtft, 50))} ms, p99 ${r2(pct(ttft, 99) - pct(dTtft, 99))} ms (relay p50 ${r2(pct(ttft, 50))}, mock p50 ${r2(pct(dTtft, 50))})`,
    `CPU µs per request by thread: ${perThread.map(([name, us]) => `${name} ${us}`).join(', ')}`,
  ];
  if (!profileToo) {
    await mock.close();
    process.stdout.write(`${head.join('\n')}\n`);
    return;
  }
  // Under the profiler: where it goes.
  relay = await startRelay(mock.url, [...NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${dir}`]);
  t = target('relay', relay.url, '/v1/chat/completions', headers, 'mock/m', 1);
  await sequentialFor(t, Number(process.env.BENCH_WARM_S ?? 2) * 1000);
  const from = Number(process.hrtime.bigint() / 1000n);
  const profiled = await sequentialFor(t, seconds * 1000);
  const to = Number(process.hrtime.bigint() / 1000n);
  await t.pool.close();
  await relay.stop();
  await mock.close();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  head.push(`profiled run: ${profiled.length} requests`);
  const perReq = (rows: { frame: string; ms: number; pct: number }[]) => rows.map((x) => ({ ...x, frame: `${x.frame} (${Math.round((x.ms * 1000) / profiled.length)} µs/req)` }));
  const text = [...head, '', '### self', ...table(perReq(topFrames(profile, 15, from, to)), 'self'), '', '### inclusive', ...table(perReq(topInclusive(profile, 30, from, to)), 'incl')].join('\n');
  writeFileSync(join(dir, 'top.md'), `${text}\n`);
  process.stdout.write(`${text}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const one = args[0] === '--c1' || args[0] === '--c1-cpu';
  const profileToo = args[0] === '--c1';
  if (one) args.shift();
  const seconds = Number(args[0] ?? 10);
  const label = args[1] ?? (one ? 'profile-c1' : 'profile');
  if (one) {
    const dir = join(root, 'test-artifacts', 'profile', label);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await oneConnection(seconds, label, dir, profileToo);
    process.exit(0);
  }
  const dir = join(root, 'test-artifacts', 'profile', label);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const mock = await startMockUpstream();
  const relay = await startRelay(mock.url, [...NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const t = target('relay', relay.url, '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${RELAY_KEY}` }, 'mock/m');
  await maxRps(t, 32, Number(process.env.BENCH_WARM_S ?? 2) * 1000); // warm-up
  const from = Number(process.hrtime.bigint() / 1000n);
  const c0 = relay.cpuMs();
  const r = await maxRps(t, 32, seconds * 1000);
  const c1 = relay.cpuMs();
  const mid = Number(process.hrtime.bigint() / 1000n);
  const s = await soak(t, mock, 32, seconds * 1000, () => undefined);
  const to = Number(process.hrtime.bigint() / 1000n);
  await t.pool.close();
  await relay.stop();
  await mock.close();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const top = topFrames(profile, 10, from, to);
  const head = `${label}: ${Math.round(r.rps)} req/s at 32 connections (${r.errors} errors), ${Math.round(((c1 - c0) * 1000) / (r.rps * seconds))} µs CPU per request; then ${s.streams} streams (${s.failed} failed)`;
  const text = [
    head,
    '',
    'Both phases:',
    '',
    ...table(top, 'self'),
    '',
    'Non-streamed requests only (the 32-connection throughput phase), self and inclusive:',
    '',
    ...table(topFrames(profile, 15, from, mid), 'self'),
    '',
    ...table(topInclusive(profile, 25, from, mid), 'inclusive'),
  ].join('\n');
  writeFileSync(join(dir, 'top10.md'), `${text}\n`);
  writeFileSync(join(dir, 'window.json'), `${JSON.stringify({ nonStreamed: [from, mid], streams: [mid, to] })}\n`);
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

if (process.argv[1]?.endsWith('profile.ts')) main().catch((e) => {
  process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
