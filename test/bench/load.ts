/**
 * The bench's load shapes, the same for every target (direct to the mock, through the relay,
 * through the peer): sequential, a fixed rate (open loop), closed loop at N connections,
 * streams (time to first token, per-chunk latency checked against the mock's send times), many
 * concurrent streams with every frame checked, a soak, and clients that read nothing.
 */
import { connect, type Socket } from 'node:net';
import { Pool } from 'undici';
import type { MockUpstream } from './mock-upstream';

export interface Target {
  name: string;
  pool: Pool;
  path: string;
  headers: Record<string, string>;
  model: string;
}

export function target(name: string, origin: string, path: string, headers: Record<string, string>, model: string, connections = 600): Target {
  return { name, pool: new Pool(origin, { connections, keepAliveTimeout: 60_000 }), path, headers, model };
}

export function pct(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = Float64Array.from(values).sort();
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i];
}

const NON_STREAM_BODY = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: 'Say hello.' }] });

export async function once(t: Target, body: string): Promise<number> {
  const t0 = performance.now();
  const res = await t.pool.request({ path: t.path, method: 'POST', headers: t.headers, body });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode}`);
  return performance.now() - t0;
}

export async function sequential(t: Target, n: number): Promise<number[]> {
  const body = NON_STREAM_BODY(t.model);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await once(t, body));
  return out;
}

/** Open loop at a fixed rate: latency counted from the scheduled start. */
export async function fixedRate(t: Target, rps: number, ms: number): Promise<{ lat: number[]; errors: number }> {
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

/** Closed loop: `concurrency` workers, each sending its next request when the last one answered. */
export async function maxRps(t: Target, concurrency: number, ms: number): Promise<{ rps: number; errors: number; count: number }> {
  const body = NON_STREAM_BODY(t.model);
  const end = performance.now() + ms;
  let count = 0;
  let errors = 0;
  const worker = async () => {
    while (performance.now() < end) {
      try {
        await once(t, body);
        count++;
      } catch {
        errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { rps: count / ((performance.now() - t0) / 1000), errors, count };
}

export interface StreamResult {
  id: number;
  ttft: number;
  /** Per content chunk: arrival - upstream write time (ms). */
  chunkLat: number[];
  /** Pieces in arrival order, one entry per SSE frame's content. */
  frames: string[];
  done: boolean;
  badFrames: number;
}

let streamSeq = 0;
export async function streamOnce(t: Target, mock: MockUpstream, n: number, gap: number): Promise<StreamResult> {
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
      const key = m ? `${m[1]}:${m[2]}` : '';
      const sent = m ? mock.sentAt.get(key) : undefined;
      if (sent !== undefined) {
        chunkLat.push(now - sent);
        mock.sentAt.delete(key);
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

export async function streaming(t: Target, mock: MockUpstream, streams: number, n: number, gap: number) {
  const ttft: number[] = [];
  const lats: number[][] = [];
  for (let i = 0; i < streams; i++) {
    const r = await streamOnce(t, mock, n, gap);
    ttft.push(r.ttft);
    lats.push(r.chunkLat);
  }
  return { ttft, chunkLat: lats.flat(), stretch: gapStretch(lats) };
}

export async function concurrentStreams(t: Target, mock: MockUpstream, count: number, n: number, gap: number) {
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
}

/** `concurrency` workers streaming back to back for `ms`; `onTick` every second. */
export async function soak(t: Target, mock: MockUpstream, concurrency: number, ms: number, onTick: () => void): Promise<{ streams: number; failed: number }> {
  const end = performance.now() + ms;
  let streams = 0;
  let failed = 0;
  const timer = setInterval(onTick, 1000);
  const worker = async () => {
    while (performance.now() < end) {
      try {
        const r = await streamOnce(t, mock, 20, 2);
        if (!r.done || r.frames.length !== 20) failed++;
        streams++;
      } catch {
        failed++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    clearInterval(timer);
  }
  return { streams, failed };
}

/**
 * `count` clients that ask for a large streamed answer (`chunks` x ~`pad` bytes) and then read
 * nothing: raw sockets, paused, so the kernel buffers fill and the gateway's writes report full.
 * Returns a closer.
 */
export async function stalledClients(origin: string, path: string, headers: Record<string, string>, model: string, count: number, chunks: number, pad: number): Promise<() => void> {
  const url = new URL(origin);
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const body = JSON.stringify({ model, stream: true, user: `s=${900000 + i};n=${chunks};gap=0;pad=${pad}`, messages: [{ role: 'user', content: 'A long answer, please.' }] });
    const head = [`POST ${path} HTTP/1.1`, `Host: ${url.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), `Content-Length: ${Buffer.byteLength(body)}`, '', ''].join('\r\n');
    const s = connect(Number(url.port), url.hostname);
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.write(head + body);
    s.pause();
    sockets.push(s);
  }
  return () => {
    for (const s of sockets) s.destroy();
  };
}
