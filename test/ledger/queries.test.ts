import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLedger, type Ledger } from '../../src-main/core/ledger/index';
import { csvField } from '../../src-main/core/ledger/csv';
import { percentiles, spans } from '../../src-main/core/ledger/plan';
import type { UsageRecord } from '../../src-main/core/ledger/types';
import { DAY, HOUR, ledgerConfig, rec, silent, tempDir, type TempDir } from './helpers';

// A fixed day (UTC) in the past with hand-made traffic.
const D0 = Date.UTC(2026, 0, 5);
let dir: TempDir;
let ledger: Ledger;
const records: UsageRecord[] = [];

beforeAll(async () => {
  dir = tempDir();
  ledger = createLedger({
    dbPath: dir.path(), log: silent,
    // D0 lies in the past: the background retention (a minute after start) must not delete it
    // while this file is still running on a slow machine.
    config: ledgerConfig({ retentionDays: 36_500, prices: { 'lingma/*': { input: 0, output: 0 }, 'openrouter/gpt-5': { input: 2, output: 10 } } }),
  });
  // Model A (lingma/qwen3-coder, lingma-a): totals 100..1000 step 100, ttft 10..100; 10 successes at 01:00-01:09.
  for (let i = 1; i <= 10; i++) {
    records.push(rec({ requestId: `a${i}`, receivedAt: D0 + HOUR + i * 60_000, totalMs: i * 100, ttftMs: i * 10, promptTokens: 100, completionTokens: 10, apiKeyId: 'k1' }));
  }
  // Model A errors (excluded from percentiles): 2 × 502 at 01:30.
  for (let i = 1; i <= 2; i++) {
    records.push(rec({ requestId: `ae${i}`, receivedAt: D0 + HOUR + 30 * 60_000 + i, status: 502, errorType: 'upstream_error', totalMs: 99_999, ttftMs: undefined, promptTokens: undefined, completionTokens: undefined, apiKeyId: 'k2' }));
  }
  // Model B (openrouter/gpt-5): 3 successes at 05:00, 5:20, 26:00 (next day), one cancelled.
  records.push(rec({ requestId: 'b1', receivedAt: D0 + 5 * HOUR, provider: 'openrouter', instance: 'openrouter', model: 'gpt-5', totalMs: 2000, ttftMs: 300, promptTokens: 1000, completionTokens: 100, apiKeyId: 'k2' }));
  records.push(rec({ requestId: 'b2', receivedAt: D0 + 5 * HOUR + 20 * 60_000, provider: 'openrouter', instance: 'openrouter', model: 'gpt-5', totalMs: 4000, ttftMs: undefined, promptTokens: 500, completionTokens: 50, apiKeyId: 'k2', userAgent: 'evil, "quoted"\nline' }));
  records.push(rec({ requestId: 'b3', receivedAt: D0 + 26 * HOUR, provider: 'openrouter', instance: 'openrouter', model: 'gpt-5', totalMs: 1000, ttftMs: 200, promptTokens: 10, completionTokens: 1, apiKeyId: 'k1', userAgent: '=HYPERLINK("x")' }));
  records.push(rec({ requestId: 'b4', receivedAt: D0 + 26 * HOUR + 1, provider: 'openrouter', instance: 'openrouter', model: 'gpt-5', status: 499, errorType: 'client_closed', totalMs: 50, promptTokens: undefined, completionTokens: undefined, apiKeyId: 'k1' }));
  // Never resolved.
  records.push(rec({ requestId: 'x1', receivedAt: D0 + 26 * HOUR + 2, requestedModel: 'ghost', alias: undefined, provider: undefined, instance: undefined, model: undefined, status: 404, totalMs: 1, ttftMs: undefined, promptTokens: undefined, completionTokens: undefined }));
  for (const r of records) ledger.record(r);
  await ledger.flush();
});

afterAll(async () => {
  await ledger.close();
  dir.cleanup();
});

