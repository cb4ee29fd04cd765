/**
 * The data dir: generated secrets (API key, admin token), created keys, accounts, the ledger.
 * SECURITY: the folder is created 0700 and every secret file 0600 (POSIX); writes are atomic
 * (temp file + rename) so a crash never leaves half a secret.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './schema';
import { writeFileAtomicSync } from '../fs-atomic';

export const ADMIN_TOKEN_FILE = 'admin-token';
export const API_KEY_FILE = 'api-key';

export interface EnsureDataDirOptions {
  /** Called when an existing dir let group/others in and was chmod-ed to 0700 (old mode given). */
  onTightened?: (oldMode: number) => void;
  platform?: NodeJS.Platform;
}

/**
 * Create the data dir (0700) if missing; an existing one that group or others can enter is
 * tightened to 0700 (POSIX). Returns true when it was created now.
 */
export function ensureDataDir(dir: string, opts: EnsureDataDirOptions = {}): boolean {
  const posix = (opts.platform ?? process.platform) !== 'win32';
  let existed = true;
  let mode = 0;
  try {
    const st = statSync(dir);
    if (!st.isDirectory()) throw new Error(`data dir ${dir} exists and is not a folder`);
    mode = st.mode & 0o777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    existed = false;
  }
  if (!existed) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (posix) chmodSync(dir, 0o700);
  } else if (posix && (mode & 0o077) !== 0) {
    // SECURITY: the ledger, keys and Lingma login tokens live here; an older or hand-made folder
    // at 0755 would let other users read them.
    chmodSync(dir, 0o700);
    opts.onTightened?.(mode);
  }
  return !existed;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `n` characters of base62 from the CSPRNG, without modulo bias. */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      if (b < 248) out += BASE62[b % 62]; // 248 = 4 * 62: reject the rest so every symbol is equally likely
      if (out.length === n) break;
    }
  }
  return out;
}

export const newApiKey = (): string => `sk-relay-${randomBase62(32)}`;
export const newAdminToken = (): string => `relay-admin-${randomBase62(32)}`;

/** Write a secret file atomically with mode 0600 (`core/fs-atomic.ts`). */
export function writeSecretFile(path: string, content: string): void {
  writeFileAtomicSync(path, content, { mode: 0o600 });
}

/** The trimmed content of a file, or undefined when it does not exist. */
export function readSecretFile(path: string): string | undefined {
  try {
    const v = readFileSync(path, 'utf8').trim();
    return v || undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export interface AdminTokenResult {
  token: string;
  /** Set only when the token was generated just now (first run): the host shows it once. */
  generated?: string;
  source: 'config' | 'data-dir' | 'generated';
}

/** The admin token: `server.adminToken`, else `<dataDir>/admin-token`, else a new one written there. */
export function ensureAdminToken(config: Config, dataDir: string): AdminTokenResult {
  if (config.server.adminToken) return { token: config.server.adminToken, source: 'config' };
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  const existing = readSecretFile(file);
  if (existing) return { token: existing, source: 'data-dir' };
  const token = newAdminToken();
  writeSecretFile(file, token + '\n');
  return { token, generated: token, source: 'generated' };
}
