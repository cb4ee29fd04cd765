import { describe, expect, it } from 'vitest';
import { errors } from '../../src-main/core/errors';
import { createHealthCache } from '../../src-main/core/routing/health';
import { applyErrorRules, validateErrorRules } from '../../src-main/core/routing/error-rules';
import type { HealthSnapshot } from '../../src-main/core/routing/types';
import { fakeInstance } from '../dispatch/fakes';
import { fakeClock } from '../helpers/fake-clock';

describe('health cache', () => {
  it('exponential backoff, capped, with bounded jitter', () => {
    const clock = fakeClock();
    const h = createHealthCache({ failureThreshold: 2, baseBackoffMs: 1000, maxBackoffMs: 5000, clock, random: () => 0 });
    h.recordFailure('a', errors.upstream('boom 1'));
    expect(h.isHealthy('a')).toBe(true);
    expect(h.snapshot('a').consecutiveFailures).toBe(1);
    h.recordFailure('a', errors.upstream('boom 2'));
    expect(h.isHealthy('a')).toBe(false);
    expect(h.snapshot('a').unhealthyUntil).toBe(clock.now() + 1000);
    h.recordFailure('a', errors.upstream('boom 3'));
    expect(h.snapshot('a').unhealthyUntil).toBe(clock.now() + 2000);
    h.recordFailure('a', errors.upstream('boom 4'));
    expect(h.snapshot('a').unhealthyUntil).toBe(clock.now() + 4000);
    h.recordFailure('a', errors.upstream('boom 5'));
    expect(h.snapshot('a').unhealthyUntil).toBe(clock.now() + 5000);
    expect(h.snapshot('a').lastError).toBe('boom 5');

    const j = createHealthCache({ failureThreshold: 1, baseBackoffMs: 1000, maxBackoffMs: 60000, clock, random: () => 0.999 });
    j.recordFailure('b', errors.upstream('x'));
    const until = j.snapshot('b').unhealthyUntil! - clock.now();
    expect(until).toBeGreaterThan(1000);
    expect(until).toBeLessThanOrEqual(1200);
  });

  it('emits flips and longer backoffs, and keeps no secret-bearing detail', () => {
    const h = createHealthCache({ failureThreshold: 1, baseBackoffMs: 100, maxBackoffMs: 1000 });
    const seen: HealthSnapshot[] = [];
    h.events.on('transition', (s) => seen.push(s));
    h.recordSuccess('a');
    h.recordFailure('a', errors.upstream('Upstream failed.', { detail: 'Authorization: Bearer sk-secret' }));
    h.recordFailure('a', errors.upstream('Upstream failed again.'));
    h.recordSuccess('a');
    h.recordSuccess('a');
    // The second failure lengthened the backoff: heard too (the dashboard's countdown follows it).
    expect(seen.map((s) => s.healthy)).toEqual([false, false, true]);
    expect(seen[1].unhealthyUntil).toBeGreaterThan(seen[0].unhealthyUntil!);
    expect(JSON.stringify(h.all())).not.toContain('sk-secret');
    expect(h.snapshot('a')).toEqual({ instance: 'a', healthy: true, consecutiveFailures: 0, lastError: 'Upstream failed again.', lastErrorAt: expect.any(Number) });
  });

  it('a throwing listener does not break recording', () => {
    const h = createHealthCache({ failureThreshold: 1, baseBackoffMs: 100, maxBackoffMs: 1000 });
    h.events.on('transition', () => {
      throw new Error('listener bug');
    });
    expect(() => h.recordFailure('a', errors.upstream('x'))).not.toThrow();
    expect(h.isHealthy('a')).toBe(false);
  });

  it('the prober revives instances whose backoff expired, and extends it on failure', async () => {
    const clock = fakeClock();
    const h = createHealthCache({ failureThreshold: 1, baseBackoffMs: 1000, maxBackoffMs: 60000, clock, random: () => 0 });
    const a = fakeInstance('a', 'p');
    const b = fakeInstance('b', 'p');
    const ok = fakeInstance('ok', 'p');
    h.recordFailure('a', errors.upstream('down'));
    h.recordFailure('b', errors.upstream('down'));
    b.probeResult = 'fail';
    // Its own timer stays out of the way (an hour): the test ticks by hand.
    const prober = h.startProbing(() => [a, b, ok], 3_600_000);
    try {
      await prober.tick();
      // Backoff not expired: a and b wait. A healthy HTTP-style instance is checked once, on sight.
      expect(a.probes + b.probes).toBe(0);
      expect(ok.probes).toBe(1);
      await clock.advance(1000);
      await prober.tick();
      expect(a.probes).toBe(1);
      expect(b.probes).toBe(1);
      expect(ok.probes).toBe(1); // never again while healthy
      expect(h.isHealthy('a')).toBe(true);
      expect(h.isHealthy('b')).toBe(false);
      expect(h.snapshot('b').consecutiveFailures).toBe(2);
      expect(h.snapshot('b').unhealthyUntil).toBe(clock.now() + 2000);
    } finally {
      prober.stop();
    }
  });

  it('an instance that just became ready is probed at once, whatever its backoff', async () => {
    const clock = fakeClock();
    const h = createHealthCache({ failureThreshold: 1, baseBackoffMs: 60_000, maxBackoffMs: 60_000, clock, random: () => 0 });
    const a = fakeInstance('a', 'p', { state: 'reconnecting' });
    h.recordFailure('a', errors.upstream('down'));
    const prober = h.startProbing(() => [a], 50);
    try {
      await prober.tick();
      expect(a.probes).toBe(0);
      a.setState('ready');
      await prober.tick();
      expect(a.probes).toBe(1);
      expect(h.isHealthy('a')).toBe(true);
    } finally {
      prober.stop();
    }
  });

  it('an instance that just got logged in (while ready) is probed at once, whatever its backoff', async () => {
    const clock = fakeClock();
    const h = createHealthCache({ failureThreshold: 1, baseBackoffMs: 60_000, maxBackoffMs: 60_000, clock, random: () => 0 });
    const a = fakeInstance('a', 'p');
    let login = 'logged_out';
    const base = a.snapshot;
    a.snapshot = () => ({ ...base(), login: { state: login } as never });
    h.recordFailure('a', errors.unavailable('not logged in'));
    const prober = h.startProbing(() => [a], 50);
    try {
      await prober.tick();
      expect(a.probes).toBe(0);
      login = 'logged_in';
      await prober.tick();
      expect(a.probes).toBe(1);
      expect(h.isHealthy('a')).toBe(true);
    } finally {
      prober.stop();
    }
  });

  it('a dead provider is found unhealthy by its first probe, before any request', async () => {
    const clock = fakeClock();
    const h = createHealthCache({ failureThreshold: 1, baseBackoffMs: 1000, maxBackoffMs: 60000, clock, random: () => 0 });
    const dead = fakeInstance('dead', 'p');
    dead.probeResult = 'fail';
    const prober = h.startProbing(() => [dead], 50);
    try {
      expect(h.isHealthy('dead')).toBe(true);
      await prober.tick();
      expect(dead.probes).toBe(1);
      expect(h.isHealthy('dead')).toBe(false);
    } finally {
      prober.stop();
    }
  });

  it('the prober runs on its own timer', async () => {
    const clock = fakeClock();
    const h = createHealthCache({ failureThreshold: 1, baseBackoffMs: 100, maxBackoffMs: 100, clock, random: () => 0 });
    const a = fakeInstance('a', 'p');
    h.recordFailure('a', errors.upstream('down'));
    const prober = h.startProbing(() => [a], 50);
    try {
      // Before the backoff ends the prober's rounds leave it alone; the first round after probes it.
      await clock.advance(99);
      expect(a.probes).toBe(0);
      expect(h.isHealthy('a')).toBe(false);
      await clock.advance(50);
      expect(a.probes).toBe(1);
      expect(h.isHealthy('a')).toBe(true);
    } finally {
      prober.stop();
    }
  });
});