describe('aggregates', () => {
  it('totals grouped by model over two days match hand-computed values', async () => {
    const t = (await ledger.totals({ from: D0, to: D0 + 2 * DAY, group: 'model' }));
    expect(t.total).toMatchObject({ requests: 17, errors: 4, promptTokens: 10 * 100 + 1510, completionTokens: 10 * 10 + 151 });
    const a = t.rows.find((r) => r.key === 'lingma/qwen3-coder')!;
    expect(a).toMatchObject({ requests: 12, errors: 2, promptTokens: 1000, completionTokens: 100, costUsd: 0 });
    expect(a.avgTotalMs).toBeCloseTo((5500 + 2 * 99_999) / 12, 1);
    const b = t.rows.find((r) => r.key === 'openrouter/gpt-5')!;
    expect(b).toMatchObject({ requests: 4, errors: 1, promptTokens: 1510, completionTokens: 151 });
    expect(b.costUsd).toBeCloseTo((1510 * 2 + 151 * 10) / 1e6, 9);
    const ghost = t.rows.find((r) => r.key === 'ghost')!;
    expect(ghost).toMatchObject({ requests: 1, errors: 1, costUsd: null }); // unknown price stays null
    expect(t.rows[0].key).toBe('lingma/qwen3-coder'); // most requests first
  });

  it('groups by provider, instance, key and status; filters narrow', async () => {
    const byStatus = (await ledger.totals({ from: D0, to: D0 + 2 * DAY, group: 'status' }));
    expect(Object.fromEntries(byStatus.rows.map((r) => [r.key, r.requests]))).toEqual({ '200': 13, '502': 2, '499': 1, '404': 1 });
    const byKey = (await ledger.totals({ from: D0, to: D0 + 2 * DAY, group: 'key' }));
    expect(Object.fromEntries(byKey.rows.map((r) => [r.key, r.requests]))).toEqual({ k1: 12, k2: 4, key1: 1 });
    const byProvider = (await ledger.totals({ from: D0, to: D0 + 2 * DAY, group: 'provider' }));
    expect(Object.fromEntries(byProvider.rows.map((r) => [String(r.key), r.requests]))).toEqual({ lingma: 12, openrouter: 4, null: 1 });
    const byInstance = (await ledger.totals({ from: D0, to: D0 + 2 * DAY, group: 'instance', status: 'error' }));
    expect(Object.fromEntries(byInstance.rows.map((r) => [String(r.key), r.requests]))).toEqual({ 'lingma-a': 2, openrouter: 1, null: 1 });
    expect((await ledger.totals({ from: D0, to: D0 + 2 * DAY, model: 'openrouter/gpt-5', key: 'k1' })).total.requests).toBe(2);
    expect((await ledger.totals({ from: D0, to: D0 + 2 * DAY, status: '5xx' })).total.requests).toBe(2);
    expect((await ledger.totals({ from: D0, to: D0 + 2 * DAY, status: 'ok' })).total.requests).toBe(13);
  });

  it('unaligned ranges (raw edges + hourly + daily rollups) equal a brute-force count', async () => {
    const cases: Array<[number, number]> = [
      [D0 + HOUR + 3 * 60_000 + 1, D0 + 26 * HOUR + 2], // partial hour at both ends, spans midnight
      [D0 + HOUR + 5 * 60_000, D0 + HOUR + 8 * 60_000], // within one hour
      [D0 - 3 * DAY + 17, D0 + 5 * DAY - 5], // whole days in the middle
      [D0 + 5 * HOUR, D0 + 5 * HOUR + 20 * 60_000], // end-exclusive: b2 not included
    ];
    for (const [from, to] of cases) {
      const inRange = records.filter((r) => r.receivedAt >= from && r.receivedAt < to);
      const t = (await ledger.totals({ from, to, group: 'model' }));
      expect(t.total.requests, `${from}-${to}`).toBe(inRange.length);
      expect(t.total.promptTokens).toBe(inRange.reduce((s, r) => s + (r.promptTokens ?? 0), 0));
    }
    expect(spans(D0 - 3 * DAY + 17, D0 + 5 * DAY - 5, true).map((s) => s.table)).toEqual(['usage', 'usage_hourly', 'usage_daily', 'usage_hourly', 'usage']);
  });

  it('series by hour and by day, grouped', async () => {
    const h = (await ledger.series({ from: D0, to: D0 + 2 * DAY, bucket: 'hour' }));
    expect(h.points.map((p) => [(p.t - D0) / HOUR, p.requests])).toEqual([[1, 12], [5, 2], [26, 3]]);
    const d = (await ledger.series({ from: D0 - DAY, to: D0 + 3 * DAY, bucket: 'day', group: 'model' }));
    expect(d.points.map((p) => [(p.t - D0) / DAY, p.key, p.requests])).toEqual([
      [0, 'lingma/qwen3-coder', 12], [0, 'openrouter/gpt-5', 2], [1, 'ghost', 1], [1, 'openrouter/gpt-5', 2],
    ]);
  });

  it('latency percentiles per model (nearest rank, successes only) match hand-computed values', async () => {
    const l = (await ledger.latency({ from: D0, to: D0 + 2 * DAY }));
    const a = l.rows.find((r) => r.model === 'lingma/qwen3-coder')!;
    // totals 100..1000: p50 = rank 5 → 500, p90 = rank 9 → 900, p99 = rank 10 → 1000
    expect(a.total).toEqual({ count: 10, p50: 500, p90: 900, p99: 1000 });
    expect(a.ttft).toEqual({ count: 10, p50: 50, p90: 90, p99: 100 });
    const b = l.rows.find((r) => r.model === 'openrouter/gpt-5')!;
    // totals 1000, 2000, 4000 (the 499 is excluded): ranks 2, 3, 3; ttft only where known: 200, 300
    expect(b.total).toEqual({ count: 3, p50: 2000, p90: 4000, p99: 4000 });
    expect(b.ttft).toEqual({ count: 2, p50: 200, p90: 300, p99: 300 });
    expect(l.rows.find((r) => r.model === 'ghost')).toBeUndefined();
    expect(percentiles([])).toEqual({ count: 0, p50: null, p90: null, p99: null });
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(hundred)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99 });
  });
});

