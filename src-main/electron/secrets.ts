/**
 * SECURITY: the desktop `SecretStore`. Values are encrypted with Electron's `safeStorage` before
 * they touch disk (a JSON file in userData, mode 0600, written atomically). The protection level is
 * reported honestly: `basic` when Linux has no keyring (`basic_text`) or encryption is unavailable,
 * so the dashboard can warn; `os` only when the OS really protects the key.
 * Must be used after `app` is ready (safeStorage is not usable before).
 */
import { promises as fs } from 'node:fs';
import type { SafeStorage } from 'electron';
import type { SecretStore } from '../core/ports';
import type { Log } from './security';
import { writeFileAtomic } from '../core/fs-atomic';

export type SafeStorageLike = Pick<SafeStorage, 'isEncryptionAvailable' | 'encryptString' | 'decryptString'> & {
  /** Linux only (absent on macOS/Windows). */
  getSelectedStorageBackend?: () => string;
};

interface Entry {
  /** `safeStorage`: v = base64 ciphertext. `base64`: encryption was unavailable; v = base64 of the UTF-8 text. */
  f: 'safeStorage' | 'base64';
  /** Protection level when it was written. */
  level: 'os' | 'basic';
  v: string;
}

interface FileShape {
  version: 1;
  entries: Record<string, Entry>;
}

const KEY_RE = /^[A-Za-z0-9._:/@+-]{1,256}$/;

/** The protection level safeStorage currently gives. */
export function safeStorageProtection(s: SafeStorageLike): 'os' | 'basic' {
  if (!s.isEncryptionAvailable()) return 'basic';
  const backend = typeof s.getSelectedStorageBackend === 'function' ? s.getSelectedStorageBackend() : undefined;
  return backend === 'basic_text' ? 'basic' : 'os';
}

export class SafeStorageSecretStore implements SecretStore {
  private cache: FileShape | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly safe: SafeStorageLike,
    /** e.g. `<userData>/secrets.json` */
    private readonly file: string,
    private readonly log?: Log,
  ) {}

  get protection(): 'os' | 'basic' {
    return safeStorageProtection(this.safe);
  }

  async get(key: string): Promise<string | undefined> {
    checkKey(key);
    const data = await this.load();
    const e = data.entries[key];
    if (!e) return undefined;
    try {
      const buf = Buffer.from(e.v, 'base64');
      if (e.f === 'base64') return buf.toString('utf8');
      return this.safe.decryptString(buf);
    } catch {
      // The keyring changed or the file was tampered with. Never log the value.
      this.log?.('warn', `stored secret ${key} cannot be decrypted; it must be entered again`);
      return undefined;
    }
  }

  set(key: string, value: string): Promise<void> {
    checkKey(key);
    if (typeof value !== 'string') throw new TypeError(`secret ${key} must be a string`);
    return this.mutate((data) => {
      const level = this.protection;
      if (this.safe.isEncryptionAvailable()) {
        data.entries[key] = { f: 'safeStorage', level, v: this.safe.encryptString(value).toString('base64') };
      } else {
        // SECURITY: no encryption on this system. Stored encoded only and marked `basic`, so the
        // UI says so; never presented as protected.
        this.log?.('warn', `no OS encryption available: secret ${key} is stored with basic protection only`);
        data.entries[key] = { f: 'base64', level: 'basic', v: Buffer.from(value, 'utf8').toString('base64') };
      }
    });
  }

  delete(key: string): Promise<void> {
    checkKey(key);
    return this.mutate((data) => {
      delete data.entries[key];
    });
  }

  /** Keys currently stored (for migrations and tests; never values). */
  async keys(): Promise<string[]> {
    return Object.keys((await this.load()).entries);
  }

  private async load(): Promise<FileShape> {
    if (this.cache) return this.cache;
    let text: string;
    try {
      text = await fs.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return (this.cache = { version: 1, entries: {} });
      throw e;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`secret file ${this.file} is not valid JSON; move it away to start fresh`);
    }
    if (!isFileShape(parsed)) throw new Error(`secret file ${this.file} has an unknown format; move it away to start fresh`);
    return (this.cache = parsed);
  }

  private mutate(fn: (data: FileShape) => void): Promise<void> {
    const run = async () => {
      const data = await this.load();
      const next: FileShape = { version: 1, entries: { ...data.entries } };
      fn(next);
      await writePrivate(this.file, JSON.stringify(next, null, 2));
      this.cache = next;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || !KEY_RE.test(key)) throw new TypeError(`invalid secret key ${JSON.stringify(String(key).slice(0, 80))}`);
}

function isFileShape(v: unknown): v is FileShape {
  if (!v || typeof v !== 'object') return false;
  const o = v as { version?: unknown; entries?: unknown };
  if (o.version !== 1 || !o.entries || typeof o.entries !== 'object') return false;
  return Object.values(o.entries as Record<string, unknown>).every((e) => {
    const x = e as Partial<Entry>;
    return !!x && (x.f === 'safeStorage' || x.f === 'base64') && (x.level === 'os' || x.level === 'basic') && typeof x.v === 'string';
  });
}

/** SECURITY: write via a 0600 temp file and rename, so the file is never world-readable nor half-written. */
export async function writePrivate(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text, { mode: 0o600 });
}