describe('error rules', () => {
  const rules = [
    { status: 429, match: 'quota', action: 'replace' as const, replaceStatus: 503, message: 'The pool is out of quota, try later.' },
    { status: 500, match: 'internal', action: 'passthrough' as const },
    { status: 500, action: 'replace' as const, message: 'Upstream trouble.' },
    { match: 'content.*filter', action: 'replace' as const, replaceStatus: 400, message: 'Blocked by the content filter.' },
  ];

  it('replaces by status and message pattern, case-insensitively', () => {
    const e = applyErrorRules(rules, errors.rateLimited('Daily QUOTA exceeded', 30));
    expect(e.status).toBe(503);
    expect(e.type).toBe('service_unavailable');
    expect(e.message).toBe('The pool is out of quota, try later.');
    expect(e.retryAfter).toBe(30);
  });

  it('passes through when a passthrough rule matches first, or nothing matches', () => {
    const up = errors.upstream('Internal server error', { upstreamStatus: 500 });
    expect(applyErrorRules(rules, up)).toBe(up);
    const other = errors.upstream('bad gateway', { upstreamStatus: 502 });
    expect(applyErrorRules(rules, other)).toBe(other);
    const plain429 = errors.rateLimited('slow down', 2);
    expect(applyErrorRules(rules, plain429)).toBe(plain429);
  });

  it('matches the upstream status, and upstream wording kept in detail', () => {
    const e = applyErrorRules(rules, errors.upstream('Upstream failed.', { upstreamStatus: 500 }));
    expect(e.status).toBe(502);
    expect(e.message).toBe('Upstream trouble.');
    const f = applyErrorRules(rules, errors.upstream('Upstream refused.', { upstreamStatus: 451, detail: 'Content Filter triggered' }));
    expect(f.status).toBe(400);
    expect(f.type).toBe('invalid_request_error');
    expect(f.message).toBe('Blocked by the content filter.');
  });

  it('validates rules with messages naming the rule', () => {
    expect(() => validateErrorRules([{ match: '(', action: 'passthrough' }])).toThrow(/errorRules\[0\]\.match is not a valid regular expression/);
    expect(() => validateErrorRules([{ status: 500, action: 'passthrough' }, { action: 'replace' }])).toThrow(/errorRules\[1\]: action 'replace' needs/);
  });
});