describe('recent', () => {
  it('newest first with filters and a before-cursor', async () => {
    const first = (await ledger.recent({ limit: 5 }));
    expect(first.rows.map((r) => r.requestId)).toEqual(['x1', 'b4', 'b3', 'b2', 'b1']);
    expect(first.nextBefore).toBe(first.rows[4].id);
    const next = (await ledger.recent({ limit: 5, before: first.nextBefore! }));
    expect(next.rows.map((r) => r.requestId)).toEqual(['ae2', 'ae1', 'a10', 'a9', 'a8']);
    expect((await ledger.recent({ status: '502' })).rows.map((r) => r.requestId)).toEqual(['ae2', 'ae1']);
    expect((await ledger.recent({ model: 'openrouter/gpt-5', status: 'ok' })).rows.map((r) => r.requestId)).toEqual(['b3', 'b2', 'b1']);
    expect((await ledger.recent({ instance: 'lingma-a', limit: 3 })).rows).toHaveLength(3);
    const one = (await ledger.recent({ requestId: 'b2' }));
    expect(one.rows).toHaveLength(1);
    expect(one.rows[0]).toMatchObject({ requestId: 'b2', userAgent: 'evil, "quoted"\nline', stream: true, ttftMs: undefined });
    expect(one.nextBefore).toBeNull();
  });
});

