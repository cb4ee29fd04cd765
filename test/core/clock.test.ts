/** The Clock port's helper (`sleep`) and the fake clock the tests run core on. */
import { describe, expect, it } from 'vitest';
import { sleep, systemClock } from '../../src-main/core/ports';
import { drive, fakeClock } from '../helpers/fake-clock';

describe('fake clock', () => {
  it('runs due timers in time order (ties in the order set), with now() at each timer', async () => {
    const clock = fakeClock(1000);
    const seen: Array<[string, number]> = [];
    clock.setTimeout(() => seen.push(['b', clock.now()]), 20);
    clock.setTimeout(() => seen.push(['a', clock.now()]), 10);
    clock.setTimeout(() => seen.push(['a2', clock.now()]), 10);
    const gone = clock.setTimeout(() => seen.push(['cleared', clock.now()]), 5);
    clock.clearTimeout(gone);
    await clock.advance(15);
    expect(seen).toEqual([['a', 1010], ['a2', 1010]]);
    expect(clock.now()).toBe(1015);
    await clock.advance(100);
    expect(seen).toEqual([['a', 1010], ['a2', 1010], ['b', 1020]]);
    expect(clock.pending()).toBe(0);
  });

  it('lets async work started by one timer set the next within the same advance', async () => {
    const clock = fakeClock(0);
    const at: number[] = [];
    const loop = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 10);
        at.push(clock.now());
      }
    };
    const done = loop();
    await clock.advance(30);
    await done;
    expect(at).toEqual([10, 20, 30]);
  });

  it('refresh() re-arms a timer from now, also one that already ran, not a cleared one (as node)', async () => {
    const clock = fakeClock(0);
    let n = 0;
    const t = clock.setTimeout(() => n++, 10);
    await clock.advance(8);
    t.refresh();
    await clock.advance(8);
    expect(n).toBe(0);
    await clock.advance(2);
    expect(n).toBe(1);
    t.refresh();
    await clock.advance(10);
    expect(n).toBe(2);
    clock.clearTimeout(t);
    t.refresh();
    await clock.advance(100);
    expect(n).toBe(2);
  });

  it('intervals repeat until cleared, also from their own callback', async () => {
    const clock = fakeClock(0);
    const at: number[] = [];
    const t = clock.setInterval(() => {
      at.push(clock.now());
      if (at.length === 3) clock.clearInterval(t);
    }, 5);
    await clock.advance(100);
    expect(at).toEqual([5, 10, 15]);
  });

  it('drive() runs timers until the promise settles', async () => {
    const clock = fakeClock(0);
    await drive(clock, sleep(clock, 60_000));
    expect(clock.now()).toBe(60_000);
  });
});

describe('sleep', () => {
  it('sleep rejects with the signal reason on abort, at once if already aborted, and leaves no timer', async () => {
    const clock = fakeClock(0);
    const ac = new AbortController();
    const p = sleep(clock, 1000, ac.signal);
    expect(clock.pending()).toBe(1);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(clock.pending()).toBe(0);
    await expect(sleep(clock, 1000, ac.signal)).rejects.toThrow('stop');
    expect(clock.pending()).toBe(0);
  });

  it('the system clock sleeps on real timers, and stops on abort', async () => {
    await expect(sleep(systemClock, 1)).resolves.toBeUndefined();
    const ac = new AbortController();
    const p = sleep(systemClock, 60_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });
});
