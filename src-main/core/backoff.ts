/**
 * The one retry delay: capped exponential backoff with optional jitter.
 *   delay(n) = min(maxMs, min(maxMs, baseMs * 2^n) * (1 + jitter * random()))
 * `attempt` counts from 0 (the first retry waits `baseMs`). Jitter only ever adds (up to the
 * `jitter` fraction), so a retry never comes sooner than the plain doubling says, and instances
 * that failed together do not retry in lockstep; `jitter: 0` (the default) is deterministic.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** Fraction of the delay added at random (0..1); default 0. */
  jitter?: number;
  /** Injectable for tests; default Math.random. */
  random?: () => number;
}

export function backoffDelay(attempt: number, p: BackoffPolicy): number {
  const n = Math.max(0, Math.min(30, Math.floor(attempt)));
  const plain = Math.min(p.maxMs, p.baseMs * 2 ** n);
  const jitter = p.jitter ?? 0;
  if (jitter <= 0) return Math.round(plain);
  const r = (p.random ?? Math.random)();
  return Math.round(Math.min(p.maxMs, plain * (1 + jitter * r)));
}
