/**
 * `npx tsx test/bench/alloc.ts [requests]`: bytes the relay allocates per request, and where.
 * The relay as `npm run serve` runs it (compiled bundle, default configuration, GATEWAY_NODE_FLAGS)
 * with ./alloc-preload.mjs, V8's sampling heap profiler (every ~1 KB allocated, objects collected
 * by either GC included, so it counts allocation, not what survives); warmed up, then `requests`
 * sequential non-streaming requests (default 3000) on one connection. Prints KB per request and
 * the 40 functions that allocated most (self; inlined callees count for their caller).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxRps, sequential, target } from './load';
import { startMockUpstream } from './mock-upstream';
import { GATEWAY_NODE_FLAGS } from '../../bin/serve-flags.mjs';
import { RELAY_KEY, startRelay } from './procs';

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize?: number;
  children?: SampleNode[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 3000);
  const dir = mkdtempSync(join(tmpdir(), 'relay-alloc-'));
  const out = join(dir, 'alloc.heapprofile');
  const preload = fileURLToPath(new URL('./alloc-preload.mjs', import.meta.url));
  const mock = await startMockUpstream();
  const relay = await startRelay(mock.url, [...GATEWAY_NODE_FLAGS, `--import=${preload}`], { ALLOC_OUT: out });
  const t = target('relay', relay.url, '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${RELAY_KEY}` }, 'mock/m');
  try {
    await maxRps(t, 4, 2000); // warm-up
    process.kill(relay.pid, 'SIGUSR2'); // start sampling
    await sleep(300);
    await sequential(t, n);
    process.kill(relay.pid, 'SIGUSR2'); // stop and write
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      try {
        readFileSync(out);
        break;
      } catch {
        /* not written yet */
      }
    }
    const profile = JSON.parse(readFileSync(out, 'utf8')) as { head: SampleNode };
    const by = new Map<string, number>();
    let total = 0;
    const walk = (node: SampleNode): void => {
      const self = node.selfSize ?? 0;
      total += self;
      const f = node.callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
      by.set(key, (by.get(key) ?? 0) + self);
      for (const c of node.children ?? []) walk(c);
    };
    walk(profile.head);
    const want = process.env.ALLOC_STACK;
    if (want) {
      const paths = new Map<string, number>();
      const down = (node: SampleNode, path: string[]): void => {
        const f = node.callFrame;
        const here = [...path, `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`];
        if (f.functionName === want) {
          const sum = (x: SampleNode): number => (x.selfSize ?? 0) + (x.children ?? []).reduce((a, c) => a + sum(c), 0);
          const k = here.slice(-8).join(' < ');
          paths.set(k, (paths.get(k) ?? 0) + sum(node));
        }
        for (const c of node.children ?? []) down(c, here);
      };
      down(profile.head, []);
      for (const [k, v] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 6)) process.stdout.write(`${(v / n).toFixed(0).padStart(7)} B  ${k}\n`);
    }
    process.stdout.write(`${(total / n / 1024).toFixed(1)} KB allocated per request (${n} sequential requests)\n`);
    for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 40)) process.stdout.write(`${(v / n).toFixed(0).padStart(7)} B  ${k}\n`);
  } finally {
    await t.pool.close();
    await relay.stop();
    await mock.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
