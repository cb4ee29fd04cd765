/**
 * SECURITY: the headless login driver's browser profiles. Each login works in
 * `<data>/login-profiles/<name>` only: a run for every accepted name changes nothing outside that
 * folder; refused names (`..`, `.`, ...) run nothing and change nothing. The browser gets the
 * filtered environment (read from /proc while it runs).
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { loginProfilesDir } from '../../src-main/cli/login-browser';
import { createSignInPolicy } from '../../src-main/core/sign-in-policy';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import { NAME_RULE } from '../../src-main/core/names';
import type { LoginRequest } from '../../src-main/core/ports';
import { startLoginSite, type LoginSite } from '../sim/login-site';
import { captureLogger, loginUrlFor, startCallbackServer } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const PASSWORD = 'S3cret-pass!';
const REFUSED = ['..', '.', '.x', 'a/b', 'a\\b', '%2e%2e', 'x'.repeat(65)];
const ACCEPTED = ['acct-1', 'a..b', 'A_b.c-9', 'x'.repeat(64)];

/** Every path under `root` (not following links) with what it is: files by size and content hash-ish. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.set(p, 'dir');
        walk(p);
      } else {
        out.set(p, st.isSymbolicLink() ? 'link' : `file:${st.size}:${readFileSync(p, 'utf8')}`);
      }
    }
  };
  walk(root);
  return out;
}

/** Paths added, removed or changed between two snapshots, except under `own`. */
function changedOutside(a: Map<string, string>, b: Map<string, string>, own: string): string[] {
  const inOwn = (p: string) => p === own || p.startsWith(own + sep);
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys].filter((k) => !inOwn(k) && a.get(k) !== b.get(k));
}

describe('login profiles: names and paths', () => {
  let root: string;
  let dataDir: string;
  let profiles: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'relay-profiles-'));
    dataDir = join(root, 'data');
    profiles = loginProfilesDir(dataDir);
    mkdirSync(join(dataDir, 'lingma', 'acct-1'), { recursive: true });
    writeFileSync(join(dataDir, 'admin-token'), 'relay-admin-keep');
    writeFileSync(join(dataDir, 'lingma', 'acct-1', 'token'), 'keep');
    writeFileSync(join(root, 'beside-the-data-dir'), 'keep');
    mkdirSync(profiles, { recursive: true, mode: 0o700 });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const req = (instance: string, over: Partial<LoginRequest> = {}): LoginRequest => ({
    instance,
    loginUrl: 'http://127.0.0.1:9/lingma/login?state=s',
    callbackUrl: 'http://127.0.0.1:9/auth/callback',
    credentials: { username: 'alice', password: PASSWORD },
    recipe: DEFAULT_LOGIN_RECIPE,
    timeoutMs: 20000,
    isLoggedIn: async () => false,
    signal: new AbortController().signal,
    // The local sign-in site is allowed explicitly, as a user would for a local test site.
    policy: createSignInPolicy({ allowedOrigins: ['http://127.0.0.1:*'], callbackUrl: 'http://127.0.0.1:9/auth/callback' }),
    ...over,
  });

  it('refused names run nothing and change nothing (an existing "browser" is enough: nothing is launched)', async () => {
    const driver = createPlaywrightLoginDriver({ executablePath: process.execPath, log: captureLogger().log, profilesDir: profiles });
    for (const name of REFUSED) {
      const before = snapshot(root);
      const out = await driver.login(req(name));
      expect(out, name).toEqual({ kind: 'failed', reason: `instance name: must be ${NAME_RULE}.` });
      await driver.clear!(name);
      expect(changedOutside(before, snapshot(root), join(profiles, '\u0000none')), name).toEqual([]);
    }
  });

  describe.skipIf(!haveChromium)('with the system Chromium', () => {
    let site: LoginSite;
    let cb: Awaited<ReturnType<typeof startCallbackServer>>;
    const saved = { ...process.env };
    beforeAll(async () => {
      site = await startLoginSite({ users: { alice: PASSWORD } });
      cb = await startCallbackServer();
      // Planted secrets the browser must not inherit.
      process.env.LINGMA_ACCOUNTS = 'alice:planted-browser-pass';
      process.env.RELAY_API_KEYS = 'sk-relay-planted-browser-key';
    });
    afterAll(async () => {
      for (const k of ['LINGMA_ACCOUNTS', 'RELAY_API_KEYS']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      await site?.close();
      await cb?.close();
    });

    /** The environment of the browser process running on `dir` (its --user-data-dir), from /proc. */
    function browserEnv(dir: string): string | undefined {
      for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        try {
          const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
          // The browser process itself: its helpers (`--type=zygote`, renderers) rewrite their
          // argv/environ area with a process title.
          if (cmd.includes(`--user-data-dir=${dir}`) && !cmd.includes('--type=')) return readFileSync(`/proc/${pid}/environ`, 'utf8');
        } catch {
          /* gone or not ours */
        }
      }
      return undefined;
    }

    it('a login for every accepted name touches nothing outside <data>/login-profiles/<name>; the browser env is filtered', async () => {
      const driver = createPlaywrightLoginDriver({ executablePath: CHROMIUM, log: captureLogger().log, profilesDir: profiles, formWaitMs: 5000, pollMs: 200 });
      let n = 0;
      for (const name of ACCEPTED) {
        const state = `paths-${++n}`;
        cb.expect(state);
        cb.reset();
        const own = join(profiles, name);
        const before = snapshot(root);
        let env: string | undefined;
        // Read while the browser surely runs: when its callback arrives (a fast login may finish
        // before the first poll), and at each poll.
        cb.onHit(() => (env ??= browserEnv(own)));
        const out = await driver.login(
          req(name, {
            loginUrl: loginUrlFor(site.baseUrl, cb.port, state),
            callbackUrl: cb.callbackUrl,
            timeoutMs: 30000,
            // Polled while the browser runs: read its environment once.
            isLoggedIn: async () => {
              env ??= browserEnv(own);
              return false;
            },
          }),
        );
        expect(out, name).toEqual({ kind: 'success' });
        expect(changedOutside(before, snapshot(root), own), name).toEqual([]);
        expect(existsSync(own)).toBe(false);
        expect(env, `browser environment for ${name}`).toBeDefined();
        expect(env).toContain('PATH=');
        expect(env).not.toContain('planted');
        expect(env).not.toContain('LINGMA_ACCOUNTS');
        expect(env).not.toContain('RELAY_API_KEYS');
      }
      expect(statSync(profiles).mode & 0o777).toBe(0o700);
      expect(relative(dataDir, profiles)).toBe('login-profiles');
    }, 120_000);
  });
});
