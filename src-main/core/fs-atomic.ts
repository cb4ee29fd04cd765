/**
 * The one atomic file write: a private temp file next to the target (mode 0600 unless told),
 * then a rename over it, so a reader sees the old file or the new one, never half of one, and a
 * secret is never world-readable in between. The temp file is removed when anything fails.
 * Missing parent folders are created owner-only (0700).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of the result (default 0o600). */
  mode?: number;
}

const tmpName = (path: string): string => `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
const SET_MODE = process.platform !== 'win32';

export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const mode = opts.mode ?? 0o600;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tmpName(path);
  try {
    writeFileSync(tmp, data, { mode });
    // The umask may have narrowed the mode; an existing looser file must not keep its mode either.
    if (SET_MODE) chmodSync(tmp, mode);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const mode = opts.mode ?? 0o600;
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tmpName(path);
  try {
    await writeFile(tmp, data, { mode });
    if (SET_MODE) await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
