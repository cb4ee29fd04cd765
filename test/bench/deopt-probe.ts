/**
 * `npx tsx test/bench/deopt-probe.ts [seconds]`: the relay as `npm run serve` runs it, under
 * `--trace-opt --trace-deopt` (or the V8 flags in PROBE_FLAGS, e.g. `--trace-gc-nvp`), 3 s of
 * sequential requests (c=1, non-streaming), then WINDOWS (default 3) windows of `seconds` of the
 * same load: per window, TurboFan compiles, their compile time and deopts; for the last window, how
 * often V8 optimised and deoptimised each function and why (the trace: test-artifacts/deopt-trace.txt)
 * (a function optimised again and again is a deopt loop: its compile work shows up as CPU on V8's
 * background thread).
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GATEWAY_NODE_FLAGS } from '../../bin/serve-flags.mjs';
import { sequential, target } from './load';
import { startMockUpstream } from './mock-upstream';
import { RELAY_KEY, root } from './procs';

const seconds = Number(process.argv[2] ?? 6);
const mock = await startMockUpstream();
const { ensureServeBuild } = (await import(pathToFileURL(join(root, 'bin', 'serve-build.mjs')).href)) as { ensureServeBuild(): Promise<string> };
const bundle = await ensureServeBuild();
const dataDir = mkdtempSync(join(tmpdir(), 'relay-deopt-'));
const configFile = join(dataDir, 'config.json');
writeFileSync(configFile, JSON.stringify({
  server: { logLevel: process.env.BENCH_LOG_LEVEL ?? 'info' },
  providers: [{ name: 'mock', type: 'openai', baseUrl: mock.url, models: ['m'], maxConcurrency: 1024 }],
  ledger: { enabled: process.env.BENCH_LEDGER !== '0' },
  ...(process.env.BENCH_INSPECTOR === '0' ? { inspector: { enabled: false } } : {}),
  lingma: { attach: 'off' },
}));
const out = join(dataDir, 'trace.txt');
const fd = openSync(out, 'w');
const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, ...(process.env.PROBE_FLAGS ?? '--trace-opt --trace-deopt').split(' ').filter(Boolean), bundle, '--config', configFile, '--data-dir', dataDir, '--port', '0'], {
  cwd: root, env: { ...process.env, RELAY_API_KEYS: RELAY_KEY, RELAY_LOG_FORMAT: 'json', NODE_ENV: 'production' }, stdio: ['ignore', fd, 'ignore'],
});
closeSync(fd);
let url = '';
for (let i = 0; i < 200 && !url; i++) {
  await new Promise((r) => setTimeout(r, 100));
  url = /relay listening on (\S+)/.exec(readFileSync(out, 'utf8'))?.[1] ?? '';
}
if (!url) throw new Error('the relay did not start');
const t = target('relay', url, '/v1/chat/completions', { authorization: `Bearer ${RELAY_KEY}`, 'content-type': 'application/json' }, 'mock/m', 1);
const until = (ms: number) => { const end = performance.now() + ms; return async () => { let n = 0; while (performance.now() < end) n += (await sequential(t, 50)).length; return n; }; };
await until(3000)();
// Windows of `seconds`: does the compile work fade (warm-up) or go on (a deopt loop)?
const windows = Number(process.env.WINDOWS ?? 3);
let mark = readFileSync(out, 'utf8').length;
let n = 0;
let trace = '';
for (let w = 0; w < windows; w++) {
  n = await until(seconds * 1000)();
  const all = readFileSync(out, 'utf8');
  trace = all.slice(mark);
  mark = all.length;
  const ms = [...trace.matchAll(/- took ([\d.]+), ([\d.]+), ([\d.]+) ms/g)].reduce((a, m) => a + Number(m[1]) + Number(m[2]) + Number(m[3]), 0);
  console.log(`window ${w + 1}: ${n} requests, ${(trace.match(/completed compiling/g) ?? []).length} TurboFan compiles (${ms.toFixed(0)} ms, ${((ms * 1000) / n).toFixed(0)} µs per request), ${(trace.match(/bailout \(kind/g) ?? []).length} deopts`);
}
child.kill('SIGTERM');
await t.pool.close();
await mock.close();
const count = (re: RegExp) => {
  const m = new Map<string, number>();
  for (const x of trace.matchAll(re)) m.set(x[1], (m.get(x[1]) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, 25);
};
console.log('last window:');
console.log('optimised most often:'); for (const [f, c] of count(/completed compiling 0x[0-9a-f]+ <JSFunction ([^ >]+)/g)) console.log(`  ${c} ${f}`);
console.log('deoptimised most often:'); for (const [f, c] of count(/bailout \(kind: [^)]*\): begin\. deoptimizing 0x[0-9a-f]+ <JSFunction ([^ >]+)/g)) console.log(`  ${c} ${f}`);
const reasons = count(/bailout \(kind: [^,]*, reason: ([^)]+)\)/g);
console.log('reasons:'); for (const [f, c] of reasons) console.log(`  ${c} ${f}`);
writeFileSync(join(root, 'test-artifacts', 'deopt-trace.txt'), trace);
rmSync(dataDir, { recursive: true, force: true });
