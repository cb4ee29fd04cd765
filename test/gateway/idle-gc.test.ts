import { describe, expect, it } from 'vitest';
import { exposedGc, idleCollector } from '../../src-main/cli/idle-gc';

const MB = 2 ** 20;

function fake(o: { used: number; utilization: number }) {
  let collections = 0;
  const c = idleCollector({
    gc: () => {
      collections++;
      o.used = 10 * MB;
    },
    usedHeap: () => o.used,
    utilization: () => o.utilization,
  });
  return { c, collections: () => collections };
}

describe('idle collector', () => {
  it('collects once when the loop is quiet and the heap grew by 4 MB or more, then not again until it grows again', () => {
    const s = { used: 10 * MB, utilization: 0.001 };
    const f = fake(s);
    s.used = 13.9 * MB;
    expect(f.c.check()).toBe(false);
    s.used = 14 * MB;
    expect(f.c.check()).toBe(true);
    // Two full collections: the second compacts what the first left sparse.
    expect(f.collections()).toBe(2);
    expect(f.c.check()).toBe(false);
    s.used = 13.9 * MB;
    expect(f.c.check()).toBe(false);
    s.used = 14 * MB;
    expect(f.c.check()).toBe(true);
    expect(f.collections()).toBe(4);
  });

  it('never collects while the loop is busy', () => {
    const s = { used: 10 * MB, utilization: 0.5 };
    const f = fake(s);
    s.used = 60 * MB;
    expect(f.c.check()).toBe(false);
    s.utilization = 0.01;
    expect(f.c.check()).toBe(true);
  });

  it("a collection of V8's own lowers the floor it measures growth from", () => {
    const s = { used: 20 * MB, utilization: 0 };
    const f = fake(s);
    s.used = 12 * MB; // V8 collected by itself
    expect(f.c.check()).toBe(false);
    s.used = 16 * MB;
    expect(f.c.check()).toBe(true);
  });

  it('reaches V8\'s gc without the command-line flag, and leaves new contexts without it', async () => {
    const gc = exposedGc();
    expect(typeof gc).toBe('function');
    gc!();
    const { runInNewContext } = await import('node:vm');
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });

  it('uses the global gc when the process has one (--expose-gc), without touching the flag', () => {
    const had = Object.getOwnPropertyDescriptor(globalThis, 'gc');
    let calls = 0;
    Object.defineProperty(globalThis, 'gc', { value: () => calls++, configurable: true, writable: true });
    try {
      const gc = exposedGc();
      gc!();
      expect(calls).toBe(1);
    } finally {
      if (had) Object.defineProperty(globalThis, 'gc', had);
      else delete (globalThis as { gc?: unknown }).gc;
    }
  });
});
