/**
 * The gateway's own cost: the same relay, mock and client in ONE process, so neither path pays
 * for waking another process. Cross-process figures (run.ts) add two OS wake-ups per request on
 * the gateway path, which on a small shared VM dominate the tail; this section isolates what the
 * gateway's code adds. Logging goes to /dev/null through the same asynchronous writer as in
 * production. Run alone: `npx tsx test/bench/sections/in-process.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FileSecretStore } from '../../../src-main/cli/file-secrets';
import { validateConfig } from '../../../src-main/core/config/validate';
import { createLogger } from '../../../src-main/core/gateway/logging';
import { createCore } from '../../../src-main/core/relay';
import { pct, sequential, streaming, streamOnce, target, type Target } from '../load';
import { startMockUpstream } from '../mock-upstream';
import { r3, sectionText, type Row, type Section } from '../report';

const QUICK = process.env.BENCH_QUICK === '1';
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

export async function run(): Promise<Section> {
  progress('in-process: gateway, mock and client in one process');
  const mock = await startMockUpstream();
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-bench-inproc-'));
  const KEY = 'sk-relay-bench-inprocess-000000';
  const relay = await createCore({
    config: validateConfig({
      server: { apiKeys: [KEY] },
      providers: [{ name: 'mock', type: 'openai', baseUrl: mock.url, models: ['m'], maxConcurrency: 1024 }],
      limits: { maxInFlight: 2048, perKeyConcurrency: 2048, perKeyQueue: 4096, queueTimeoutMs: 60000 },
    }),
    dataDir,
    secrets: new FileSecretStore(dataDir),
    lingma: 'never',
    processMetrics: false,
    logger: createLogger({ level: 'info', destination: pino.destination({ dest: '/dev/null', minLength: 4096, sync: false }) }),
  });
  const rows: Row[] = [];
  const json: Record<string, unknown> = {};
  const add = (metric: string, d: number, g: number, unit: string, max?: number) => {
    const added = g - d;
    const row: Row = { metric, unit, direct: r3(d), gateway: r3(g), added: r3(added), ratio: r3(g / d) };
    if (max !== undefined) {
      row.target = `added <= ${max}`;
      row.ok = added <= max ? 'yes' : 'NO';
    }
    rows.push(row);
    json[metric] = { unit, direct: d, gateway: g, added, ...(max !== undefined ? { target: max, met: added <= max } : {}) };
  };
  const mockUrl = new URL(mock.url);
  const direct = target('direct', mockUrl.origin, `${mockUrl.pathname}/chat/completions`, { 'content-type': 'application/json' }, 'm', 4);
  let gateway: Target | undefined;
  try {
    await relay.start();
    const url = await relay.listen({ host: '127.0.0.1', port: 0 });
    gateway = target('gateway', url, '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, 'mock/m', 4);
    await sequential(direct, QUICK ? 300 : 1500);
    await sequential(gateway, QUICK ? 300 : 1500);
    for (let i = 0; i < 20; i++) await streamOnce(gateway, mock, 5, 0);
    const blocks = QUICK ? 4 : 10;
    const per = QUICK ? 150 : 500;
    const sd: number[] = [];
    const sg: number[] = [];
    for (let b = 0; b < blocks; b++) {
      sd.push(...(await sequential(direct, per)));
      sg.push(...(await sequential(gateway, per)));
    }
    add('sequential p50', pct(sd, 50), pct(sg, 50), 'ms');
    add('sequential p99', pct(sd, 99), pct(sg, 99), 'ms', 1.5);
    const streams = QUICK ? 30 : 100;
    const stD = await streaming(direct, mock, streams, 20, 2);
    const stG = await streaming(gateway, mock, streams, 20, 2);
    add('stream TTFT p50', pct(stD.ttft, 50), pct(stG.ttft, 50), 'ms');
    add('chunk latency p99', pct(stD.chunkLat, 99), pct(stG.chunkLat, 99), 'ms');
    add('inter-chunk gap stretch p99', pct(stD.stretch, 99), pct(stG.stretch, 99), 'ms', 0.1);
  } finally {
    await direct.pool.close();
    await gateway?.pool.close();
    await relay.stop();
    await mock.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { name: "gateway overhead, in-process (the gateway's own added cost)", rows, json };
}

if (process.argv[1]?.endsWith('in-process.ts')) {
  run()
    .then((s) => {
      process.stdout.write(`${sectionText(s)}\n`);
      process.exit(0);
    })
    .catch((e) => {
      process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
      process.exit(1);
    });
}
