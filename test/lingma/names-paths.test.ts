/**
 * SECURITY: names from the config file and the environment, Lingma work dirs, the runtime's
 * environment and output, and orphan cleanup.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AccountStore } from '../../src-main/core/backends/lingma/accounts';
import { isAlive, PidRegistry, spawnLingma } from '../../src-main/core/backends/lingma/process';
import { nodeSpawner as realSpawner } from '../../src-main/core/backends/registry';
import { ConfigError, loadConfig } from '../../src-main/core/config/load';
import { validateConfig } from '../../src-main/core/config/validate';
import { isSafeName, NAME_RULE } from '../../src-main/core/names';
import { captureLog, makeProvider, MemorySecrets, SIM_BIN, silentLog, tmpDir, waitFor, type Harness } from './helpers';

const REFUSED = ['..', '.', '.x', 'a/b', 'a\\b', '%2e%2e', 'x'.repeat(65)];

const issuesOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  return [];
};

const harnesses: Harness[] = [];
const killList: number[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
  for (const pid of killList.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

describe('names from the config file and the environment', () => {
  it('the config file refuses unsafe account, provider and key names, naming the rule', () => {
    for (const name of REFUSED) {
      const dir = tmpDir();
      const file = join(dir, 'relay.json');
      writeFileSync(
        file,
        JSON.stringify({
          lingma: { accounts: [{ username: 'alice', password: 'pw', name }] },
          providers: [{ name, type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' }],
          server: { apiKeys: [{ key: 'sk-relay-0123456789', name }] },
        }),
      );
      const issues = issuesOf(() => loadConfig({ flags: { config: file, dataDir: dir }, env: {} }));
      expect(issues, name).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^lingma\.accounts\[0\]\.name: expected 1-64 letters/),
          expect.stringMatching(/^providers\[0\]\.name: expected 1-64 letters/),
          expect.stringMatching(/^server\.apiKeys\[0\]\.name: expected 1-64 letters/),
        ]),
      );
      for (const i of issues) expect(i).toContain(NAME_RULE);
    }
  });

  it('LINGMA_ACCOUNTS refuses unsafe names; user names become safe derived names', () => {
    for (const name of REFUSED) {
      const issues = issuesOf(() => loadConfig({ flags: { dataDir: tmpDir() }, env: { LINGMA_ACCOUNTS: JSON.stringify([{ username: 'u', password: 'p', name }]) } }));
      expect(issues, name).toEqual([`LINGMA_ACCOUNTS[0].name: must be ${NAME_RULE}.`]);
    }
    const dataDir = tmpDir();
    const { config } = loadConfig({ flags: { dataDir }, env: { LINGMA_ACCOUNTS: REFUSED.map((u) => `${u}:pw`).join(',') } });
    const store = new AccountStore(config.lingma.accounts, dataDir, new MemorySecrets(), silentLog());
    const names = store.all().map((a) => a.name);
    expect(names).toHaveLength(REFUSED.length);
    for (const n of names) expect(isSafeName(n), n).toBe(true);
    expect(new Set(names).size).toBe(names.length);
  });

  it('alias names from the config keep patterns and refuse path tricks', () => {
    expect(() => validateConfig({ aliases: { 'claude-*': 'lingma/x', coder: { chain: ['lingma/x'] } } })).not.toThrow();
    expect(issuesOf(() => validateConfig({ aliases: { '../x': 'lingma/x' } }))).toEqual([expect.stringMatching(/^aliases: alias '..\/x': names must be/)]);
  });

  it('accounts.json with an unsafe name: ignored with a warning, never a work dir', async () => {
    const dataDir = tmpDir();
    writeFileSync(join(dataDir, 'accounts.json'), JSON.stringify({ accounts: [{ name: '..', username: 'evil' }, { name: 'ok', username: 'fine' }] }));
    const cap = captureLog();
    const store = new AccountStore([], dataDir, new MemorySecrets(), cap.log);
    expect(store.all().map((a) => a.name)).toEqual(['ok']);
    expect(cap.text()).toContain('accounts.json: account ignored');
  });
});

describe('the Lingma runtime: environment, output, orphans', () => {
  it('gets the filtered environment, and its output is redacted before the log', async () => {
    const dir = tmpDir();
    const bin = join(dir, 'fake-lingma');
    writeFileSync(bin, '#!/bin/sh\nenv\necho "error: refresh failed for token_abcdefghijk0123 at https://x.example/cb?token=qq-secret-qq"\n');
    chmodSync(bin, 0o755);
    const cap = captureLog();
    const p = spawnLingma({
      spawner: realSpawner,
      binary: bin,
      workDir: join(dir, 'lingma', 'w'),
      socketPort: 1,
      httpPort: 2,
      extraArgs: [],
      env: { ...process.env, LINGMA_ACCOUNTS: 'alice:planted-pass-9', RELAY_API_KEYS: 'sk-relay-planted-00000', RELAY_ADMIN_TOKEN: 'planted-admin' },
      log: cap.log,
    });
    await p.exited;
    await waitFor(() => cap.text().includes('refresh failed'), 'the output line');
    const text = cap.text();
    expect(text).toContain('PATH=');
    expect(text).not.toContain('planted');
    expect(text).not.toContain('LINGMA_ACCOUNTS');
    expect(text).not.toContain('token_abcdefghijk0123');
    expect(text).not.toContain('qq-secret-qq');
  });

  it('orphan cleanup: only our binary with exactly our --workDir inside <data>/lingma/; bad entries are ignored with a warning', async () => {
    const h = makeProvider({ lingma: { accounts: [{ username: 'o' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'o' } });
    harnesses.push(h);
    const lingmaDir = join(h.dataDir, 'lingma');
    const ghost = join(lingmaDir, 'ghost');
    const foreign = join(tmpDir(), 'elsewhere');
    mkdirSync(ghost, { recursive: true });
    mkdirSync(foreign, { recursive: true });
    const startSim = (workDir: string) => {
      const c = spawn(SIM_BIN, ['start', `--workDir=${workDir}`, '--socketPort=0', '--httpPort=0'], { stdio: 'ignore', detached: true });
      c.unref();
      killList.push(c.pid!);
      return c.pid!;
    };
    // The orphan: our binary, our work dir.
    const orphan = startSim(ghost);
    // Our binary with a work dir outside <data>/lingma/ (a planted pids.json entry).
    const outside = startSim(foreign);
    // Another program that carries our flag: not our binary.
    const impostor = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'start', `--workDir=${join(lingmaDir, 'imp')}`], { stdio: 'ignore', detached: true });
    impostor.unref();
    killList.push(impostor.pid!);
    // Our binary, but a work dir that only starts like the entry's (`ghost2` vs `ghost`).
    mkdirSync(join(lingmaDir, 'ghost2'));
    const prefix = startSim(join(lingmaDir, 'ghost2'));
    const cmdOf = (pid: number) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        return '';
      }
    };
    await waitFor(() => [orphan, outside, prefix].every((pid) => cmdOf(pid).includes('lingma-sim')), 'simulators running');
    let deadOwner = 4_000_000;
    while (isAlive(deadOwner)) deadOwner++;
    const entry = (pid: number, workDir: string) => ({ pid, workDir, owner: deadOwner, startedAt: 1 });
    writeFileSync(
      join(lingmaDir, 'pids.json'),
      JSON.stringify({
        ghost: entry(orphan, ghost),
        foreign: entry(outside, foreign),
        empty: entry(outside, ''),
        dotdot: entry(outside, join(lingmaDir, '..')),
        impostor: entry(impostor.pid!, join(lingmaDir, 'imp')),
        prefix: entry(prefix, join(lingmaDir, 'ghost')),
      }),
    );
    const cap = captureLog();
    const reg = new PidRegistry(join(lingmaDir, 'pids.json'), cap.log);
    expect(await reg.cleanupLeftovers(SIM_BIN, 3000)).toBe(1);
    expect(isAlive(orphan)).toBe(false);
    expect(isAlive(outside)).toBe(true);
    expect(isAlive(impostor.pid!)).toBe(true);
    expect(isAlive(prefix)).toBe(true);
    const warnings = cap.text().split('\n').filter((l) => l.includes('pids.json: entry ignored'));
    expect(warnings.map((l) => JSON.parse(l).instance).sort()).toEqual(['dotdot', 'empty', 'foreign']);
    expect(JSON.parse(readFileSync(join(lingmaDir, 'pids.json'), 'utf8'))).toEqual({});
    // Without a known binary nothing is signalled.
    writeFileSync(join(lingmaDir, 'pids.json'), JSON.stringify({ prefix: entry(prefix, join(lingmaDir, 'ghost2')) }));
    expect(await new PidRegistry(join(lingmaDir, 'pids.json'), silentLog()).cleanupLeftovers(undefined)).toBe(0);
    expect(isAlive(prefix)).toBe(true);
  }, 60_000);

  it('removing an account deletes its work dir only', async () => {
    const h = makeProvider({ env: { LINGMA_SIM_LOGGED_IN_AS: 'x' } });
    harnesses.push(h);
    await h.provider.accounts.add({ username: 'dora', password: 'pw-dora-1', name: 'dora' });
    mkdirSync(join(h.dataDir, 'lingma', 'dora', 'cache'), { recursive: true });
    writeFileSync(join(h.dataDir, 'keep.txt'), 'x');
    await h.provider.accounts.remove('dora');
    expect(existsSync(join(h.dataDir, 'lingma', 'dora'))).toBe(false);
    expect(existsSync(join(h.dataDir, 'keep.txt'))).toBe(true);
    expect(existsSync(join(h.dataDir, 'lingma'))).toBe(true);
  });
});

