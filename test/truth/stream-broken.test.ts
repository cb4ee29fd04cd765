/**
 * A stream that broke after its first byte is a failure everywhere it is counted: the outcome
 * (200 with an error), the live hub's end event, `relay_request_errors_total{kind="stream_broken"}`,
 * the ledger's error figures (raw rows and rollups) and its "error" filter; percentiles leave it out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src-main/core/chat/model';
import { createLedger, type Ledger } from '../../src-main/core/ledger/index';
import { rollUp, toRowParams } from '../../src-main/core/ledger/rows';
import { PriceTable } from '../../src-main/core/ledger/prices';
import { isErrorOutcome, requestOutcomeKind } from '../../src-main/core/state-types';
import { answer, breakAfterFirst, fakeInstance, fakeProvider } from '../dispatch/fakes';
import { req, setup } from '../dispatch/setup';
import { HOUR, ledgerConfig, rec, silent, tempDir, type TempDir } from '../ledger/helpers';

describe('requestOutcomeKind', () => {
  it('sorts ok, stream broken and failed', () => {
    expect(requestOutcomeKind(200)).toBe('ok');
    expect(requestOutcomeKind(200, 'upstream_error')).toBe('stream_broken');
    expect(requestOutcomeKind(502, 'upstream_error')).toBe('failed');
    expect(requestOutcomeKind(499, 'client_closed')).toBe('failed');
    expect(isErrorOutcome(200, null)).toBe(false);
    expect(isErrorOutcome(200, 'upstream_error')).toBe(true);
  });
});

describe('a stream broken after its first byte, through the dispatcher', () => {
  it('is recorded as 200 with an error type, ends red on the hub and counts in the error metric', async () => {
    const a1 = fakeInstance('a1', 'pa', { behaviour: breakAfterFirst() });
    const pa = fakeProvider('pa', { models: ['m'], instances: [a1] });
    const t = setup([pa]);
    const ex = await t.dispatcher.execute(req('pa/m'), t.ctx(undefined, 'broken-1'));
    const seen: ChatEvent[] = [];
    await expect((async () => { for await (const ev of ex.events) seen.push(ev); })()).rejects.toMatchObject({ code: 'upstream_error' });
    expect(seen[0]).toEqual({ type: 'text', text: 'partial' });

    await t.dispatcher.observed();
    expect(t.usage).toHaveLength(1);
    expect(t.usage[0]).toMatchObject({ status: 200, errorType: 'upstream_error' });
    expect(requestOutcomeKind(t.usage[0].status, t.usage[0].errorType)).toBe('stream_broken');
    expect(t.ended[0]).toMatchObject({ status: 200, errorCode: 'upstream_error' });

    // A good request next to it is not an error.
    a1.behaviour = answer('fine');
    const ok = await t.dispatcher.execute(req('pa/m'), t.ctx(undefined, 'fine-1'));
    for await (const _ of ok.events) { /* drain */ }
    await t.dispatcher.observed();

    const text = await t.metrics.text();
    const errs = text.split('\n').filter((l) => l.startsWith('relay_request_errors_total{'));
    expect(errs).toEqual(['relay_request_errors_total{model="pa/m",protocol="openai-chat",kind="stream_broken"} 1']);
    expect(text).toContain('relay_requests_total{model="pa/m",protocol="openai-chat",status="200"} 2');
    t.idle();
  });
});

describe('the ledger counts it as an error', () => {
  const D0 = Date.UTC(2026, 1, 3);
  let dir: TempDir;
  let ledger: Ledger;

  beforeAll(async () => {
    dir = tempDir();
    ledger = createLedger({ dbPath: dir.path(), log: silent, config: ledgerConfig({ retentionDays: 36_500 }) });
    ledger.record(rec({ requestId: 'good-0001', receivedAt: D0 + HOUR + 1, totalMs: 100 }));
    ledger.record(rec({ requestId: 'brok-0001', receivedAt: D0 + HOUR + 2, status: 200, errorType: 'upstream_error', totalMs: 90_000 }));
    ledger.record(rec({ requestId: 'fail-0001', receivedAt: D0 + HOUR + 3, status: 502, errorType: 'upstream_error', totalMs: 80_000 }));
    await ledger.flush();
  });
  afterAll(async () => {
    await ledger.close();
    dir.cleanup();
  });

  it('rollups add it to errors', () => {
    const prices = new PriceTable({});
    const rows = [rec({ status: 200 }), rec({ status: 200, errorType: 'upstream_error' }), rec({ status: 500, errorType: 'upstream_error' })]
      .map((r) => toRowParams(r, prices, D0));
    const sums = rollUp(rows, HOUR);
    expect(sums.reduce((n, r) => n + r.errors, 0)).toBe(2);
    expect(sums.reduce((n, r) => n + r.requests, 0)).toBe(3);
  });

  it('totals over raw rows and over rollups both count two errors', async () => {
    // Within one hour: raw rows.
    const raw = await ledger.totals({ from: D0 + HOUR, to: D0 + HOUR + 10 });
    expect(raw.total).toMatchObject({ requests: 3, errors: 2 });
    // Whole hours: the hourly rollup.
    const rolled = await ledger.totals({ from: D0, to: D0 + 3 * HOUR });
    expect(rolled.total).toMatchObject({ requests: 3, errors: 2 });
  });

  it("the request list's error filter finds it, ok leaves it out; percentiles leave it out", async () => {
    expect((await ledger.recent({ status: 'error' })).rows.map((r) => r.requestId).sort()).toEqual(['brok-0001', 'fail-0001']);
    expect((await ledger.recent({ status: 'ok' })).rows.map((r) => r.requestId)).toEqual(['good-0001']);
    const lat = await ledger.latency({ from: D0 + HOUR, to: D0 + HOUR + 10 });
    expect(lat.rows[0].total).toMatchObject({ count: 1, p99: 100 });
  });

  it('request ids match as a prefix (12 characters pasted from the table find the request)', async () => {
    expect((await ledger.recent({ requestId: 'brok-' })).rows.map((r) => r.requestId)).toEqual(['brok-0001']);
    expect((await ledger.recent({ requestId: 'brok-0001' })).rows.map((r) => r.requestId)).toEqual(['brok-0001']);
    expect((await ledger.recent({ requestId: 'rok-' })).rows).toEqual([]);
  });
});
