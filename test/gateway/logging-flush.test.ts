import { afterEach, describe, expect, it, vi } from 'vitest';
import { flushingWriter } from '../../src-main/core/gateway/logging';

afterEach(() => {
  vi.useRealTimers();
});

describe('buffered log writer', () => {
  it('flushes once shortly after a burst of lines, and never while idle', () => {
    vi.useFakeTimers();
    const dest = { lines: [] as string[], flushes: 0, write(s: string) { this.lines.push(s); }, flush() { this.flushes++; } };
    const w = flushingWriter(dest, 20);
    vi.advanceTimersByTime(10_000);
    expect(dest.flushes).toBe(0); // idle: no wake-ups, no empty writes
    expect(vi.getTimerCount()).toBe(0);
    w.write('a\n');
    w.write('b\n');
    w.write('c\n');
    vi.advanceTimersByTime(19);
    expect(dest.flushes).toBe(0); // the burst is gathered
    vi.advanceTimersByTime(1);
    expect(dest.flushes).toBe(1);
    vi.advanceTimersByTime(10_000);
    expect(dest.flushes).toBe(1); // once, then idle again
    expect(vi.getTimerCount()).toBe(0);
    expect(dest.lines).toEqual(['a\n', 'b\n', 'c\n']);
  });
});
