/**
 * The availability model keeps its last answer per instance (the pool asks on every request) and
 * computes it again when anything it reads may have changed. One test per way an answer goes stale.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Instance, InstanceEvents, InstanceSnapshot } from '../../src-main/core/backends/types';
import { errors } from '../../src-main/core/errors';
import { createAvailability } from '../../src-main/core/pool/availability-model';
import type { Clock, TimerHandle } from '../../src-main/core/ports';
import { createHealthCache } from '../../src-main/core/routing/health';

/** Time moves only when told, and timers never run (so only the model's own clock reading can notice). */
function stillClock(start = 1_000_000): Clock & { t: number } {
  const c = {
    t: start,
    now: () => c.t,
    setTimeout: () => ({ unref() {}, ref() {}, refresh() {}, hasRef: () => false }) as unknown as TimerHandle,
    clearTimeout: () => undefined,
    setInterval: () => ({ unref() {} }) as unknown as TimerHandle,
    clearInterval: () => undefined,
  };
  return c;
}

/** An instance whose snapshot fields change without any event (as a remote account's owner, or a backend's quota). */
function quietInstance(name: string, snap: Partial<InstanceSnapshot> = {}): Instance & { snap: InstanceSnapshot } {
  const inst = {
    name, provider: 'p', kind: 'fake', maxConcurrency: 4,
    events: new EventEmitter<InstanceEvents>(),
    snap: { name, provider: 'p', kind: 'fake', state: 'ready', login: { state: 'not_applicable' }, restarts: 0, ...snap } as InstanceSnapshot,
    state: () => inst.snap.state,
    snapshot: () => ({ ...inst.snap }),
    ensureReady: async () => undefined,
    chat: () => { throw new Error('not called'); },
    probe: async () => undefined,
  };
  return inst as unknown as Instance & { snap: InstanceSnapshot };
}

async function setup(snap: Partial<InstanceSnapshot> = {}) {
  const clock = stillClock();
  const health = createHealthCache({ failureThreshold: 1, baseBackoffMs: 60_000, maxBackoffMs: 3_600_000, clock, random: () => 0 });
  const inst = quietInstance('a', snap);
  const model = createAvailability({ health, providers: () => [], clock });
  model.of(inst);
  await Promise.resolve(); // the first-sight quota notice
  return { clock, health, inst, model };
}

describe('the availability answer is cached until something it reads changes', () => {
  it('asked twice with nothing changed, the same answer comes back (not computed again)', async () => {
    const { inst, model } = await setup();
    const a = model.of(inst);
    expect(a.serving).toBe(true);
    expect(model.of(inst)).toBe(a);
  });

  it('the process state changing without an event', async () => {
    const { inst, model } = await setup({ state: 'stopped' });
    expect(model.of(inst).status).toBe('stopped');
    inst.snap.state = 'ready';
    expect(model.of(inst).status).toBe('serving');
  });

  it("the state's reason changing without an event (a remote account's owner)", async () => {
    const { inst, model } = await setup({ state: 'stopped', reason: 'runs on node x' });
    expect(model.of(inst).reason).toContain('node x');
    inst.snap.reason = 'runs on node y';
    expect(model.of(inst).reason).toContain('node y');
  });

  it('the sign-in changing without an event', async () => {
    const { inst, model } = await setup({ login: { state: 'logged_in', user: 'ann' } });
    expect(model.of(inst).display.process).toContain('ann');
    inst.snap.login = { state: 'logged_in', user: 'bob' };
    expect(model.of(inst).display.process).toContain('bob');
    inst.snap.login = { state: 'failed', reason: 'x' };
    expect(model.of(inst).display.action).toBe('sign_in');
    inst.snap.login = { state: 'failed', reason: 'x', rejected: true };
    expect(model.of(inst).display.action).toBe('fix_password');
  });

  it("the backend's quota changing without an event", async () => {
    const { clock, inst, model } = await setup({ quota: { exceeded: false } });
    expect(model.of(inst).serving).toBe(true);
    inst.snap.quota = { exceeded: false, resetsAt: clock.t + 5_000 };
    expect(model.of(inst).quota).toEqual({ exceeded: false, resetsAt: clock.t + 5_000 });
    inst.snap.quota = { exceeded: true };
    expect(model.of(inst).status).toBe('out_of_credits');
  });

  it('a health transition (a longer backoff while already unhealthy: healthy stays false, `until` moves)', async () => {
    const { clock, health, inst, model } = await setup();
    health.recordFailure('a', errors.upstream('boom'));
    const first = model.of(inst);
    expect(first.status).toBe('cooling_down');
    clock.t += 1_000;
    health.recordFailure('a', errors.upstream('boom again'));
    const second = model.of(inst);
    expect(second.until).not.toBe(first.until);
    expect(second.display.lastError?.text).toBe('boom again');
  });

  it('the health cache forgetting an instance (no event: its verdict is compared on every read)', async () => {
    const { health, inst, model } = await setup();
    health.recordFailure('a', errors.upstream('boom'));
    expect(model.of(inst).status).toBe('cooling_down');
    health.forget('a');
    expect(model.of(inst).serving).toBe(true);
  });

  it('a credit cool-down recorded', async () => {
    const { inst, model } = await setup();
    expect(model.of(inst).serving).toBe(true);
    model.recordQuota('a');
    expect(model.of(inst).status).toBe('out_of_credits');
  });

  it("a person's clear", async () => {
    const { inst, model } = await setup();
    model.recordQuota('a');
    expect(model.of(inst).status).toBe('out_of_credits');
    model.clear('a');
    expect(model.of(inst).serving).toBe(true);
  });

  it('a cool-down re-checked by a probe serves again', async () => {
    const { clock, inst, model } = await setup();
    const until = model.recordQuota('a');
    clock.t = until + 1;
    model.probed(inst);
    expect(model.of(inst).serving).toBe(true);
  });

  it("time passing a reset time (no timer ran: the answer's wording turns at `until`)", async () => {
    const { clock, inst, model } = await setup();
    const until = model.recordQuota('a', { resetsAt: clock.t + 10_000 });
    expect(model.of(inst).reason).toMatch(/out of credits until/);
    clock.t = until + 1;
    expect(model.of(inst).serving).toBe(true);
  });

  it("time passing the backend's own reset time", async () => {
    const { clock, inst, model } = await setup();
    inst.snap.quota = { exceeded: true, resetsAt: clock.t + 10_000 };
    expect(model.of(inst).reason).toMatch(/out of credits until/);
    await Promise.resolve(); // the model takes note (a cool-down to the same time)
    expect(model.of(inst).reason).toMatch(/out of credits until/);
    clock.t += 10_001;
    expect(model.of(inst).reason).toMatch(/checking again/);
  });

  it('another instance object under the same name (a reload that replaced it) gets its own answer', async () => {
    const { inst, model } = await setup();
    const a = model.of(inst);
    const again = quietInstance('a');
    expect(model.of(again)).not.toBe(a);
  });
});
