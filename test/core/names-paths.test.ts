/** The one name rule, the one safe-path helper and recursive delete, the child environment filter. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeSpawner } from '../../src-main/core/backends/registry';
import { childEnv, isChildEnvName } from '../../src-main/core/child-env';
import { aliasNameProblem, deriveSafeName, isSafeName, NAME_RULE, nameProblem } from '../../src-main/core/names';
import { removeTree, safeJoin } from '../../src-main/core/safe-path';

export const REFUSED_NAMES = ['..', '.', '.x', 'a/b', 'a\\b', '%2e%2e', 'x'.repeat(65)];
export const ACCEPTED_NAMES = ['acct-1', 'a..b', 'A_b.c-9', 'x'.repeat(64), '_', '-dash'];

const roots: string[] = [];
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));
const sandbox = (): string => {
  const r = mkdtempSync(join(tmpdir(), 'relay-names-'));
  roots.push(r);
  return r;
};

describe('the name rule', () => {
  it('refuses dots-first, separators, escapes and long names, naming the rule', () => {
    for (const n of REFUSED_NAMES) {
      expect(isSafeName(n), n).toBe(false);
      expect(nameProblem(n)).toBe(`name: must be ${NAME_RULE}.`);
    }
    for (const n of ['', ' a', 'a b', 'a\u0000', 'é', 'a:b', 'C:']) expect(isSafeName(n), JSON.stringify(n)).toBe(false);
    expect(isSafeName(42)).toBe(false);
  });

  it('accepts letters, digits, - _ . (not first)', () => {
    for (const n of ACCEPTED_NAMES) expect(isSafeName(n), n).toBe(true);
  });

  it('derived names (from user names) are always safe and unique', () => {
    const taken = new Set<string>(['alice']);
    expect(deriveSafeName('Alice@example.com', taken, 'lingma-1')).toBe('alice-2');
    for (const u of ['..', '.', '../../etc', '...@x', '%2e%2e', 'a/b', '\\\\server\\share', '', '.'.repeat(300), 'ü'.repeat(70), 'x'.repeat(200)]) {
      const n = deriveSafeName(u, taken, 'lingma-7');
      expect(isSafeName(n), `${u} -> ${n}`).toBe(true);
    }
    expect(deriveSafeName('..', new Set(), 'lingma-7')).toBe('lingma-7');
  });

  it('alias names keep their pattern syntax, without path tricks', () => {
    for (const n of ['claude-*', 'coder', 'default', 'gpt-4o', 'openai/gpt-4o', 'claude-3-*', '*', 'qwen:7b', 'model@2024']) expect(aliasNameProblem(n), n).toBeUndefined();
    for (const n of ['..', '.hidden', '/abs', 'a\\b', 'a b', 'a\nb', 'x'.repeat(129), '']) expect(aliasNameProblem(n), JSON.stringify(n)).toMatch(/names must be/);
  });
});

describe('safeJoin / removeTree', () => {
  it('joins a plain name inside the parent', () => {
    const root = sandbox();
    expect(safeJoin(root, 'acct-1')).toBe(join(root, 'acct-1'));
    expect(safeJoin(join(root, 'no-such-parent'), 'a', 'b')).toBe(join(root, 'no-such-parent', 'a', 'b'));
  });

  it('refuses the parent itself, anything above it and absolute paths (400 unsafe_path)', () => {
    const root = sandbox();
    for (const segs of [['..'], ['.'], [''], ['a', '..'], ['a/../..'], ['../x'], ['/etc'], [root], ['a\u0000b'], []]) {
      expect(() => safeJoin(root, ...segs), JSON.stringify(segs)).toThrow(expect.objectContaining({ status: 400, code: 'unsafe_path' }));
    }
  });

  it('refuses a symlink that leads outside (also a dangling one), allows one that stays inside', () => {
    const root = sandbox();
    const parent = join(root, 'parent');
    const outside = join(root, 'outside');
    mkdirSync(join(parent, 'real'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep.txt'), 'precious');
    symlinkSync(outside, join(parent, 'evil'));
    symlinkSync(join(root, 'nowhere'), join(parent, 'dangling'));
    symlinkSync(join(parent, 'real'), join(parent, 'inner'));
    expect(() => safeJoin(parent, 'evil')).toThrow(/symbolic link/);
    expect(() => safeJoin(parent, 'evil', 'deeper')).toThrow(/symbolic link/);
    expect(() => safeJoin(parent, 'dangling')).toThrow(/symbolic link/);
    expect(safeJoin(parent, 'inner')).toBe(join(parent, 'inner'));
    expect(() => removeTree(parent, 'evil')).toThrow();
    expect(readdirSync(outside)).toEqual(['keep.txt']);
    // A parent that is itself reached through a symlink is fine: containment is judged on real paths.
    const viaLink = join(root, 'parent-link');
    symlinkSync(parent, viaLink);
    expect(safeJoin(viaLink, 'real')).toBe(join(viaLink, 'real'));
  });

  it('removeTree deletes only the named folder, never the parent or a sibling', () => {
    const root = sandbox();
    const parent = join(root, 'lingma');
    mkdirSync(join(parent, 'a', 'deep'), { recursive: true });
    mkdirSync(join(parent, 'b'));
    writeFileSync(join(root, 'tokens'), 'x');
    for (const bad of ['..', '.', '../lingma', '/']) expect(() => removeTree(parent, bad)).toThrow();
    removeTree(parent, 'a');
    expect(readdirSync(parent)).toEqual(['b']);
    expect(existsSync(join(root, 'tokens'))).toBe(true);
    removeTree(parent, 'never-existed');
  });
});

describe('child environment', () => {
  const parent: NodeJS.ProcessEnv = {
    PATH: '/usr/bin:/bin',
    HOME: '/home/u',
    USER: 'u',
    LANG: 'en_US.UTF-8',
    LC_ALL: 'C',
    TZ: 'UTC',
    https_proxy: 'http://proxy:3128',
    NO_PROXY: 'localhost',
    XDG_RUNTIME_DIR: '/run/user/1',
    DISPLAY: ':0',
    SystemRoot: 'C:\\Windows',
    TMPDIR: '/tmp/u',
    LINGMA_ACCOUNTS: 'alice:hunter2-password',
    RELAY_API_KEYS: 'sk-relay-planted-0000000000',
    RELAY_ADMIN_TOKEN: 'relay-admin-planted',
    LINGMA_BIN: '/opt/lingma',
    LINGMA_SIM_LOGGED_IN_AS: 'x',
    AWS_SECRET_ACCESS_KEY: 'aws-planted',
    GITHUB_TOKEN: 'ghp_planted',
    NODE_OPTIONS: '--require /tmp/evil.js',
  };

  it('keeps what a program needs, drops ours and everything else', () => {
    expect(childEnv(parent)).toEqual({
      PATH: '/usr/bin:/bin',
      HOME: '/home/u',
      USER: 'u',
      LANG: 'en_US.UTF-8',
      LC_ALL: 'C',
      TZ: 'UTC',
      https_proxy: 'http://proxy:3128',
      NO_PROXY: 'localhost',
      XDG_RUNTIME_DIR: '/run/user/1',
      DISPLAY: ':0',
      SystemRoot: 'C:\\Windows',
      TMPDIR: '/tmp/u',
    });
    for (const k of ['ProgramFiles(x86)', 'COMSPEC', 'windir', 'WAYLAND_DISPLAY', 'ALL_PROXY', 'LOGNAME', 'SHELL']) expect(isChildEnvName(k), k).toBe(true);
  });

  it('a child spawned through the real spawner sees only the filtered environment', async () => {
    const saved = { ...process.env };
    process.env.LINGMA_ACCOUNTS = 'alice:planted-password-123';
    process.env.RELAY_API_KEYS = 'sk-relay-planted-key-0000';
    process.env.SOME_OTHER_SECRET = 'planted-other';
    try {
      const child = nodeSpawner.spawn(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.env))'], {});
      let out = '';
      child.stdout!.on('data', (d) => (out += String(d)));
      await new Promise((r) => child.once('close', r));
      const env = JSON.parse(out) as Record<string, string>;
      expect(env.PATH).toBe(process.env.PATH);
      expect(env.LINGMA_ACCOUNTS).toBeUndefined();
      expect(env.RELAY_API_KEYS).toBeUndefined();
      expect(env.SOME_OTHER_SECRET).toBeUndefined();
      expect(out).not.toContain('planted');
    } finally {
      for (const k of ['LINGMA_ACCOUNTS', 'RELAY_API_KEYS', 'SOME_OTHER_SECRET']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
