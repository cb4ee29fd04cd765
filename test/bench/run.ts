/**
 * `npm run bench`: what the relay adds to every call, side by side in ONE run with a peer gateway.
 *
 * A mock upstream (./mock-upstream.ts) and the client run in this process. Three targets get the
 * same load: the mock itself ("direct"), the relay as `npm run serve` runs it (compiled bundle,
 * default configuration: ledger on, info logs on; ./procs.ts) and Portkey's gateway from npm
 * ("portkey", the peer), each gateway in its own process so its RSS and CPU can be read. Every
 * figure is reported as added time over the direct call and as ratios to the direct call and to
 * the peer; then one table of the issue's targets (target, reached, met), relay only: slow
 * clients (backpressure), a streaming soak and idle RSS with node's defaults. The gateways are
 * measured warm: idle RSS after a light warm-up, everything else after `steadyState` (JIT settled).
 *
 * Then every `test/bench/sections/*.ts` exporting `run()` (in-process overhead, ledger queries,
 * Lingma session reuse). Output: tables on stdout, progress on stderr, one JSON document in
 * test-artifacts/bench.json; `npm run bench:readme` turns that into README's benchmark section.
 *
 * Flags (after `npm run bench --`): --quick (or BENCH_QUICK=1) short phases; --soak=SECONDS
 * (or BENCH_SOAK_S; default 120, 15 with --quick); --no-sections (or BENCH_SECTIONS=0).
 * BENCH_NODE_FLAGS: the relay's V8 flags (default: those of `npm run serve`).
 */
import { readdirSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem, platform } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { concurrentStreams, fixedRate, maxRps, pct, sequential, soak, stalledClients, streamOnce, streaming, target, type Target } from './load';
import { startMockUpstream, type MockUpstream } from './mock-upstream';
import { GATEWAY_NODE_FLAGS } from '../../bin/serve-flags.mjs';
import { portkeyHeaders, RELAY_KEY, root, startPortkey, startRelay, type Proc } from './procs';
import { pipeTable, r1, r2, r3, sectionText, type Row, type Section } from './report';

const progress = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const args = process.argv.slice(2);
const QUICK = process.env.BENCH_QUICK === '1' || args.includes('--quick');
if (QUICK) process.env.BENCH_QUICK = '1'; // the sections read it
const soakArg = args.find((a) => a.startsWith('--soak='))?.slice(7) ?? process.env.BENCH_SOAK_S;
const SOAK_S = soakArg !== undefined ? Number(soakArg) : QUICK ? 15 : 120;
if (!(SOAK_S > 0)) throw new Error(`--soak wants a number of seconds, got ${soakArg}`);
const SECTIONS = process.env.BENCH_SECTIONS !== '0' && !args.includes('--no-sections');

/** The relay's V8 flags: those `npm run serve` starts the gateway with (bin/serve-flags.mjs), unless BENCH_NODE_FLAGS says otherwise. */
function serveFlags(): string[] {
  if (process.env.BENCH_NODE_FLAGS !== undefined) return process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean);
  return [...GATEWAY_NODE_FLAGS];
}
const NODE_FLAGS = serveFlags();

