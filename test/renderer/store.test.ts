import { describe, expect, it, vi } from 'vitest';
import { MAX_COUNTERS, MAX_FINISHED, MAX_LOGS, reduce, refreshSnapshot, useDash, type LiveData } from '../../src-renderer/store';
import type { AdminClient } from '../../src-renderer/api/client';
import type { AdminSnapshot } from '../../src-main/core/admin/api-types';
import { instance, snapshot } from './fixtures';

const base = (): LiveData => reduce({ finished: [], stale: false }, { type: 'snapshot', snapshot: snapshot() });
const req = (id: string, extra = {}) => ({ id: `live-${id}`, requestId: id, protocol: 'openai-chat', endpoint: '/v1/chat/completions', model: 'coder', stream: true, apiKeyId: 'k', startedAt: 1, ...extra });

describe('event reducer', () => {
  it('ignores events before the first snapshot, then takes the snapshot whole', () => {
    const empty: LiveData = { finished: [], stale: true };
    expect(reduce(empty, { type: 'log', line: { time: 1, level: 'info', msg: 'x' } })).toBe(empty);
    const d = base();
    expect(d.snap?.instances).toHaveLength(1);
    expect(d.stale).toBe(false);
  });

  it('replaces or adds instances and recomputes alias target health', () => {
    let d = base();
    d = reduce(d, { type: 'instance', instance: instance({ state: 'failed', reason: 'crashed' }) });
    expect(d.snap!.instances[0]).toMatchObject({ state: 'failed', reason: 'crashed' });
    expect(d.snap!.aliases[0].targets[0]).toMatchObject({ status: 'down', ready: 0, total: 1 });
    d = reduce(d, { type: 'instance', instance: instance({ name: 'bob' }) });
    expect(d.snap!.instances.map((i) => i.name)).toEqual(['alice', 'bob']);
    expect(d.snap!.aliases[0].targets[0]).toMatchObject({ status: 'degraded', ready: 1, total: 2 });
  });

  it('applies health transitions to the instance; alias targets follow the relay\'s one status (its instance event)', () => {
    let d = base();
    const health = { instance: 'alice', healthy: false, consecutiveFailures: 2, lastError: 'boom' };
    d = reduce(d, { type: 'health', health });
    expect(d.snap!.instances[0].health).toMatchObject({ healthy: false, lastError: 'boom' });
    // The relay sends the instance's new availability with every health change (relay.ts).
    d = reduce(d, { type: 'instance', instance: instance({ health }) });
    expect(d.snap!.instances[0].availability!.display.kind).toBe('cooling_down');
    expect(d.snap!.aliases[0].targets[0].status).toBe('down');
  });

  it('keeps the log bounded', () => {
    let d = base();
    for (let i = 0; i < MAX_LOGS + 10; i++) d = reduce(d, { type: 'log', line: { time: i, level: 'info', msg: `l${i}` } });
    expect(d.snap!.logs).toHaveLength(MAX_LOGS);
    expect(d.snap!.logs.at(-1)!.msg).toBe(`l${MAX_LOGS + 9}`);
  });

  it('tracks live requests and moves finished ones to a bounded recent list', () => {
    let d = base();
    d = reduce(d, { type: 'request', phase: 'start', request: req('r1') });
    d = reduce(d, { type: 'request', phase: 'update', request: req('r1', { instance: 'alice', firstByteAt: 5 }) });
    expect(d.snap!.live).toEqual([expect.objectContaining({ requestId: 'r1', instance: 'alice', firstByteAt: 5 })]);
    d = reduce(d, { type: 'request', phase: 'end', request: req('r1', { status: 200, finishedAt: 9 }) });
    expect(d.snap!.live).toEqual([]);
    expect(d.finished[0]).toMatchObject({ requestId: 'r1', status: 200 });
    for (let i = 0; i < MAX_FINISHED + 5; i++) d = reduce(d, { type: 'request', phase: 'end', request: req(`x${i}`) });
    expect(d.finished).toHaveLength(MAX_FINISHED);
  });

  it('keeps two live requests apart when a client reuses its request id', () => {
    let d = base();
    d = reduce(d, { type: 'request', phase: 'start', request: req('same', { id: 'a1' }) });
    d = reduce(d, { type: 'request', phase: 'start', request: req('same', { id: 'a2' }) });
    expect(d.snap!.live).toHaveLength(2);
    d = reduce(d, { type: 'request', phase: 'end', request: req('same', { id: 'a1', status: 200, finishedAt: 9 }) });
    expect(d.snap!.live).toEqual([expect.objectContaining({ id: 'a2' })]);
  });

  it('ticks update counters and admission; config marks the state stale', () => {
    let d = base();
    for (let i = 0; i < MAX_COUNTERS + 3; i++) d = reduce(d, { type: 'tick', counters: { time: i, rps: i, errors: 0, inFlight: 2, queued: 1 } });
    expect(d.snap!.counters).toHaveLength(MAX_COUNTERS);
    expect(d.snap!.admission).toMatchObject({ inFlight: 2, queued: 1, max: 64 });
    d = reduce(d, { type: 'tick', counters: { time: 9, rps: 0, errors: 0, inFlight: 1, queued: 0 }, inFlight: { alice: 1 }, sessionCache: { hits: 7, misses: 2, entries: 5 } });
    expect(d.snap!.instances[0].inFlight).toBe(1);
    expect(d.snap!.sessionCache).toMatchObject({ hits: 7, misses: 2, entries: 5, enabled: true, maxEntries: 1024 });
    d = reduce(d, { type: 'config', what: 'accounts' });
    expect(d.stale).toBe(true);
    d = reduce(d, { type: 'snapshot', snapshot: snapshot() });
    expect(d.stale).toBe(false);
  });

  it('replaces aliases on reload events, keeping the outcome', () => {
    let d = base();
    d = reduce(d, { type: 'aliases', outcome: { at: 1, ok: false, source: 'file', error: 'bad alias', aliases: 1 }, aliases: [] });
    expect(d.snap!.aliases).toEqual([]);
    expect(d.snap!.aliasesReload).toMatchObject({ ok: false, error: 'bad alias' });
  });
});

