import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountStore, deriveName, passwordKey } from '../../src-main/core/backends/lingma/accounts';
import { EventHub } from '../../src-main/core/events';
import { MemorySecrets, makeProvider, silentLog, tmpDir, waitFor, type Harness } from './helpers';

const harnesses: Harness[] = [];
const track = (h: Harness) => (harnesses.push(h), h);
afterEach(async () => {
  await Promise.allSettled(harnesses.splice(0).map((h) => h.close()));
});

describe('account store', () => {
  it('derives safe, unique instance names', () => {
    const taken = new Set<string>(['alice']);
    expect(deriveName('Alice@example.com', taken, 1)).toBe('alice-2');
    expect(deriveName('张三', new Set(), 3)).toBe('lingma-3');
    expect(deriveName('bob smith', new Set(), 1)).toBe('bob-smith');
  });

  it('keeps runtime passwords only in the secret store, never in accounts.json', async () => {
    const dir = tmpDir();
    const secrets = new MemorySecrets();
    const store = new AccountStore([{ username: 'cfg', password: 'cfg-pw' }], dir, secrets, silentLog());
    const a = await store.add({ username: 'rt@example.com', password: 'rt-secret-pw', maxConcurrency: 2 });
    expect(a).toMatchObject({ name: 'rt', username: 'rt@example.com', source: 'runtime' });
    const file = readFileSync(join(dir, 'accounts.json'), 'utf8');
    expect(file).not.toContain('rt-secret-pw');
    expect(file).not.toContain('password');
    expect(secrets.map.get(passwordKey('rt'))).toBe('rt-secret-pw');
    const list = await store.list();
    expect(list).toEqual([
      { name: 'cfg', username: 'cfg', hasPassword: true, source: 'config', dedicatedDomain: undefined, maxConcurrency: undefined, disabled: undefined },
      { name: 'rt', username: 'rt@example.com', hasPassword: true, source: 'runtime', dedicatedDomain: undefined, maxConcurrency: 2, disabled: undefined },
    ]);
    expect(JSON.stringify(list)).not.toMatch(/pw/);
    // Reloaded from disk.
    const again = new AccountStore([], dir, secrets, silentLog());
    expect(again.all().map((x) => x.name)).toEqual(['rt']);
    expect(await again.password('rt')).toBe('rt-secret-pw');
    // Password optional on update = unchanged; null = removed.
    await again.update('rt', { maxConcurrency: 4 });
    expect(await again.password('rt')).toBe('rt-secret-pw');
    await again.update('rt', { password: null });
    expect(await again.password('rt')).toBeUndefined();
    await again.remove('rt');
    expect(again.all()).toEqual([]);
  });

  it('refuses bad input with clear 400/404 errors', async () => {
    const store = new AccountStore([{ username: 'cfg', name: 'cfg' }], tmpDir(), new MemorySecrets(), silentLog());
    await expect(store.add({ username: '' })).rejects.toMatchObject({ status: 400, param: 'username' });
    await expect(store.add({ username: 'x', name: 'bad name!' })).rejects.toMatchObject({ status: 400, param: 'name' });
    await expect(store.add({ username: 'x', dedicatedDomain: 'ftp://x' })).rejects.toMatchObject({ status: 400, param: 'dedicatedDomain' });
    await expect(store.add({ username: 'x', maxConcurrency: 0 })).rejects.toMatchObject({ status: 400, param: 'maxConcurrency' });
    await expect(store.add({ username: 'cfg' })).rejects.toMatchObject({ status: 400, code: 'account_exists' });
    await expect(store.update('cfg', { disabled: true })).rejects.toMatchObject({ status: 400, code: 'account_read_only' });
    await expect(store.remove('cfg')).rejects.toMatchObject({ status: 400, code: 'account_read_only' });
    await expect(store.update('ghost', {})).rejects.toMatchObject({ status: 404 });
    await expect(store.remove('ghost')).rejects.toMatchObject({ status: 404 });
  });
});

describe('provider account operations', () => {
  it('announces each account change with exactly one config event', async () => {
    const hub = new EventHub();
    const seen: string[] = [];
    hub.on('config', (what) => seen.push(what));
    const h = track(makeProvider({ deps: { hub } }));
    await h.provider.accounts.add({ username: 'one', password: 'pw-one-1' });
    expect(seen).toEqual(['accounts']);
    await h.provider.accounts.update('one', { maxConcurrency: 3 });
    expect(seen).toEqual(['accounts', 'accounts']);
    await h.provider.accounts.remove('one');
    expect(seen).toEqual(['accounts', 'accounts', 'accounts']);
  });

  it('adds an account at runtime (its instance starts), lists it without secrets, removes it (process and work dir gone)', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'base' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'x' } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const added = await h.provider.accounts.add({ username: 'newbie', password: 'n3w-pw' });
    expect(added).toMatchObject({ name: 'newbie', hasPassword: true, source: 'runtime' });
    expect(JSON.stringify(await h.provider.accounts.list())).not.toContain('n3w-pw');
    const inst = h.provider.lingmaInstances().find((i) => i.name === 'newbie')!;
    await waitFor(() => inst.state() === 'ready', 'new instance ready');
    const pid = inst.snapshot().extra!.pid as number;
    expect(existsSync(join(h.dataDir, 'lingma', 'newbie'))).toBe(true);
    await h.provider.accounts.update('newbie', { maxConcurrency: 5 });
    expect(inst.maxConcurrency).toBe(5);
    await h.provider.accounts.remove('newbie');
    expect(h.provider.lingmaInstances().map((i) => i.name)).toEqual(['base']);
    expect(inst.state()).toBe('closed');
    expect(existsSync(join(h.dataDir, 'lingma', 'newbie'))).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(h.secrets.map.has(passwordKey('newbie'))).toBe(false);
    await expect(h.provider.accounts.login('ghost')).rejects.toMatchObject({ status: 404 });
    await expect(h.provider.accounts.restart('')).rejects.toMatchObject({ status: 400 });
  }, 60_000);

  it('with no account configured there is one instance to log in by hand', async () => {
    const h = track(makeProvider({ env: { LINGMA_SIM_LOGGED_IN_AS: 'solo' } }));
    await h.provider.start();
    await h.provider.whenStarted();
    expect(h.provider.lingmaInstances().map((i) => [i.name, i.state()])).toEqual([['lingma-1', 'ready']]);
    expect(await h.provider.accounts.list()).toEqual([]);
  }, 60_000);

  it('a disabled account does not start', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'off', disabled: true }] } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    expect(inst.state()).toBe('stopped');
    await expect(inst.ensureReady(new AbortController().signal)).rejects.toMatchObject({ status: 503 });
  });
});
