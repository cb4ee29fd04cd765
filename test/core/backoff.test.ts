import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src-main/core/backoff';

describe('backoffDelay', () => {
  it('doubles from baseMs per attempt and stops at maxMs, deterministic without jitter', () => {
    const p = { baseMs: 500, maxMs: 5000 };
    expect([0, 1, 2, 3, 4, 5, 40].map((n) => backoffDelay(n, p))).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
    // Negative or fractional attempts count as whole attempts from 0.
    expect(backoffDelay(-3, p)).toBe(500);
    expect(backoffDelay(1.7, p)).toBe(1000);
  });

  it('jitter only adds, up to its fraction, and never passes maxMs', () => {
    const p = (r: number) => ({ baseMs: 1000, maxMs: 60_000, jitter: 0.25, random: () => r });
    expect(backoffDelay(0, p(0))).toBe(1000);
    expect(backoffDelay(0, p(0.5))).toBe(1125);
    expect(backoffDelay(0, p(0.999))).toBe(1250);
    expect(backoffDelay(2, p(0.5))).toBe(4500);
    // At the cap, jitter cannot push past it.
    expect(backoffDelay(10, p(0.999))).toBe(60_000);
  });

  it('spreads delays of instances that failed together', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) seen.add(backoffDelay(3, { baseMs: 1000, maxMs: 60_000, jitter: 0.2 }));
    for (const d of seen) {
      expect(d).toBeGreaterThanOrEqual(8000);
      expect(d).toBeLessThanOrEqual(9600);
    }
    expect(seen.size).toBeGreaterThan(1);
  });
});
