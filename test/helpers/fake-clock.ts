/**
 * A deterministic `Clock` for tests: time moves only when the test says so.
 *
 * Our own, not vitest's fake timers: `vi.useFakeTimers()` replaces the process's global timers,
 * which would also freeze fastify, ws, undici and the simulators a test runs next to the code
 * under test. The clock port lets core take an independent fake instead; everything else keeps
 * real time.
 *
 * `advance(ms)` moves time forward and runs every timer due on the way, earliest first (ties in
 * the order they were set), setting `now()` to each timer's time before it runs and letting
 * pending promise callbacks settle between timers, so async code reacting to one timer can set
 * the next one within the same advance.
 */
import type { Clock, TimerHandle } from '../../src-main/core/ports';

interface Entry {
  id: number;
  at: number;
  ms: number;
  fn: () => void;
  /** Repeat period for intervals. */
  every?: number;
  /** Cleared: `refresh()` no longer brings it back (as node's). */
  cleared?: boolean;
}

export interface FakeClock extends Clock {
  /** Moves time by `ms`, running due timers in order (async: awaits settling between timers). */
  advance(ms: number): Promise<void>;
  /** Moves time to the next timer and runs it (and any due at the same time). False if none. */
  next(): Promise<boolean>;
  /** Timers (and intervals) set and not yet run or cleared. */
  pending(): number;
  /** The time the next timer is due, if any. */
  nextAt(): number | undefined;
  /** Resolves the next time anyone sets a timer (e.g. the code under test reached its wait). */
  scheduled(): Promise<void>;
}

/** Let promise callbacks and already-queued I/O callbacks run (one real macrotask turn). */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

class FakeTimer {
  private refd = true;
  constructor(
    readonly id: number,
    private readonly rearm: () => void,
  ) {}
  ref(): this {
    this.refd = true;
    return this;
  }
  unref(): this {
    this.refd = false;
    return this;
  }
  hasRef(): boolean {
    return this.refd;
  }
  /** As node's: the timer starts its full delay again from now (and runs again if it already had). */
  refresh(): this {
    this.rearm();
    return this;
  }
  close(): this {
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
  [Symbol.dispose](): void {
    // nothing held
  }
}

export function fakeClock(start = Date.UTC(2026, 11, 4, 12)): FakeClock {
  let now = start;
  let seq = 0;
  /** Armed timers. */
  const timers = new Map<number, Entry>();
  /** Every timer ever set (a cleared one must stay cleared, also after it ran). */
  const all = new Map<number, Entry>();
  let onSchedule: Array<() => void> = [];

  const add = (fn: () => void, ms: number, every?: number): TimerHandle => {
    const id = ++seq;
    const entry: Entry = { id, at: now + Math.max(0, ms), ms: Math.max(0, ms), fn, every };
    timers.set(id, entry);
    all.set(id, entry);
    const ws = onSchedule;
    onSchedule = [];
    for (const w of ws) w();
    return new FakeTimer(id, () => {
      if (entry.cleared) return;
      entry.at = now + entry.ms;
      timers.set(id, entry);
    }) as unknown as TimerHandle;
  };
  const remove = (t: TimerHandle | null | undefined): void => {
    if (!t) return;
    const e = all.get(Number(t));
    if (e) e.cleared = true;
    timers.delete(Number(t));
  };
  const earliest = (): Entry | undefined => {
    let best: Entry | undefined;
    for (const e of timers.values()) if (!best || e.at < best.at || (e.at === best.at && e.id < best.id)) best = e;
    return best;
  };
  /** Runs the earliest timer if it is due by `until`. */
  const runOne = (until: number): boolean => {
    const e = earliest();
    if (!e || e.at > until) return false;
    now = Math.max(now, e.at);
    // An interval is re-armed before it runs, so its callback may clear it.
    if (e.every !== undefined) e.at += Math.max(1, e.every);
    else timers.delete(e.id);
    e.fn();
    return true;
  };

  return {
    now: () => now,
    setTimeout: (fn, ms) => add(fn, ms),
    clearTimeout: remove,
    setInterval: (fn, ms) => add(fn, ms, ms),
    clearInterval: remove,
    async advance(ms) {
      const until = now + ms;
      await settle();
      while (runOne(until)) await settle();
      now = Math.max(now, until);
      await settle();
    },
    async next() {
      const e = earliest();
      if (!e) return false;
      await this.advance(Math.max(0, e.at - now));
      return true;
    },
    pending: () => timers.size,
    nextAt: () => earliest()?.at,
    scheduled: () => new Promise<void>((r) => onSchedule.push(r)),
  };
}

/**
 * Runs `clock`'s timers one at a time, in order, until `p` settles; resolves or rejects as `p`.
 * For code whose waits are all on the fake clock (a stuck `p` with no timer left spins until the
 * test's own timeout).
 */
export async function drive<T>(clock: FakeClock, p: Promise<T>): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await settle();
  while (!done) {
    if (!(await clock.next())) await settle();
  }
  return p;
}
