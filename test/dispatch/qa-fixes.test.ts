/**
 * QA findings at the dispatcher level: metric labels from client input, queued counts that include
 * pool slot waits, unique live-request ids, /healthz per-instance serving state, provider names in
 * mid-stream upstream errors.
 */
import { describe, expect, it } from 'vitest';
import type { ChatEvent, ChatRequest } from '../../src-main/core/chat/model';
import { LiveTracker } from '../../src-main/core/admin/live';
import { ChunkReader } from '../../src-main/core/backends/openai/translate';
import { EventHub, type LiveRequest } from '../../src-main/core/events';
import { createAdmission } from '../../src-main/core/dispatch/admission';
import { healthzBody } from '../../src-main/core/gateway/build';
import { createDispatcher } from '../../src-main/core/dispatch/dispatcher';
import { liveRequests } from '../../src-main/core/dispatch/observers';
import { Metrics, requestMetrics, safeLabel } from '../../src-main/core/gateway/metrics';
import type { RequestContext } from '../../src-main/core/dispatch/types';
import { createPool } from '../../src-main/core/pool/pool';
import { createResolver, type AliasesConfig } from '../../src-main/core/routing/aliases';
import { createHealthCache } from '../../src-main/core/routing/health';
import { answer, fakeInstance, fakeProvider, hang, silentLog, type FakeProvider } from './fakes';

function setup(providers: FakeProvider[], aliases?: AliasesConfig) {
  const metrics = new Metrics();
  const hub = new EventHub();
  const health = createHealthCache({ failureThreshold: 1, baseBackoffMs: 60_000, maxBackoffMs: 60_000 });
  const pool = createPool({ health, metrics });
  const admission = createAdmission({ maxInFlight: 8, queueTimeoutMs: 5_000, perKeyConcurrency: 8, perKeyQueue: 8 }, metrics);
  const dispatcher = createDispatcher({
    resolver: createResolver({ providers: () => providers, aliases }),
    providers: () => providers,
    pool,
    admission,
    health,
    observers: [requestMetrics(metrics), liveRequests(hub)],
    limits: { maxSwitches: 3, firstByteTimeoutMs: 10_000, queueTimeoutMs: 10_000 },
    log: silentLog,
  });
  const ctx = (requestId: string, signal = new AbortController().signal): RequestContext => ({
    requestId, caller: { keyId: 'key1' }, protocol: 'openai-chat', endpoint: '/v1/chat/completions',
    signal, receivedAt: Date.now(), log: silentLog,
  });
  return { dispatcher, metrics, hub, health, pool, admission, ctx };
}

const req = (model: string): ChatRequest => ({ model, stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });

async function drain(events: AsyncIterable<ChatEvent>): Promise<void> {
  for await (const _ of events) void _;
}