describe('CSV export', () => {
  it('header row, one line per row, proper escaping, formula-safe text', async () => {
    let csv = '';
    for await (const chunk of ledger.exportCsv({ from: D0 + 5 * HOUR, to: D0 + 2 * DAY })) csv += chunk;
    const lines = csv.split('\r\n');
    expect(lines[0]).toMatch(/^id,request_id,received_at,/);
    expect(csv).toContain('"evil, ""quoted""\nline"');
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
    expect(csv).toContain(new Date(D0 + 5 * HOUR).toISOString());
    // b1, b2, b3, b4, x1: 5 rows (+ header, + trailing empty after the last CRLF; b2's quoted newline adds one split)
    expect(csv.match(/^\d+,(b\d|x1),/gm)).toHaveLength(5);
    expect(csvField(null)).toBe('');
    expect(csvField(12.5)).toBe('12.5');
    expect(csvField('-1+1')).toBe("'-1+1");
  });

  it('pages through many rows in id order without missing any', async () => {
    const d = tempDir();
    const l = createLedger({ dbPath: d.path(), log: silent, config: ledgerConfig({ batchSize: 1000 }) });
    const t = D0;
    for (let i = 0; i < 4500; i++) l.record(rec({ requestId: `p${i}`, receivedAt: t + i }));
    await l.flush();
    const ids: string[] = [];
    for await (const chunk of l.exportCsv({ from: t + 100, to: t + 4400 })) {
      for (const line of chunk.split('\r\n')) if (/^\d/.test(line)) ids.push(line.split(',')[1]);
    }
    expect(ids.length).toBe(4300);
    expect(ids[0]).toBe('p100');
    expect(ids[4299]).toBe('p4399');
    await l.close();
    d.cleanup();
  });
});

describe('indexes', () => {
  it('the usage queries use indexes, not table scans', async () => {
    const db = new Database(dir.path(), { readonly: true });
    const plan = (sql: string): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>).map((r) => r.detail).join(' | ');
    expect(plan('SELECT label, total_ms, ttft_ms FROM usage WHERE received_at >= 1 AND received_at < 2 AND status < 400')).toMatch(/COVERING INDEX usage_range/);
    expect(plan('SELECT * FROM usage WHERE request_id = 1')).toMatch(/INDEX usage_request_id/);
    expect(plan('SELECT * FROM usage WHERE status = 502 ORDER BY id DESC LIMIT 5')).toMatch(/INDEX usage_status_id/);
    expect(plan('SELECT SUM(requests) FROM usage_daily WHERE t >= 1 AND t < 2')).toMatch(/SEARCH usage_daily USING PRIMARY KEY/);
    db.close();
  });
});

describe('percentiles over long ranges (daily histograms)', () => {
  it('bucket midpoints stay within 1.6% and buckets are monotonic', async () => {
    const { bucketOf, bucketValue } = await import('../../src-main/core/ledger/histogram');
    // Checked in plain code, the first offence asserted once: 86k expect() calls cost ~10 s of CPU.
    let prev = -1;
    const offences: string[] = [];
    for (let v = 0; v < 300_000 && offences.length === 0; v += 7) {
      const b = bucketOf(v);
      if (!(b >= prev)) offences.push(`bucketOf(${v}) = ${b} < ${prev}`);
      prev = b;
      if (!(Math.abs(bucketValue(b) - v) <= Math.max(0, v * 0.0157))) offences.push(`bucketValue(bucketOf(${v})) = ${bucketValue(b)}`);
    }
    expect(offences).toEqual([]);
  });

  it('approximate percentiles from histograms + raw edge days agree with the exact ones', async () => {
    const d = tempDir();
    const approx = createLedger({ dbPath: d.path(), log: silent, config: ledgerConfig({ batchSize: 500 }), exactPercentileRows: 10 });
    let x = 12345;
    const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const start = D0 + 7 * HOUR; // partial first day
    for (let i = 0; i < 3000; i++) {
      const model = i % 3 ? 'qwen3-coder' : 'kimi-k2';
      approx.record(rec({ receivedAt: start + i * 100_000, model, totalMs: Math.round(50 + rand() * rand() * 30_000), ttftMs: Math.round(20 + rand() * 2000) }));
    }
    await approx.flush();
    const range = { from: start, to: start + 3000 * 100_000 }; // ~3.5 days, partial at both ends
    const a = (await approx.latency(range));
    expect(a.approximate).toBe(true);
    // A filter the histograms do not have (instance) falls back to the exact scan.
    expect((await approx.latency({ ...range, instance: 'lingma-a' })).approximate).toBe(false);
    await approx.close();
    const exact = createLedger({ dbPath: d.path(), log: silent, config: ledgerConfig() });
    const e = (await exact.latency(range));
    expect(e.approximate).toBe(false);
    expect(a.rows.map((r) => r.model)).toEqual(e.rows.map((r) => r.model));
    for (const [i, row] of a.rows.entries()) {
      const ex = e.rows[i];
      expect(row.total.count).toBe(ex.total.count);
      expect(row.ttft.count).toBe(ex.ttft.count);
      for (const p of ['p50', 'p90', 'p99'] as const) {
        expect(Math.abs(row.total[p]! - ex.total[p]!)).toBeLessThanOrEqual(ex.total[p]! * 0.016 + 1);
        expect(Math.abs(row.ttft[p]! - ex.ttft[p]!)).toBeLessThanOrEqual(ex.ttft[p]! * 0.016 + 1);
      }
    }
    await exact.close();
    d.cleanup();
  });
});