/** RSS once the process has been idle long enough for V8's memory reducer to run (a few seconds after allocation stops). */
async function idleRss(procs: Proc[], seconds = 14): Promise<number[]> {
  await new Promise((r) => setTimeout(r, seconds * 1000));
  return procs.map((p) => p.rssMb());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Figure {
  unit: string;
  direct?: number;
  relay: number;
  portkey?: number;
}

function figureRow(name: string, f: Figure, lowerIsBetter = true): Row {
  const row: Row = { figure: name, unit: f.unit, direct: f.direct !== undefined ? r3(f.direct) : '', relay: r3(f.relay) };
  if (f.direct !== undefined && lowerIsBetter) row['relay added'] = r3(f.relay - f.direct);
  if (f.direct !== undefined) row['relay ÷ direct'] = r2(f.relay / f.direct);
  if (f.portkey !== undefined) {
    row.portkey = r3(f.portkey);
    if (f.direct !== undefined && lowerIsBetter) row['portkey added'] = r3(f.portkey - f.direct);
    if (f.direct !== undefined) row['portkey ÷ direct'] = r2(f.portkey / f.direct);
    row['relay ÷ portkey'] = r2(f.relay / f.portkey);
    if (f.direct !== undefined && lowerIsBetter) row['added: relay ÷ portkey'] = r2((f.relay - f.direct) / (f.portkey - f.direct));
  }
  return row;
}

interface Goal {
  target: string;
  wanted: string;
  reached: string;
  met: boolean;
}

/**
 * Warm-up to steady state, after the idle RSS reading: V8 keeps compiling the hot paths for tens of
 * seconds after the first thousand requests (`npx tsx test/bench/deopt-probe.ts` shows TurboFan at
 * ~900 µs of compile work per request in the first window, then fading to ~2 µs after ~15 s of c=1
 * load), so measuring right after a short warm-up reports JIT compilation, not the gateway. Every
 * gateway gets the same rounds of the shapes the bench measures (32 connections, sequential,
 * streams) until the relay's CPU per request over a round is within 5% of the round before (at
 * least 3 rounds, at most 10; 2 and 3 with --quick). Returns each round's CPU per request.
 */
async function steadyState(mock: MockUpstream, gateways: { t: Target; proc: Proc }[]): Promise<Record<string, number[]>> {
  const min = QUICK ? 2 : 3;
  const max = QUICK ? 3 : 10;
  const perRound: Record<string, number[]> = Object.fromEntries(gateways.map((g) => [g.t.name, []]));
  for (let round = 1; round <= max; round++) {
    for (const { t, proc } of gateways) {
      const c0 = proc.cpuMs();
      let n = (await maxRps(t, 32, 1500)).count;
      n += (await sequential(t, 300)).length;
      for (let i = 0; i < 30; i++) await streamOnce(t, mock, 5, 0);
      n += 30;
      perRound[t.name].push(Math.round(((proc.cpuMs() - c0) * 1000) / n));
    }
    const cpu = perRound[gateways[0].t.name];
    progress(`warm-up round ${round}: CPU µs per request ${gateways.map((g) => `${g.t.name} ${perRound[g.t.name][round - 1]}`).join(', ')}`);
    if (round >= min && Math.abs(cpu[round - 1] / cpu[round - 2] - 1) <= 0.05) break;
  }
  return perRound;
}

async function gatewaySection(): Promise<{ figures: Section; goals: Goal[]; json: Record<string, unknown> }> {
  const mock = await startMockUpstream();
  progress(`starting the relay (compiled bundle, node ${NODE_FLAGS.join(' ') || 'defaults'}) and the Portkey gateway`);
  const relay = await startRelay(mock.url, NODE_FLAGS);
  const peer = await startPortkey();
  const mockUrl = new URL(mock.url);
  const direct = target('direct', mockUrl.origin, `${mockUrl.pathname}/chat/completions`, { 'content-type': 'application/json' }, 'm');
  const viaRelay = target('relay', relay.url, '/v1/chat/completions', { 'content-type': 'application/json', authorization: `Bearer ${RELAY_KEY}` }, 'mock/m');
  const viaPeer = target('portkey', peer.url, '/v1/chat/completions', portkeyHeaders(mock.url), 'm');
  const all = [direct, viaRelay, viaPeer] as const;
  const figures: Record<string, Figure> = {};
  const rows: Row[] = [];
  const fig = (name: string, f: Figure, lowerIsBetter = true) => {
    figures[name] = f;
    rows.push(figureRow(name, f, lowerIsBetter));
  };
  const json: Record<string, unknown> = {};
  let rssPeak = 0;
  let peerPeak = 0;
  let sampling = true; // the load phases; off before the slow-client and soak phases
  const sampleRss = () => {
    if (!sampling) return;
    rssPeak = Math.max(rssPeak, relay.rssMb() || 0);
    peerPeak = Math.max(peerPeak, peer.rssMb() || 0);
  };
  const sampler = setInterval(sampleRss, 100);
  sampler.unref();

  try {
    const rssStart = [relay.rssMb(), peer.rssMb()];
    progress('warm-up (keep-alive sockets, upstream pools, first JIT tier)');
    for (const t of all) await sequential(t, QUICK ? 200 : 1000);
    for (const t of [viaRelay, viaPeer]) for (let i = 0; i < 20; i++) await streamOnce(t, mock, 5, 0);
    progress('idle RSS');
    const [rssIdle, peerIdle] = await idleRss([relay, peer]);
    json.warmUp = await steadyState(mock, [
      { t: viaRelay, proc: relay },
      { t: viaPeer, proc: peer },
    ]);

    // 1. Sequential non-streaming (c=1), alternating blocks so drift hits every path alike.
    progress('sequential, c=1');
    const blocks = QUICK ? 4 : 10;
    const per = QUICK ? 150 : 400;
    const seq: Record<string, number[]> = { direct: [], relay: [], portkey: [] };
    const cpu = { relay: 0, portkey: 0 };
    for (let b = 0; b < blocks; b++) {
      seq.direct.push(...(await sequential(direct, per)));
      let c0 = relay.cpuMs();
      seq.relay.push(...(await sequential(viaRelay, per)));
      cpu.relay += relay.cpuMs() - c0;
      c0 = peer.cpuMs();
      seq.portkey.push(...(await sequential(viaPeer, per)));
      cpu.portkey += peer.cpuMs() - c0;
    }
    const p = (k: string, q: number) => pct(seq[k], q);
    fig('c=1 latency p50', { unit: 'ms', direct: p('direct', 50), relay: p('relay', 50), portkey: p('portkey', 50) });
    fig('c=1 latency p99', { unit: 'ms', direct: p('direct', 99), relay: p('relay', 99), portkey: p('portkey', 99) });
    fig('gateway CPU per request (c=1)', { unit: 'µs', relay: (cpu.relay * 1000) / seq.relay.length, portkey: (cpu.portkey * 1000) / seq.portkey.length });

    // 2. Fixed request rates (open loop).
    for (const rps of QUICK ? [1000] : [200, 1000]) {
      progress(`steady ${rps} req/s`);
      const ms = QUICK ? 1500 : 3000;
      const r = [];
      for (const t of all) r.push(await fixedRate(t, rps, ms));
      fig(`${rps} req/s p50`, { unit: 'ms', direct: pct(r[0].lat, 50), relay: pct(r[1].lat, 50), portkey: pct(r[2].lat, 50) });
      fig(`${rps} req/s p99`, { unit: 'ms', direct: pct(r[0].lat, 99), relay: pct(r[1].lat, 99), portkey: pct(r[2].lat, 99) });
      json[`${rps} req/s errors`] = { direct: r[0].errors, relay: r[1].errors, portkey: r[2].errors };
    }

    // 3. Throughput, closed loop at 32 connections.
    progress('throughput, 32 connections');
    const maxMs = QUICK ? 2000 : 4000;
    const tp = [];
    for (const t of all) tp.push(await maxRps(t, 32, maxMs));
    fig('throughput, 32 connections', { unit: 'req/s', direct: tp[0].rps, relay: tp[1].rps, portkey: tp[2].rps }, false);
    json.throughputErrors = { direct: tp[0].errors, relay: tp[1].errors, portkey: tp[2].errors };

    // 4. Streaming: time to first token, per-chunk latency and inter-chunk gap stretch.
    progress('streaming, one at a time');
    const streams = QUICK ? 30 : 100;
    const st = [];
    for (const t of all) st.push(await streaming(t, mock, streams, 20, 2));
    fig('stream TTFT p50', { unit: 'ms', direct: pct(st[0].ttft, 50), relay: pct(st[1].ttft, 50), portkey: pct(st[2].ttft, 50) });
    fig('stream TTFT p99', { unit: 'ms', direct: pct(st[0].ttft, 99), relay: pct(st[1].ttft, 99), portkey: pct(st[2].ttft, 99) });
    fig('chunk latency p50', { unit: 'ms', direct: pct(st[0].chunkLat, 50), relay: pct(st[1].chunkLat, 50), portkey: pct(st[2].chunkLat, 50) });
    fig('chunk latency p99', { unit: 'ms', direct: pct(st[0].chunkLat, 99), relay: pct(st[1].chunkLat, 99), portkey: pct(st[2].chunkLat, 99) });
    fig('inter-chunk gap stretch p99', { unit: 'ms', direct: pct(st[0].stretch, 99), relay: pct(st[1].stretch, 99), portkey: pct(st[2].stretch, 99) });

    // 5. 512 concurrent streams, every frame checked.
    progress('512 concurrent streams');
    const conc = await concurrentStreams(viaRelay, mock, 512, 20, 10);
    const concPeer = await concurrentStreams(viaPeer, mock, 512, 20, 10);
    const concOk = (c: typeof conc) => c.failed === 0 && c.lost === 0 && c.merged === 0 && c.disordered === 0 && c.notDone === 0 && c.badFrames === 0;
    json.concurrentStreams = { relay: conc, portkey: concPeer };

    // Memory after the load above.
    await sleep(1000);
    const [rssAfter, peerAfter] = [relay.rssMb(), peer.rssMb()];
    sampling = false;
    fig('RSS at start', { unit: 'MB', relay: rssStart[0], portkey: rssStart[1] });
    fig('RSS idle (after warm-up)', { unit: 'MB', relay: rssIdle, portkey: peerIdle });
    fig('RSS after load', { unit: 'MB', relay: rssAfter, portkey: peerAfter });
    fig('RSS peak under load', { unit: 'MB', relay: rssPeak, portkey: peerPeak });
    await peer.stop();

    // 6. Backpressure: clients that read nothing while their upstream streams ~600 KB each.
    progress('slow clients (backpressure)');
    const SLOW = 150;
    await idleRss([relay], QUICK ? 3 : 6);
    const bpBase = relay.rssMb();
    let bpPeak = bpBase;
    const bpSampler = setInterval(() => (bpPeak = Math.max(bpPeak, relay.rssMb())), 50);
    const closeSlow = await stalledClients(relay.url, '/v1/chat/completions', viaRelay.headers, 'mock/m', SLOW, 300, 2000);
    await sleep(QUICK ? 2000 : 4000);
    const normal = await sequential(viaRelay, 50); // a normal client meanwhile
    await sleep(1000);
    clearInterval(bpSampler);
    closeSlow();
    const bpRise = bpPeak - bpBase;
    json.backpressure = { clients: SLOW, bytesEach: 300 * 2000, baseMb: bpBase, peakMb: bpPeak, riseMb: bpRise, normalClientP50Ms: pct(normal, 50), normalClientMaxMs: Math.max(...normal) };
    fig('slow clients: RSS rise', { unit: 'MB', relay: bpRise });
    fig('slow clients: a normal request meanwhile, p50', { unit: 'ms', direct: p('direct', 50), relay: pct(normal, 50) });

    // 7. Streaming soak at 32 connections.
    progress(`streaming soak, 32 connections, ${SOAK_S} s`);
    await sleep(2000);
    const soakSamples: number[] = [];
    const soakRes = await soak(viaRelay, mock, 32, SOAK_S * 1000, () => soakSamples.push(relay.rssMb()));
    const settle = Math.max(5, Math.round(SOAK_S / 10)); // the first 10% (at least 5 s) fill the young generation and pools
    const soakStart = soakSamples[Math.min(settle, soakSamples.length - 1) - 1] ?? NaN;
    const soakEnd = soakSamples[soakSamples.length - 1] ?? NaN;
    const soakGrowth = soakEnd / soakStart - 1;
    json.soak = { seconds: SOAK_S, connections: 32, streams: soakRes.streams, failed: soakRes.failed, startMb: soakStart, startAtS: settle, endMb: soakEnd, growth: soakGrowth, samplesMb: soakSamples.map(r1) };
    fig(`soak ${SOAK_S} s: RSS at ${settle} s`, { unit: 'MB', relay: soakStart });
    fig(`soak ${SOAK_S} s: RSS at end`, { unit: 'MB', relay: soakEnd });
    await relay.stop();

    // 8. Idle RSS with node's default V8 flags, to decide whether the serve flags earn their place.
    let rssIdleDefaults = NaN;
    if (NODE_FLAGS.length) {
      progress('idle RSS with node defaults');
      const plain = await startRelay(mock.url, []);
      const t = target('relay-defaults', plain.url, '/v1/chat/completions', viaRelay.headers, 'mock/m', 4);
      try {
        await sequential(t, QUICK ? 200 : 1000);
        for (let i = 0; i < 20; i++) await streamOnce(t, mock, 5, 0);
        [rssIdleDefaults] = await idleRss([plain]);
      } finally {
        await t.pool.close();
        await plain.stop();
      }
      fig('RSS idle with node defaults (no V8 flags)', { unit: 'MB', relay: rssIdleDefaults });
    }

    const added = (name: string) => figures[name].relay - figures[name].direct!;
    const ms = (x: number) => `${r3(x)} ms`;
    const goals: Goal[] = [
      { target: 'throughput at 32 connections, relay ÷ peer', wanted: '≥ 3×, 0 errors', reached: `${r2(tp[1].rps / tp[2].rps)}× (${Math.round(tp[1].rps)} vs ${Math.round(tp[2].rps)} req/s, ${tp[1].errors} errors)`, met: tp[1].rps >= 3 * tp[2].rps && tp[1].errors === 0 },
      { target: 'added latency c=1, p50', wanted: '≤ 0.5 ms', reached: ms(added('c=1 latency p50')), met: added('c=1 latency p50') <= 0.5 },
      { target: 'added latency c=1, p99', wanted: '≤ 1.5 ms', reached: ms(added('c=1 latency p99')), met: added('c=1 latency p99') <= 1.5 },
      { target: 'added latency at a steady 1,000 req/s, p99', wanted: '≤ 3 ms', reached: ms(added('1000 req/s p99')), met: added('1000 req/s p99') <= 3 },
      { target: 'added time to first token, p50', wanted: '≤ 0.5 ms', reached: ms(added('stream TTFT p50')), met: added('stream TTFT p50') <= 0.5 },
      { target: 'added inter-chunk gap, p99', wanted: '≤ 0.1 ms', reached: ms(added('inter-chunk gap stretch p99')), met: added('inter-chunk gap stretch p99') <= 0.1 },
      { target: '512 concurrent streams × 20 frames', wanted: 'none lost or merged', reached: `${512 * 20 - conc.lost} ok, lost ${conc.lost}, merged ${conc.merged}, out of order ${conc.disordered}, failed ${conc.failed}`, met: concOk(conc) },
      { target: 'RSS idle after start and warm-up', wanted: '≤ 80 MB', reached: `${r1(rssIdle)} MB`, met: rssIdle <= 80 },
      { target: 'RSS after load', wanted: '≤ 120 MB', reached: `${r1(rssAfter)} MB (peak ${r1(rssPeak)})`, met: rssAfter <= 120 },
      { target: `streaming soak, 32 connections, ${SOAK_S} s`, wanted: 'RSS growth ≤ 5%', reached: `${r1(soakStart)} → ${r1(soakEnd)} MB (${r1(soakGrowth * 100)}%), ${soakRes.streams} streams, ${soakRes.failed} failed`, met: soakGrowth <= 0.05 && soakRes.failed === 0 },
      { target: `${SLOW} clients reading nothing, ~600 KB each`, wanted: 'RSS rise ≤ ~30 MB', reached: `+${r1(bpRise)} MB (normal request meanwhile: p50 ${ms(pct(normal, 50))})`, met: bpRise <= 30 },
    ];
    if (SOAK_S < 120) goals[9].target += ' (short run; the target is 2 min)';
    json.figures = figures;
    json.nodeFlags = NODE_FLAGS;
    json.goals = goals;
    return { figures: { name: 'relay and Portkey vs the direct call (same run, same mock upstream)', rows, json: figures }, goals, json };
  } finally {
    clearInterval(sampler);
    for (const t of all) await t.pool.close().catch(() => undefined);
    await relay.stop();
    await peer.stop();
    await mock.close();
  }
}

async function runSections(): Promise<Section[]> {
  const out: Section[] = [];
  const dir = join(root, 'test', 'bench', 'sections');
  for (const f of readdirSync(dir).filter((n) => /\.ts$/.test(n)).sort()) {
    try {
      progress(`section ${f}`);
      const mod = (await import(pathToFileURL(join(dir, f)).href)) as { run?: () => Promise<Section> };
      if (typeof mod.run !== 'function') continue;
      const s = await mod.run();
      out.push(s);
      process.stdout.write(`${sectionText(s)}\n\n`);
    } catch (e) {
      const s: Section = { name: `section ${f}`, rows: [{ error: String((e as Error)?.message ?? e).slice(0, 200) }], json: { error: String(e) } };
      out.push(s);
      process.stdout.write(`${sectionText(s)}\n\n`);
    }
  }
  return out;
}

export function machine(): Record<string, unknown> {
  return { node: process.version, os: `${platform()} ${release()}`, cpus: cpus().length, cpu: cpus()[0]?.model?.trim(), memGb: Math.round(totalmem() / 2 ** 30), host: hostname() };
}

async function main(): Promise<void> {
  const env = { ...machine(), quick: QUICK, soakSeconds: SOAK_S, relayNodeFlags: NODE_FLAGS, peer: `@portkey-ai/gateway ${JSON.parse(readFileSync(join(root, 'node_modules', '@portkey-ai', 'gateway', 'package.json'), 'utf8')).version}` };
  const g = await gatewaySection();
  process.stdout.write(`${sectionText(g.figures)}\n\n`);
  const goalRows: Row[] = g.goals.map((x) => ({ target: x.target, wanted: x.wanted, reached: x.reached, met: x.met ? 'yes' : 'NO' }));
  process.stdout.write(`## targets (relay, default configuration)\n${pipeTable(goalRows)}\n\n`);
  const sections = SECTIONS ? await runSections() : [];
  const doc = {
    at: new Date().toISOString(),
    env,
    targets: g.goals,
    figures: { name: g.figures.name, rows: g.figures.rows, json: g.json },
    sections: sections.map((s) => ({ name: s.name, rows: s.rows, json: s.json })),
  };
  mkdirSync(join(root, 'test-artifacts'), { recursive: true });
  writeFileSync(join(root, 'test-artifacts', 'bench.json'), `${JSON.stringify(doc, null, 2)}\n`);
  progress('wrote test-artifacts/bench.json (npm run bench:readme puts it into README.md)');
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
});
