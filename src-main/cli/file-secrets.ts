/**
 * The headless host's SecretStore: one JSON file in the data dir, mode 0600, written atomically.
 * SECURITY: protection is `file` (readable by this OS user only, not encrypted); the dashboard
 * shows that level. Values never reach logs: errors name the file, never a key's value.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSecretFile } from '../core/config/datadir';
import type { SecretStore } from '../core/ports';

export class FileSecretStore implements SecretStore {
  readonly protection = 'file' as const;
  readonly path: string;
  private cache: Record<string, string> | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string, fileName = 'secrets.json') {
    this.path = join(dataDir, fileName);
  }

  private load(): Record<string, string> {
    if (this.cache) return this.cache;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return (this.cache = {});
      throw new Error(`cannot read the secrets file ${this.path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`the secrets file ${this.path} is not valid JSON; fix or remove it (passwords must then be entered again)`);
    }
    const out: Record<string, string> = {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
      for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
    }
    return (this.cache = out);
  }

  /** Writes are serialised so two concurrent sets never lose one another. */
  private write(mutate: (d: Record<string, string>) => void): Promise<void> {
    const next = this.chain.then(() => {
      const d = { ...this.load() };
      mutate(d);
      writeSecretFile(this.path, JSON.stringify(d, null, 2) + '\n');
      this.cache = d;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  async get(key: string): Promise<string | undefined> {
    await this.chain;
    return this.load()[key];
  }

  set(key: string, value: string): Promise<void> {
    if (typeof key !== 'string' || !key) return Promise.reject(new Error('secret key must be a non-empty string'));
    if (typeof value !== 'string') return Promise.reject(new Error(`secret ${key}: value must be a string`));
    return this.write((d) => {
      d[key] = value;
    });
  }

  delete(key: string): Promise<void> {
    return this.write((d) => {
      delete d[key];
    });
  }
}