const waitFor = async (cond: () => boolean, what: string, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('metric labels from client input', () => {
  it('labels unknown models as (unresolved), patterns by their name, and strips control characters', async () => {
    const p = fakeProvider('pa', { models: ['m'] });
    const { dispatcher, metrics, ctx } = setup([p], { 'gpt-*': { chain: ['pa/m'] } });
    for (let i = 0; i < 30; i++) {
      await dispatcher.execute(req(`nope-${i}-${Math.random()}`), ctx(`r${i}`)).then(
        () => expect.fail('should be 404'),
        (e) => expect(e.status).toBe(404),
      );
    }
    await dispatcher.execute(req(`bad\u0000name\n${'x'.repeat(5000)}`), ctx('nul')).catch(() => undefined);
    // A pattern accepts any string: the label is the pattern's own name.
    for (let i = 0; i < 5; i++) await drain((await dispatcher.execute(req(`gpt-${i}-random`), ctx(`g${i}`))).events);
    await drain((await dispatcher.execute(req('pa/m'), ctx('direct'))).events);
    // Case variants of a real name collapse into its canonical label.
    await drain((await dispatcher.execute(req('pa/M'), ctx('upper'))).events);
    await drain((await dispatcher.execute(req('M'), ctx('bare'))).events);

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

describe('queued counts', () => {
  it('counts calls waiting for a busy instance slot in relay_queued and admission stats', async () => {
    const inst = fakeInstance('l1', 'pa', { maxConcurrency: 1, behaviour: hang() });
    const p = fakeProvider('pa', { models: ['m'], instances: [inst] });
    const { dispatcher, metrics, pool, admission, ctx } = setup([p]);
    const ctrls = [0, 1, 2].map(() => new AbortController());
    const runs = ctrls.map((c, i) => dispatcher.execute(req('pa/m'), ctx(`q${i}`, c.signal)).catch((e) => e));
    await waitFor(() => pool.waiting() === 2, 'two pool waiters');
    expect((await metrics.queued.get()).values[0].value).toBe(2);
    expect(admission.stats().queued).toBe(2);
    for (const c of ctrls) c.abort();
    await Promise.all(runs);
    await waitFor(() => pool.waiting() === 0 && pool.totalInFlight() === 0, 'the pool to empty');
    expect((await metrics.queued.get()).values[0].value).toBe(0);
    expect(admission.stats().queued).toBe(0);
  });
});

describe('live request ids', () => {
  it('gives every request a unique id even when clients reuse x-request-id, and the tracker keeps both', async () => {
    const inst = fakeInstance('a1', 'pa', { behaviour: hang() });
    const p = fakeProvider('pa', { models: ['m'], instances: [inst] });
    const { dispatcher, hub, ctx } = setup([p]);
    const tracker = new LiveTracker(hub);
    const started: LiveRequest[] = [];
    hub.on('requestStart', (r) => started.push(r));
    const c = new AbortController();
    const runs = [dispatcher.execute(req('pa/m'), ctx('same', c.signal)).catch((e) => e), dispatcher.execute(req('pa/m'), ctx('same', c.signal)).catch((e) => e)];
    await waitFor(() => started.length === 2, 'two starts');
    expect(started[0].id).toBeTruthy();
    expect(started[0].id).not.toBe(started[1].id);
    expect(started.map((s) => s.requestId)).toEqual(['same', 'same']);
    expect(tracker.live.size).toBe(2);
    c.abort();
    await Promise.all(runs);
    expect(tracker.live.size).toBe(0);
    tracker.close();
  });
});

describe('/healthz body', () => {
  it('counts an instance as serving only when ready, logged in (or no login) and healthy', () => {
    const ok = fakeInstance('ok-1', 'good');
    const loggedOut = fakeInstance('lingma-1', 'lingma');
    loggedOut.snapshot = () => ({ name: 'lingma-1', provider: 'lingma', kind: 'lingma', state: 'ready', login: { state: 'logged_out' }, restarts: 0 });
    const sick = fakeInstance('ollama', 'ollama');
    const health = (n: string) => (n === 'ollama' ? { healthy: false, lastError: 'Cannot reach ollama (connection refused).' } : { healthy: true });

    const down = healthzBody([fakeProvider('lingma', { instances: [loggedOut] }), fakeProvider('ollama', { instances: [sick] })], undefined, Date.now(), undefined, health);
    expect(down.ok).toBe(false);
    expect(down.reason).toMatch(/^no backend can serve: lingma-1 needs login; ollama unhealthy \(Cannot reach ollama \(connection refused\)\.\)$/);
    expect(down.instances).toEqual([
      {
        name: 'lingma-1', provider: 'lingma', state: 'ready', login: 'logged_out', healthy: true, serving: false, status: 'needs_person', reason: 'lingma-1 needs login', inFlight: 0,
        display: { kind: 'needs_person', label: 'Needs a person', detail: 'not signed in', process: 'process ready · signed out', action: 'sign_in' },
      },
      {
        name: 'ollama', provider: 'ollama', state: 'ready', login: 'not_applicable', healthy: false, serving: false, status: 'cooling_down',
        reason: 'ollama unhealthy (Cannot reach ollama (connection refused).)', inFlight: 0,
        display: {
          kind: 'cooling_down', label: 'Cooling down', detail: 'recent requests failed; retried after the cool-down', process: 'process ready',
          action: 'clear_cooldown', lastError: { text: 'Cannot reach ollama (connection refused).' },
        },
      },
    ]);

    const up = healthzBody([fakeProvider('lingma', { instances: [loggedOut] }), fakeProvider('good', { instances: [ok] })], () => 2, Date.now(), '1.0.0', health);
    expect(up.ok).toBe(true);
    expect(up.reason).toBeUndefined();
    expect(up.instances[1]).toMatchObject({ name: 'ok-1', serving: true, inFlight: 2 });

    const starting = fakeInstance('s1', 'p', { state: 'starting' });
    expect(healthzBody([fakeProvider('p', { instances: [starting] })], undefined, Date.now()).reason).toBe('no backend can serve: s1 is starting');
    expect(healthzBody([], undefined, Date.now()).reason).toMatch(/no backends configured/);
  });

  it('dispatcher exposes the health cache view and model resolution', () => {
    const p = fakeProvider('pa', { models: ['m'] });
    const { dispatcher, health } = setup([p]);
    health.recordFailure('pa-1', Object.assign(new Error('x'), { code: 'upstream_error', status: 502, message: 'boom' }) as never);
    expect(dispatcher.instanceHealth?.('pa-1').healthy).toBe(false);
    expect(dispatcher.resolveModel?.('pa/m').targets[0].label).toBe('pa/m');
    expect(() => dispatcher.resolveModel?.('nope')).toThrow(/nope/);
  });
});

describe('mid-stream upstream errors', () => {
  it('name the provider', () => {
    const r = new ChunkReader('ollama', ['sk-secret-123456789']);
    expect(() => r.read({ error: { message: 'fake mid-stream failure with sk-secret-123456789' } }, [])).toThrow(/^ollama: fake mid-stream failure/);
    try {
      r.read({ error: { message: 'bad sk-secret-123456789' } }, []);
    } catch (e) {
      expect((e as Error).message).not.toContain('sk-secret-123456789');
    }
  });
});
