/**
 * The request observers a dispatcher feeds (wired in relay.ts): request metrics (labels from client
 * input stay bounded and clean) and live requests on the hub (one unique id per request).
 */
import { describe, expect, it } from 'vitest';
import { LiveTracker } from '../../src-main/core/admin/live';
import type { LiveRequest } from '../../src-main/core/events';
import { safeLabel } from '../../src-main/core/gateway/metrics';
import { fakeInstance, fakeProvider, hang } from './fakes';
import { drain, req, setup, waitFor } from './setup';

describe('request metrics: labels from client input', () => {
  it('labels unknown models as (unresolved), patterns by their name, and strips control characters', async () => {
    const p = fakeProvider('pa', { models: ['m'] });
    const { dispatcher, metrics, ctx } = setup([p], { 'gpt-*': { chain: ['pa/m'] } });
    for (let i = 0; i < 30; i++) {
      await dispatcher.execute(req(`nope-${i}-${Math.random()}`), ctx(undefined, `r${i}`)).then(
        () => expect.fail('should be 404'),
        (e) => expect(e.status).toBe(404),
      );
    }
    await dispatcher.execute(req(`bad\u0000name\n${'x'.repeat(5000)}`), ctx(undefined, 'nul')).catch(() => undefined);
    // A pattern accepts any string: the label is the pattern's own name.
    for (let i = 0; i < 5; i++) await drain((await dispatcher.execute(req(`gpt-${i}-random`), ctx(undefined, `g${i}`))).events);
    await drain((await dispatcher.execute(req('pa/m'), ctx(undefined, 'direct'))).events);
    // Case variants of a real name collapse into its canonical label.
    await drain((await dispatcher.execute(req('pa/M'), ctx(undefined, 'upper'))).events);
    await drain((await dispatcher.execute(req('M'), ctx(undefined, 'bare'))).events);
    await dispatcher.observed();

    const text = await metrics.text();
    expect(text).not.toContain('\u0000');
    expect(text).not.toMatch(/nope-/);
    expect(text).not.toMatch(/gpt-\d-random/);
    expect(text).not.toMatch(/x{200}/);
    const series = text.split('\n').filter((l) => l.startsWith('relay_requests_total{'));
    expect(series).toEqual(
      expect.arrayContaining([
        'relay_requests_total{model="(unresolved)",protocol="openai-chat",status="404"} 31',
        'relay_requests_total{model="gpt-*",protocol="openai-chat",status="200"} 5',
        'relay_requests_total{model="pa/m",protocol="openai-chat",status="200"} 3',
      ]),
    );
    expect(series).toHaveLength(3);
    for (const l of text.split('\n').filter((x) => x.startsWith('relay_request_duration_seconds_count'))) {
      expect(l).toMatch(/model="(\(unresolved\)|pa\/m)"/);
    }
  });

  it('safeLabel removes control characters and caps the length', () => {
    expect(safeLabel('a\u0000b\nc\u007fd')).toBe('abcd');
    expect(safeLabel('y'.repeat(5000)).length).toBeLessThanOrEqual(128);
    expect(safeLabel('\u0000')).toBe('(unresolved)');
  });
});

describe('live requests: ids', () => {
  it('gives every request a unique id even when clients reuse x-request-id, and the tracker keeps both', async () => {
    const inst = fakeInstance('a1', 'pa', { behaviour: hang() });
    const p = fakeProvider('pa', { models: ['m'], instances: [inst] });
    const { dispatcher, hub, ctx } = setup([p]);
    const tracker = new LiveTracker(hub);
    const started: LiveRequest[] = [];
    hub.on('requestStart', (r) => started.push(r));
    const c = new AbortController();
    const runs = [dispatcher.execute(req('pa/m'), ctx(c.signal, 'same')).catch((e) => e), dispatcher.execute(req('pa/m'), ctx(c.signal, 'same')).catch((e) => e)];
    await waitFor(() => started.length === 2, 'two starts');
    expect(started[0].id).toBeTruthy();
    expect(started[0].id).not.toBe(started[1].id);
    expect(started.map((s) => s.requestId)).toEqual(['same', 'same']);
    expect(tracker.live.size).toBe(2);
    c.abort();
    await Promise.all(runs);
    await dispatcher.observed();
    expect(tracker.live.size).toBe(0);
    tracker.close();
  });
});
