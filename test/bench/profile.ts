/**
 * `npx tsx test/bench/profile.ts [seconds] [label]`: the relay as `npm run serve` runs it (compiled
 * bundle, default configuration) under `--cpu-prof`, warmed up, then loaded by 32 connections of
 * non-streaming requests and then 32 of streams for `seconds` each (default 10); prints the top 10
 * frames by self time over the load only (start-up and warm-up samples are left out: the profile's
 * timestamps and this process's hrtime share the monotonic clock) and writes them, with the
 * profile, under test-artifacts/profile/<label>.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { maxRps, soak, target } from './load';
import { startMockUpstream } from './mock-upstream';
import { GATEWAY_NODE_FLAGS } from '../../bin/serve-flags.mjs';
import { RELAY_KEY, root, startRelay } from './procs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Self time per frame (function + file + line), ms, highest first. */
export function topFrames(profile: { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number }, n = 10, fromUs = 0, toUs = Infinity): { frame: string; ms: number; pct: number }[] {
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
    const f = node.callFrame;
    const url = f.url.replace(/^file:\/\//, '');
    const where = url ? `${url.includes('node_modules') ? url.slice(url.lastIndexOf('node_modules/') + 13) : relative(root, url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, ms]) => ({ frame, ms: Math.round(ms), pct: Math.round((ms / total) * 1000) / 10 }));
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10);
  const label = process.argv[3] ?? 'profile';
  const dir = join(root, 'test-artifacts', 'profile', label);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const mock = await startMockUpstream();
  const relay = await startRelay(mock.url, [...GATEWAY_NODE_FLAGS, '--cpu-prof', `--cpu-prof-dir=${dir}`]);
  const t = target('relay', relay.url, '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${RELAY_KEY}` }, 'mock/m');
  await maxRps(t, 32, 2000); // warm-up
  const from = Number(process.hrtime.bigint() / 1000n);
  const c0 = relay.cpuMs();
  const r = await maxRps(t, 32, seconds * 1000);
  const c1 = relay.cpuMs();
  const s = await soak(t, mock, 32, seconds * 1000, () => undefined);
  const to = Number(process.hrtime.bigint() / 1000n);
  await t.pool.close();
  await relay.stop();
  await mock.close();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const top = topFrames(JSON.parse(readFileSync(join(dir, file), 'utf8')), 10, from, to);
  const head = `${label}: ${Math.round(r.rps)} req/s at 32 connections (${r.errors} errors), ${Math.round(((c1 - c0) * 1000) / (r.rps * seconds))} µs CPU per request; then ${s.streams} streams (${s.failed} failed)`;
  const text = [head, '', '| self ms | % | frame |', '| ---: | ---: | --- |', ...top.map((x) => `| ${x.ms} | ${x.pct} | \`${x.frame}\` |`)].join('\n');
  writeFileSync(join(dir, 'top10.md'), `${text}\n`);
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

if (process.argv[1]?.endsWith('profile.ts')) main().catch((e) => {
  process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
