/**
 * SECURITY: the one way a name from outside becomes a path, and the one recursive delete.
 *
 * `safeJoin(parent, ...segments)` resolves the path and refuses (400, naming the problem) anything
 * that is not strictly inside `parent`: `..`, `.`, absolute segments, and, where the folders
 * exist, a symlink on the way that leads outside (checked with lstat/realpath). `removeTree`
 * deletes only through it, so a bad name can never delete the parent or anything beside it.
 */
import { lstatSync, realpathSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { errors } from './errors';

/** Is `child` strictly inside `parent` (both absolute, normalised)? */
export function isStrictlyInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function refuse(parent: string, segments: string[], why: string): never {
  // The names are shown (they are not secrets) so the log or error says what was refused.
  throw errors.invalid(`Refused path ${JSON.stringify(segments.join('/'))} under ${parent}: ${why}.`, 'name', 'unsafe_path');
}

function realIfExists(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/**
 * `parent/segments...`, resolved, guaranteed strictly inside `parent`. Throws a 400 RelayError
 * (`unsafe_path`) otherwise.
 */
export function safeJoin(parent: string, ...segments: string[]): string {
  const base = resolve(parent);
  if (!segments.length || segments.some((s) => typeof s !== 'string' || s === '' || s.includes('\u0000'))) {
    refuse(base, segments.map(String), 'empty name or NUL character');
  }
  if (segments.some((s) => isAbsolute(s) || /^[A-Za-z]:/.test(s))) refuse(base, segments, 'absolute path');
  const target = resolve(base, ...segments);
  if (!isStrictlyInside(base, target)) refuse(base, segments, 'not inside its folder');
  // Symlinks: where the parent exists, the deepest existing part of the target must really be
  // inside the real parent (a link named like an account pointing at /home must not be followed).
  const realBase = realIfExists(base);
  if (realBase !== undefined) {
    let p = target;
    for (;;) {
      let exists = true;
      try {
        lstatSync(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
        exists = false;
      }
      if (exists || p === base) break;
      p = dirname(p);
    }
    if (p !== base) {
      // A dangling link counts as leading outside: what it names could be created later.
      const real = realIfExists(p);
      if (real === undefined || !isStrictlyInside(realBase, real)) refuse(base, segments, 'a symbolic link leads outside its folder');
    }
  }
  return target;
}

/** Recursive delete of `parent/segments...`, only through `safeJoin` (a symlink itself is removed, never followed). */
export function removeTree(parent: string, ...segments: string[]): void {
  const target = safeJoin(parent, ...segments);
  rmSync(target, { recursive: true, force: true });
}

export async function removeTreeAsync(parent: string, ...segments: string[]): Promise<void> {
  const target = safeJoin(parent, ...segments);
  await rm(target, { recursive: true, force: true });
}
