import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SafeStorageSecretStore, safeStorageProtection, type SafeStorageLike } from '../../src-main/electron/secrets';

/** A fake safeStorage: XOR "encryption" with a marker, so ciphertext never equals the text. */
function fakeSafeStorage(opts: { available?: boolean; backend?: string } = {}): SafeStorageLike & { encrypted: number } {
  const key = 0x5a;
  const s = {
    encrypted: 0,
    isEncryptionAvailable: () => opts.available ?? true,
    encryptString(text: string) {
      if (!(opts.available ?? true)) throw new Error('unavailable');
      s.encrypted++;
      return Buffer.concat([Buffer.from('v10'), Buffer.from(Buffer.from(text, 'utf8').map((b) => b ^ key))]);
    },
    decryptString(buf: Buffer) {
      if (buf.subarray(0, 3).toString() !== 'v10') throw new Error('bad ciphertext');
      return Buffer.from(buf.subarray(3).map((b) => b ^ key)).toString('utf8');
    },
    getSelectedStorageBackend: opts.backend === undefined ? undefined : () => opts.backend!,
  };
  return s;
}

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'relay-secrets-'));
  file = path.join(dir, 'secrets.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SafeStorageSecretStore', () => {
  it('round-trips, encrypted at rest, file mode 0600', async () => {
    const safe = fakeSafeStorage({ backend: 'gnome_libsecret' });
    const store = new SafeStorageSecretStore(safe, file);
    expect(store.protection).toBe('os');
    await store.set('account/alice/password', 'hunter2-correct-horse');
    expect(await store.get('account/alice/password')).toBe('hunter2-correct-horse');
    const raw = readFileSync(file, 'utf8');
    expect(raw).not.toContain('hunter2');
    expect(raw).not.toContain(Buffer.from('hunter2-correct-horse').toString('base64'));
    const parsed = JSON.parse(raw);
    expect(parsed.entries['account/alice/password']).toMatchObject({ f: 'safeStorage', level: 'os' });
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    // A new store (next launch) reads the same value.
    expect(await new SafeStorageSecretStore(safe, file).get('account/alice/password')).toBe('hunter2-correct-horse');
    expect(safe.encrypted).toBe(1);
  });

  it('macOS/Windows (no backend function) is os', () => {
    expect(safeStorageProtection(fakeSafeStorage())).toBe('os');
  });

  it('Linux basic_text is reported as basic, still never plaintext', async () => {
    const store = new SafeStorageSecretStore(fakeSafeStorage({ backend: 'basic_text' }), file);
    expect(store.protection).toBe('basic');
    await store.set('k', 'the-password');
    expect(readFileSync(file, 'utf8')).not.toContain('the-password');
    expect(JSON.parse(readFileSync(file, 'utf8')).entries.k).toMatchObject({ f: 'safeStorage', level: 'basic' });
    expect(await store.get('k')).toBe('the-password');
  });

  it('no encryption available: stored marked basic, never under os', async () => {
    const logs: string[] = [];
    const store = new SafeStorageSecretStore(fakeSafeStorage({ available: false }), file, (_l, m) => logs.push(m));
    expect(store.protection).toBe('basic');
    await store.set('k', 'pw-123456');
    const entry = JSON.parse(readFileSync(file, 'utf8')).entries.k;
    expect(entry).toMatchObject({ f: 'base64', level: 'basic' });
    expect(readFileSync(file, 'utf8')).not.toContain('pw-123456');
    expect(await store.get('k')).toBe('pw-123456');
    expect(logs.join('\n')).toMatch(/basic protection/);
    expect(logs.join('\n')).not.toContain('pw-123456');
  });

  it('delete, missing keys, concurrent writes', async () => {
    const store = new SafeStorageSecretStore(fakeSafeStorage(), file);
    expect(await store.get('nope')).toBeUndefined();
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`k${i}`, `v${i}`)));
    expect((await store.keys()).length).toBe(20);
    expect(await new SafeStorageSecretStore(fakeSafeStorage(), file).get('k13')).toBe('v13');
    await store.delete('k13');
    expect(await store.get('k13')).toBeUndefined();
    expect(await new SafeStorageSecretStore(fakeSafeStorage(), file).get('k13')).toBeUndefined();
  });

  it('undecryptable entries read as missing, with a log line without the value', async () => {
    writeFileSync(file, JSON.stringify({ version: 1, entries: { k: { f: 'safeStorage', level: 'os', v: Buffer.from('garbage').toString('base64') } } }));
    const logs: string[] = [];
    const store = new SafeStorageSecretStore(fakeSafeStorage(), file, (_l, m) => logs.push(m));
    expect(await store.get('k')).toBeUndefined();
    expect(logs[0]).toMatch(/cannot be decrypted/);
  });

  it('bad keys and corrupt files get clear errors', async () => {
    const store = new SafeStorageSecretStore(fakeSafeStorage(), file);
    expect(() => store.set('bad key with spaces', 'x')).toThrow(/invalid secret key/);
    writeFileSync(file, '{not json');
    await expect(new SafeStorageSecretStore(fakeSafeStorage(), file).get('k')).rejects.toThrow(/not valid JSON/);
    writeFileSync(file, JSON.stringify({ version: 2 }));
    await expect(new SafeStorageSecretStore(fakeSafeStorage(), file).get('k')).rejects.toThrow(/unknown format/);
  });
});
