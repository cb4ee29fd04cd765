/**
 * The "Cooling down, retry in …" countdown follows a lengthened backoff: the health cache emits
 * when an unhealthy instance's backoff changes, and the availability model's status carries the
 * new `until`.
 */
import { describe, expect, it } from 'vitest';
import { errors } from '../../src-main/core/errors';
import { createHealthCache } from '../../src-main/core/routing/health';
import type { HealthSnapshot } from '../../src-main/core/routing/types';
import { fakeClock } from '../helpers/fake-clock';

describe('health: a longer backoff is an event', () => {
  it('emits on each lengthening with the new unhealthyUntil, and not when nothing changed', () => {
    const clock = fakeClock();
    const h = createHealthCache({ failureThreshold: 1, baseBackoffMs: 1000, maxBackoffMs: 4000, clock, random: () => 0 });
    const seen: HealthSnapshot[] = [];
    h.events.on('transition', (s) => seen.push(s));
    h.recordFailure('a', errors.upstream('x'));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ healthy: false, unhealthyUntil: clock.now() + 1000 });
    h.recordFailure('a', errors.upstream('x'));
    expect(seen).toHaveLength(2);
    expect(seen[1]).toMatchObject({ healthy: false, unhealthyUntil: clock.now() + 2000 });
    h.recordFailure('a', errors.upstream('x'));
    h.recordFailure('a', errors.upstream('x'));
    expect(seen.map((s) => s.unhealthyUntil! - clock.now())).toEqual([1000, 2000, 4000, 4000].slice(0, seen.length));
    // Capped and at the same instant: the same until, so no event.
    const n = seen.length;
    h.recordFailure('a', errors.upstream('x'));
    expect(seen).toHaveLength(n);
    // Below the threshold nothing is heard.
    const k = createHealthCache({ failureThreshold: 3, baseBackoffMs: 1000, maxBackoffMs: 4000, clock, random: () => 0 });
    const heard: HealthSnapshot[] = [];
    k.events.on('transition', (s) => heard.push(s));
    k.recordFailure('b', errors.upstream('x'));
    k.recordFailure('b', errors.upstream('x'));
    expect(heard).toHaveLength(0);
  });
});

describe('availability: the cooling-down status follows the longer backoff', () => {
  it("emits a change and shows the new 'until'", async () => {
    const { createAvailability } = await import('../../src-main/core/pool/availability-model');
    const { fakeInstance, fakeProvider } = await import('../dispatch/fakes');
    const clock = fakeClock();
    const a = fakeInstance('a', 'p');
    const p = fakeProvider('p', { models: ['m'], instances: [a] });
    const health = createHealthCache({ failureThreshold: 1, baseBackoffMs: 1000, maxBackoffMs: 8000, clock, random: () => 0 });
    const model = createAvailability({ health, providers: () => [p], clock });
    const changes: string[] = [];
    model.events.on('change', (name) => changes.push(name));
    model.of(a);
    health.recordFailure('a', errors.upstream('x'));
    const first = model.of(a).display;
    expect(first.kind).toBe('cooling_down');
    expect(first.until).toBe(clock.now() + 1000);
    const before = changes.length;
    health.recordFailure('a', errors.upstream('x'));
    expect(changes.length).toBeGreaterThan(before);
    expect(model.of(a).display.until).toBe(clock.now() + 2000);
  });
});
