/**
 * `npm run bench`: the gateway's overhead, as a ratio to the direct call measured in the same run.
 *
 * A mock upstream (./mock-upstream.ts) and the client run in this process; the gateway (the real
 * relay, built to plain JS with esbuild) runs in a child process so its RSS can be measured.
 * Every figure is measured twice, straight to the mock ("direct") and through the gateway, and
 * the difference is what the gateway adds.
 *
 * Then every `test/bench/sections/*.ts` exporting `run()` is run and printed the same way.
 * Output: a table per section, then one JSON document (also written to test-artifacts/bench.json).
 * Env: BENCH_QUICK=1 for a short run; BENCH_SECTIONS=0 to skip the sections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import pino from 'pino';
import { Pool } from 'undici';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createRelay } from '../../src-main/core/relay';
import { startMockUpstream, type MockUpstream } from './mock-upstream';

/** Progress on stderr (the tables and JSON go to stdout). */
const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const QUICK = process.env.BENCH_QUICK === '1';

type Row = Record<string, string | number>;
interface Section {
  name: string;
  rows: Row[];
  json: unknown;
}

// ---------- small statistics ----------
function pct(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = Float64Array.from(values).sort();
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const r1 = (x: number) => Math.round(x * 10) / 10;

// ---------- the gateway child ----------
/**
 * V8 flags the gateway runs with (see README): a small young generation keeps the idle RSS down at
 * a negligible CPU cost. BENCH_NODE_FLAGS overrides ('' = node defaults).
 */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=2').split(' ').filter(Boolean);

let built = false;
async function startGatewayChild(
  upstream: string,
  flags: string[] = NODE_FLAGS,
): Promise<{ url: string; key: string; child: ChildProcess; rssMb(): number; cpuMs(): number; stop(): Promise<void> }> {
  const out = join(root, 'dist', 'bench', 'gateway-child.mjs');
  if (!built) await build({
    entryPoints: [join(here, 'gateway-child.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  built = true;
  const child = spawn(process.execPath, [...flags, out], {
    cwd: root,
    env: { ...process.env, BENCH_UPSTREAM: upstream, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'ignore'], // logs (info level, one line per request) go to /dev/null, as cheaply as to a file
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    child.on('exit', (code) => reject(new Error(`gateway child exited with ${code}`)));
  });
  const m = /^relay listening on (\S+) key=(\S+)$/.exec(line);
  if (!m) throw new Error(`unexpected gateway output: ${line}`);
  const rssMb = (): number => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
      return kb / 1024;
    } catch {
      return NaN;
    }
  };
  const cpuMs = (): number => {
    try {
      // utime + stime in clock ticks (100 per second on Linux)
      const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      return NaN;
    }
  };
  return {
    url: m[1],
    key: m[2],
    child,
    rssMb,
    cpuMs,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

// ---------- a target: direct or through the gateway ----------
interface Target {
  name: 'direct' | 'gateway';
  pool: Pool;
  path: string;
  headers: Record<string, string>;
  model: string;
}

const NON_STREAM_BODY = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hello.' }] });

async function once(t: Target, body: string): Promise<number> {
  const t0 = performance.now();
  const res = await t.pool.request({ path: t.path, method: 'POST', headers: t.headers, body });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode}`);
  return performance.now() - t0;
}

async function sequential(t: Target, n: number): Promise<number[]> {
  const body = NON_STREAM_BODY(t.model);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await once(t, body));
  return out;
}

/** Open loop at a fixed rate: latency counted from the scheduled start. */
async function fixedRate(t: Target, rps: number, ms: number): Promise<{ lat: number[]; errors: number }> {
  const body = NON_STREAM_BODY(t.model);
  const lat: number[] = [];
  let errors = 0;
  const total = Math.round((rps * ms) / 1000);
  const start = performance.now();
  const interval = 1000 / rps;
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    let due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Late (a slow timer, a busy loop): count from the scheduled time, so queueing shows. Early
    // (waits under 1 ms are not slept): count from when the request really left.
    due = Math.min(due, performance.now());
    inflight.push(
      t.pool
        .request({ path: t.path, method: 'POST', headers: t.headers, body })
        .then(async (res) => {
          await res.body.text();
          if (res.statusCode !== 200) errors++;
          lat.push(performance.now() - due);
        })
        .catch(() => {
          errors++;
        }),
    );
  }
  await Promise.all(inflight);
  return { lat, errors };
}

async function maxRps(t: Target, concurrency: number, ms: number): Promise<number> {
  const body = NON_STREAM_BODY(t.model);
  const end = performance.now() + ms;
  let count = 0;
  const worker = async () => {
    while (performance.now() < end) {
      await once(t, body);
      count++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - t0) / 1000);
}

interface StreamResult {
  ttft: number;
  /** Per content chunk: arrival - upstream write time (ms). */
  chunkLat: number[];
  /** Pieces in arrival order, one entry per SSE frame's content. */
  frames: string[];
  done: boolean;
  badFrames: number;
}

let streamSeq = 0;
async function streamOnce(t: Target, mock: MockUpstream, n: number, gap: number): Promise<StreamResult & { id: number }> {
  const id = ++streamSeq;
  const body = JSON.stringify({ model: t.model, stream: true, user: `s=${id};n=${n};gap=${gap}`, messages: [{ role: 'user', content: 'Stream please.' }] });
  const t0 = performance.now();
  const res = await t.pool.request({ path: t.path, method: 'POST', headers: t.headers, body });
  if (res.statusCode !== 200) {
    await res.body.text();
    throw new Error(`${t.name}: stream HTTP ${res.statusCode}`);
  }
  let buf = '';
  let ttft = NaN;
  const chunkLat: number[] = [];
  const frames: string[] = [];
  let done = false;
  let badFrames = 0;
  res.body.setEncoding('utf8');
  for await (const data of res.body as AsyncIterable<string>) {
    const now = performance.now();
    buf += data;
    let sep: number;
    while ((sep = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      if (!frame.startsWith('data: ')) continue; // comments
      const payload = frame.slice(6);
      if (payload === '[DONE]') {
        done = true;
        continue;
      }
      let content: string | undefined;
      try {
        content = JSON.parse(payload).choices?.[0]?.delta?.content;
      } catch {
        badFrames++;
        continue;
      }
      if (typeof content !== 'string' || !content) continue;
      if (Number.isNaN(ttft)) ttft = now - t0;
      frames.push(content);
      const m = /^s(\d+)-c(\d+)\|$/.exec(content);
      const sent = m ? mock.sentAt.get(`${m[1]}:${m[2]}`) : undefined;
      if (sent !== undefined) {
        chunkLat.push(now - sent);
        mock.sentAt.delete(`${m![1]}:${m![2]}`);
      }
    }
  }
  return { id, ttft, chunkLat, frames, done, badFrames };
}

/** Per-stream gap stretch: (arrival gap) - (send gap) between consecutive chunks = lat[i] - lat[i-1]. */
function gapStretch(chunkLats: number[][]): number[] {
  const out: number[] = [];
  for (const l of chunkLats) for (let i = 1; i < l.length; i++) out.push(l[i] - l[i - 1]);
  return out;
}

async function streaming(t: Target, mock: MockUpstream, streams: number, n: number, gap: number) {
  const ttft: number[] = [];
  const lats: number[][] = [];
  for (let i = 0; i < streams; i++) {
    const r = await streamOnce(t, mock, n, gap);
    ttft.push(r.ttft);
    lats.push(r.chunkLat);
  }
  return { ttft, chunkLat: lats.flat(), stretch: gapStretch(lats) };
}

async function concurrentStreams(t: Target, mock: MockUpstream, count: number, n: number, gap: number, sampleRss: () => void) {
  const sampler = setInterval(sampleRss, 50);
  try {
    const results = await Promise.all(Array.from({ length: count }, () => streamOnce(t, mock, n, gap).catch((e: Error) => e)));
    let lost = 0;
    let merged = 0;
    let failed = 0;
    let notDone = 0;
    let bad = 0;
    let disordered = 0;
    for (const r of results) {
      if (r instanceof Error) {
        failed++;
        continue;
      }
      const expected = Array.from({ length: n }, (_, i) => `s${r.id}-c${i}|`);
      for (const f of r.frames) if ((f.match(/\|/g) ?? []).length > 1) merged++;
      const got = r.frames.join('');
      lost += expected.filter((e) => !got.includes(e)).length;
      if (got !== expected.join('')) disordered++;
      if (!r.done) notDone++;
      bad += r.badFrames;
    }
    return { streams: count, framesEach: n, failed, lost, merged, disordered, notDone, badFrames: bad };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * RSS once the gateway has been idle long enough for V8's memory reducer to run (it starts a few
 * seconds after allocation stops): the figure a tray app sitting idle actually shows.
 */
async function idleRss(g: { rssMb(): number }): Promise<number> {
  let last = g.rssMb();
  for (let i = 0; i < 14; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    last = g.rssMb();
  }
  return last;
}

// ---------- the gateway section ----------
async function gatewaySection(): Promise<Section> {
  const mock = await startMockUpstream();
  const gw = await startGatewayChild(mock.url);
  const mockUrl = new URL(mock.url);
  const connections = 600;
  const direct: Target = {
    name: 'direct',
    pool: new Pool(mockUrl.origin, { connections, keepAliveTimeout: 60_000 }),
    path: `${mockUrl.pathname}/chat/completions`,
    headers: { 'content-type': 'application/json' },
    model: 'm',
  };
  const gateway: Target = {
    name: 'gateway',
    pool: new Pool(gw.url, { connections, keepAliveTimeout: 60_000 }),
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.key}` },
    model: 'mock/m',
  };
  const rows: Row[] = [];
  const json: Record<string, unknown> = {};
  const add = (metric: string, d: number, g: number, unit: string, target?: { max: number; of: 'added' | 'gateway' }) => {
    const added = g - d;
    const row: Row = { metric, unit, direct: r3(d), gateway: r3(g), added: r3(added), ratio: r3(g / d) };
    if (target) {
      const v = target.of === 'added' ? added : g;
      row.target = `${target.of} <= ${target.max}`;
      row.ok = v <= target.max ? 'yes' : 'NO';
    }
    rows.push(row);
    json[metric] = { unit, direct: d, gateway: g, added, ratio: g / d, ...(target ? { target: target.max, met: row.ok === 'yes' } : {}) };
  };
  let rssMax = 0;
  const sampleRss = () => {
    rssMax = Math.max(rssMax, gw.rssMb());
  };

  try {
    progress('cross-process: gateway in its own process (its RSS is measured), mock and client here');
    const rssStart = gw.rssMb();
    // Warm up both paths (JIT, keep-alive sockets, upstream pool).
    await sequential(direct, QUICK ? 200 : 1000);
    await sequential(gateway, QUICK ? 200 : 1000);
    for (let i = 0; i < 20; i++) await streamOnce(gateway, mock, 5, 0);
    const rssIdle = await idleRss(gw);

    // 1. Sequential non-streaming, alternating blocks so drift hits both paths alike.
    const blocks = QUICK ? 4 : 10;
    const per = QUICK ? 150 : 400;
    const sd: number[] = [];
    const sg: number[] = [];
    let gwCpu = 0;
    for (let b = 0; b < blocks; b++) {
      sd.push(...(await sequential(direct, per)));
      const c0 = gw.cpuMs();
      sg.push(...(await sequential(gateway, per)));
      gwCpu += gw.cpuMs() - c0;
    }
    add('sequential p50', pct(sd, 50), pct(sg, 50), 'ms');
    add('sequential p99', pct(sd, 99), pct(sg, 99), 'ms', { max: 0.5, of: 'added' });
    const cpuPerReq = (gwCpu * 1000) / sg.length;
    rows.push({ metric: 'gateway CPU per request (sequential)', unit: 'us', direct: '', gateway: Math.round(cpuPerReq), added: '', ratio: '' });
    json['gateway CPU per request'] = { us: cpuPerReq, note: '10 ms clock-tick resolution, summed over the run' };

    progress('fixed request rates');
    // 2. Fixed request rates (open loop).
    for (const rps of QUICK ? [200] : [200, 1000]) {
      const ms = QUICK ? 1500 : 3000;
      const d = await fixedRate(direct, rps, ms);
      const g = await fixedRate(gateway, rps, ms);
      sampleRss();
      add(`${rps} req/s p50`, pct(d.lat, 50), pct(g.lat, 50), 'ms');
      add(`${rps} req/s p99`, pct(d.lat, 99), pct(g.lat, 99), 'ms');
      if (d.errors || g.errors) json[`${rps} req/s errors`] = { direct: d.errors, gateway: g.errors };
    }

    progress('max requests per second');
    // 3. Max requests per second (closed loop, 32 concurrent).
    const maxMs = QUICK ? 1500 : 3000;
    const md = await maxRps(direct, 32, maxMs);
    const sampler = setInterval(sampleRss, 100);
    const mg = await maxRps(gateway, 32, maxMs);
    clearInterval(sampler);
    rows.push({ metric: 'max req/s (32 concurrent)', unit: 'req/s', direct: Math.round(md), gateway: Math.round(mg), added: '', ratio: r3(mg / md) });
    json['max req/s'] = { direct: md, gateway: mg, ratio: mg / md };

    progress('streaming');
    // 4. Streaming: time to first token, per-chunk latency and inter-chunk gap stretch.
    const streams = QUICK ? 30 : 100;
    const stD = await streaming(direct, mock, streams, 20, 2);
    const stG = await streaming(gateway, mock, streams, 20, 2);
    add('stream TTFT p50', pct(stD.ttft, 50), pct(stG.ttft, 50), 'ms');
    add('stream TTFT p99', pct(stD.ttft, 99), pct(stG.ttft, 99), 'ms');
    add('chunk latency p50', pct(stD.chunkLat, 50), pct(stG.chunkLat, 50), 'ms');
    add('chunk latency p99', pct(stD.chunkLat, 99), pct(stG.chunkLat, 99), 'ms');
    add('inter-chunk gap stretch p99', pct(stD.stretch, 99), pct(stG.stretch, 99), 'ms', { max: 0.1, of: 'added' });

    progress('512 concurrent streams');
    // 5. 512 concurrent streams, every frame checked.
    const conc = await concurrentStreams(gateway, mock, 512, 20, 10, sampleRss);
    const ok = conc.failed === 0 && conc.lost === 0 && conc.merged === 0 && conc.disordered === 0 && conc.notDone === 0 && conc.badFrames === 0;
    rows.push({
      metric: '512 concurrent streams x 20 frames', unit: 'frames', direct: '', gateway: `${512 * 20 - conc.lost} ok`,
      added: `lost ${conc.lost}, merged ${conc.merged}, failed ${conc.failed}`, ratio: '', target: 'none lost/merged', ok: ok ? 'yes' : 'NO',
    });
    json['concurrent streams'] = { ...conc, met: ok };

    progress('memory');
    // 6. Memory: with the recommended flags, and with node's defaults for comparison.
    sampleRss();
    let rssIdleDefaults = NaN;
    if (NODE_FLAGS.length) {
      const plain = await startGatewayChild(mock.url, []);
      try {
        const t: Target = { ...gateway, pool: new Pool(plain.url, { connections: 4 }), headers: { ...gateway.headers, authorization: `Bearer ${plain.key}` } };
        await sequential(t, QUICK ? 200 : 1000);
        for (let i = 0; i < 20; i++) await streamOnce(t, mock, 5, 0);
        await t.pool.close();
        rssIdleDefaults = await idleRss(plain);
      } finally {
        await plain.stop();
      }
    }
    const flagText = NODE_FLAGS.join(' ') || 'node defaults';
    rows.push({ metric: 'gateway RSS at start (before any request)', unit: 'MB', direct: '', gateway: r1(rssStart), added: '', ratio: '' });
    rows.push({ metric: `gateway RSS idle (${flagText})`, unit: 'MB', direct: '', gateway: r1(rssIdle), added: '', ratio: '', target: 'gateway <= 80', ok: rssIdle <= 80 ? 'yes' : 'NO' });
    if (!Number.isNaN(rssIdleDefaults)) rows.push({ metric: 'gateway RSS idle (node defaults)', unit: 'MB', direct: '', gateway: r1(rssIdleDefaults), added: '', ratio: '' });
    rows.push({ metric: 'gateway RSS under load (max)', unit: 'MB', direct: '', gateway: r1(rssMax), added: '', ratio: '' });
    json.rss = { nodeFlags: NODE_FLAGS, startMb: rssStart, idleMb: rssIdle, idleMbNodeDefaults: rssIdleDefaults, loadMaxMb: rssMax, target: 80, met: rssIdle <= 80 };
  } finally {
    await direct.pool.close();
    await gateway.pool.close();
    await gw.stop();
    await mock.close();
  }
  return { name: 'gateway overhead, cross-process (direct call vs through the gateway)', rows, json };
}

/**
 * The gateway's own cost: the same relay, mock and client in ONE process, so neither path pays
 * for waking another process. Cross-process figures (above) add two OS wake-ups per request on
 * the gateway path, which on a small shared VM dominate the tail; this section isolates what the
 * gateway's code adds. Logging goes to /dev/null through the same batched writer as in production.
 */
async function inProcessSection(): Promise<Section> {
  progress('in-process: gateway, mock and client in one process');
  const mock = await startMockUpstream();
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-bench-inproc-'));
  const KEY = 'sk-relay-bench-inprocess-000000';
  const relay = await createRelay({
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
  const direct: Target = { name: 'direct', pool: new Pool(mockUrl.origin, { connections: 4 }), path: `${mockUrl.pathname}/chat/completions`, headers: { 'content-type': 'application/json' }, model: 'm' };
  let gateway: Target | undefined;
  try {
    await relay.start();
    const url = await relay.listen({ host: '127.0.0.1', port: 0 });
    gateway = { name: 'gateway', pool: new Pool(url, { connections: 4 }), path: '/v1/chat/completions', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, model: 'mock/m' };
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
    add('sequential p99', pct(sd, 99), pct(sg, 99), 'ms', 0.5);
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

// ---------- output ----------
function table(s: Section): string {
  const cols = [...new Set(s.rows.flatMap((r) => Object.keys(r)))];
  const cells = s.rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  return [`## ${s.name}`, line(cols), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const env = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model, memGb: Math.round(totalmem() / 2 ** 30), quick: QUICK };
  const sections: Section[] = [];
  sections.push(await gatewaySection());
  process.stdout.write(`${table(sections[0])}\n\n`);
  sections.push(await inProcessSection());
  process.stdout.write(`${table(sections[1])}\n\n`);

  if (process.env.BENCH_SECTIONS !== '0') {
    const dir = join(here, 'sections');
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((f) => /\.ts$/.test(f)).sort();
    } catch {
      /* no sections */
    }
    for (const f of names) {
      try {
        progress(`section ${f}`);
        const mod = (await import(pathToFileURL(join(dir, f)).href)) as { run?: () => Promise<Section> };
        if (typeof mod.run !== 'function') continue;
        const s = await mod.run();
        sections.push(s);
        process.stdout.write(`${table(s)}\n\n`);
      } catch (e) {
        const s: Section = { name: `section ${f}`, rows: [{ error: String((e as Error)?.message ?? e).slice(0, 200) }], json: { error: String(e) } };
        sections.push(s);
        process.stdout.write(`${table(s)}\n\n`);
      }
    }
  }

  const doc = { at: new Date().toISOString(), env, sections: sections.map((s) => ({ name: s.name, rows: s.rows, json: s.json })) };
  const text = JSON.stringify(doc, null, 2);
  mkdirSync(join(root, 'test-artifacts'), { recursive: true });
  writeFileSync(join(root, 'test-artifacts', 'bench.json'), text + '\n');
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
