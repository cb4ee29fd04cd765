import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../../src-main/core/fs-atomic';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'relay-atomic-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const posix = process.platform !== 'win32';

describe('atomic file writes', () => {
  for (const [label, write] of [
    ['sync', async (p: string, t: string, m?: number) => writeFileAtomicSync(p, t, m === undefined ? {} : { mode: m })],
    ['async', (p: string, t: string, m?: number) => writeFileAtomic(p, t, m === undefined ? {} : { mode: m })],
  ] as const) {
    it(`${label}: replaces the file whole, owner-only, creating missing folders 0700, no temp file left`, async () => {
      const dir = tmp();
      const file = join(dir, 'sub', 'deeper', 'state.json');
      await write(file, 'one');
      expect(readFileSync(file, 'utf8')).toBe('one');
      await write(file, 'two');
      expect(readFileSync(file, 'utf8')).toBe('two');
      expect(readdirSync(join(dir, 'sub', 'deeper'))).toEqual(['state.json']);
      if (posix) {
        expect(statSync(file).mode & 0o777).toBe(0o600);
        expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o700);
      }
    });

    it(`${label}: a looser existing file ends with the asked mode`, async () => {
      const dir = tmp();
      const file = join(dir, 'secret');
      writeFileSync(file, 'old', { mode: 0o644 });
      if (posix) chmodSync(file, 0o644);
      await write(file, 'new');
      if (posix) expect(statSync(file).mode & 0o777).toBe(0o600);
      await write(file, 'public', 0o644);
      if (posix) expect(statSync(file).mode & 0o777).toBe(0o644);
    });

    it(`${label}: a failed rename leaves the target untouched and removes the temp file`, async () => {
      const dir = tmp();
      // The target is a non-empty folder: the rename over it fails.
      const target = join(dir, 'taken');
      mkdirSync(target);
      writeFileSync(join(target, 'keep'), 'x');
      await expect(write(target, 'data')).rejects.toThrow();
      expect(readdirSync(dir)).toEqual(['taken']);
      expect(readFileSync(join(target, 'keep'), 'utf8')).toBe('x');
    });
  }
});