describe('a snapshot fetched while events come (refreshSnapshot)', () => {
  /** A client whose `/admin/state` answers only when the test says, with the snapshot it gives. */
  const slowClient = () => {
    const answers: Array<(s: AdminSnapshot) => void> = [];
    const client = { state: () => new Promise<AdminSnapshot>((r) => answers.push(r)) } as unknown as AdminClient;
    const answer = async (s: AdminSnapshot) => {
      await vi.waitFor(() => expect(answers.length).toBeGreaterThan(0));
      answers.shift()!(s);
    };
    return { client, answer, asked: () => answers.length };
  };

  it('an instance that changed while the snapshot was on its way is not set back by it', async () => {
    const signingIn = instance({ login: { state: 'logging_in' } });
    useDash.getState().setSnapshot(snapshot({ instances: [signingIn] }));
    const { client, answer } = slowClient();
    const done = refreshSnapshot(client);
    // The server built its answer before alice's sign-in ended; the event overtakes the answer.
    useDash.getState().apply({ type: 'instance', instance: instance({ login: { state: 'logged_in', user: 'alice' } }) });
    await answer(snapshot({ instances: [signingIn, instance({ name: 'bob' })] }));
    await done;
    const snap = useDash.getState().snap!;
    expect(snap.instances.map((i) => [i.name, i.login.state])).toEqual([['alice', 'logged_in'], ['bob', 'logged_in']]);
    expect(useDash.getState().stale).toBe(false);
  });

  it('a config change while the snapshot was on its way takes another snapshot', async () => {
    useDash.getState().setSnapshot(snapshot());
    const { client, answer } = slowClient();
    const done = refreshSnapshot(client);
    useDash.getState().apply({ type: 'config', what: 'accounts' });
    await answer(snapshot()); // built before the change
    await answer(snapshot({ instances: [instance(), instance({ name: 'carol' })] }));
    await done;
    expect(useDash.getState().snap!.instances.map((i) => i.name)).toEqual(['alice', 'carol']);
  });

  it("the events socket's own snapshot, built before events it sent first, does not set them back", () => {
    const signingIn = instance({ login: { state: 'logging_in' } });
    useDash.getState().setSnapshot(snapshot({ instances: [signingIn] }));
    // A reconnect: the server relays events from the moment the socket joined and sends the
    // snapshot once built, so alice's sign-in can arrive before a snapshot that predates it.
    useDash.getState().setSocket('open');
    useDash.getState().apply({ type: 'instance', instance: instance({ login: { state: 'logged_in', user: 'alice' } }) });
    useDash.getState().apply({ type: 'snapshot', snapshot: snapshot({ instances: [signingIn] }) });
    expect(useDash.getState().snap!.instances.map((i) => i.login.state)).toEqual(['logged_in']);
    // After the socket's snapshot, a snapshot is taken whole again.
    useDash.getState().apply({ type: 'snapshot', snapshot: snapshot({ instances: [signingIn] }) });
    expect(useDash.getState().snap!.instances.map((i) => i.login.state)).toEqual(['logging_in']);
    useDash.getState().setSocket('closed');
  });
});