describe('recent by requested model', () => {
  it('the model filter of the request list also matches the name the client sent', async () => {
    expect((await ledger.recent({ model: 'ghost' })).rows.map((r) => r.requestId)).toEqual(['x1']);
    expect((await ledger.recent({ model: 'coder', limit: 100 })).rows.length).toBe(16); // alias `coder` was requested for all resolved rows
  });
});

describe('recent with several filters (windowed search)', () => {
  it('pages through every match exactly once, newest first', async () => {
    const { UsageQueries } = await import('../../src-main/core/ledger/sqlite/queries');
    const d = tempDir();
    const l = createLedger({ dbPath: d.path(), log: silent, config: ledgerConfig() });
    const all: UsageRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const r = rec({ requestId: `w${i}`, instance: i % 3 ? 'lingma-a' : 'lingma-b', status: i % 7 ? 200 : 502, receivedAt: D0 + i });
      all.push(r);
      l.record(r);
    }
    await l.flush();
    await l.close();
    const db = new Database(d.path(), { readonly: true });
    const q = new UsageQueries(db, undefined, 10); // windows of 10 ids
    const expected = all.filter((r) => r.instance === 'lingma-b' && r.status >= 400).map((r) => r.requestId).reverse();
    const seen: string[] = [];
    let before: number | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = q.recent({ instance: 'lingma-b', status: 'error', limit: 4, before });
      seen.push(...page.rows.map((r) => r.requestId));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    expect(seen).toEqual(expected);
    db.close();
    d.cleanup();
  });
});

describe('series in local time', () => {
  it('day and hour buckets aligned to a UTC offset (whole-hour and half-hour) match a brute-force count', async () => {
    for (const tz of [0, 120, -300, 330, -570]) {
      for (const bucket of ['day', 'hour'] as const) {
        const size = bucket === 'day' ? DAY : HOUR;
        const off = tz * 60_000;
        const from = D0 - DAY + 1234;
        const to = D0 + 3 * DAY - 77;
        const expected = new Map<number, number>();
        for (const r of records) {
          if (r.receivedAt < from || r.receivedAt >= to) continue;
          const b = Math.floor((r.receivedAt + off) / size) * size - off;
          expected.set(b, (expected.get(b) ?? 0) + 1);
        }
        const got = (await ledger.series({ from, to, bucket, tzOffsetMinutes: tz }));
        expect(got.tzOffsetMinutes).toBe(tz);
        expect(got.points.map((p) => [p.t, p.requests]), `tz ${tz} ${bucket}`).toEqual([...expected.entries()].sort((a, b) => a[0] - b[0]));
      }
    }
  });
});
