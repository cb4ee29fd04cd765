import { describe, expect, it } from 'vitest';
import { flushingWriter } from '../../src-main/core/gateway/logging';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('buffered log writer', () => {
  it('flushes once shortly after a burst of lines, and never while idle', async () => {
    const dest = { lines: [] as string[], flushes: 0, write(s: string) { this.lines.push(s); }, flush() { this.flushes++; } };
    const w = flushingWriter(dest, 20);
    await sleep(80);
    expect(dest.flushes).toBe(0); // idle: no wake-ups, no empty writes
    w.write('a\n');
    w.write('b\n');
    w.write('c\n');
    await expect.poll(() => dest.flushes, { timeout: 2000 }).toBe(1);
    await sleep(80);
    expect(dest.flushes).toBe(1);
    expect(dest.lines).toEqual(['a\n', 'b\n', 'c\n']);
  });
});
