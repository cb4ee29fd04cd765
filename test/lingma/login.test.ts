import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LoginDriver, LoginRequest } from '../../src-main/core/ports';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { startLoginSite } from '../sim/login-site';
import { captureLog, chatReq, collect, ctx, makeProvider, sim, silentLog, tmpDir, user, waitFor, type Harness } from './helpers';

const harnesses: Harness[] = [];
const track = (h: Harness) => (harnesses.push(h), h);
afterEach(async () => {
  await Promise.allSettled(harnesses.splice(0).map((h) => h.close()));
});

/** Completes the login by calling the instance's callback, as the login site's redirect would. */
function fakeDriver(): LoginDriver & { calls: LoginRequest[]; cleared: string[] } {
  const calls: LoginRequest[] = [];
  const cleared: string[] = [];
  return {
    name: 'fake',
    calls,
    cleared,
    async login(req) {
      calls.push(req);
      const u = new URL(req.loginUrl);
      const auth = Buffer.from(JSON.stringify({ username: req.credentials.username })).toString('base64url');
      const r = await fetch(`${req.callbackUrl}?state=${u.searchParams.get('state')}&auth=${auth}&token=t`);
      return r.ok ? { kind: 'success' } : { kind: 'failed', reason: `callback ${r.status}` };
    },
    async clear(instance) {
      cleared.push(instance);
    },
  };
}

describe('Lingma login integration', () => {
  it('auto-logs-in an instance found logged out, then serves', async () => {
    const driver = fakeDriver();
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'carol', password: 'pw-carol' }] }, deps: { loginDriver: driver } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    await waitFor(() => inst.loginState().state === 'logged_in', 'auto login', 20_000);
    expect(driver.calls).toHaveLength(1);
    const req = driver.calls[0];
    expect(req.credentials).toEqual({ username: 'carol', password: 'pw-carol' });
    expect(req.callbackUrl).toBe(`http://127.0.0.1:${inst.httpPort}/auth/callback`);
    const u = new URL(req.loginUrl);
    expect(u.origin + u.pathname).toBe('https://lingma.alibabacloud.com/lingma/login');
    expect(u.searchParams.get('port')).toBe(String(inst.httpPort));
    expect(u.searchParams.get('challenge_method')).toBe('S256');
    expect(inst.loginState()).toMatchObject({ state: 'logged_in', user: 'carol' });
    // The login lives in the work dir.
    expect(existsSync(join(h.dataDir, 'lingma', inst.name, 'cache', 'user'))).toBe(true);
    await waitFor(() => h.provider.models().some((m) => m.id === 'dashscope_qwq'), 'models after login');
    expect((await collect(inst.chat(chatReq([user('hi')]), ctx()))).finish).toBe('stop');
  }, 60_000);

  it('never logs the password, the login URL or tokens', async () => {
    const driver = fakeDriver();
    const cap = captureLog();
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'lou', password: 'Sup3r-Secret-PW' }] }, deps: { loginDriver: driver, log: cap.log } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    await waitFor(() => inst.loginState().state === 'logged_in', 'logged in');
    await collect(inst.chat(chatReq([user('hello')]), ctx()));
    await h.provider.accounts.logout(inst.name);
    const text = cap.text();
    expect(text).toContain('instance'); // the log is really captured
    expect(text).not.toContain('Sup3r-Secret-PW');
    expect(text).not.toMatch(/state=|nonce=|token=|tok-[0-9a-f]/);
    expect(JSON.stringify(await h.provider.accounts.list())).not.toContain('Sup3r-Secret-PW');
    expect(JSON.stringify(inst.snapshot())).not.toContain('Sup3r-Secret-PW');
  }, 60_000);

  it('a login survives a restart of the process (same work dir)', async () => {
    const driver = fakeDriver();
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'dave', password: 'pw' }] }, deps: { loginDriver: driver } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    await waitFor(() => inst.loginState().state === 'logged_in', 'logged in');
    await h.provider.accounts.restart(inst.name);
    await waitFor(() => inst.state() === 'ready' && inst.loginState().state === 'logged_in', 'logged in after restart');
    expect(driver.calls).toHaveLength(1);
  }, 60_000);

  it('with login.auto off, a logged-out instance fails requests with a clear 503 that reveals nothing', async () => {
    const driver = fakeDriver();
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'erin', password: 'secret-pw' }], login: { auto: false } }, deps: { loginDriver: driver } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    expect(inst.state()).toBe('ready');
    expect(inst.loginState().state).toBe('logged_out');
    const err = await inst.ensureReady(new AbortController().signal).catch((e) => e);
    expect(err).toMatchObject({ status: 503, retryable: true });
    expect(err.message).toBe(`Lingma account ${inst.name} is not logged in; log it in from the dashboard.`);
    const err2 = await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e);
    expect(err2.status).toBe(503);
    expect(driver.calls).toHaveLength(0);
    // The dashboard's "log in" still works.
    await h.provider.accounts.login(inst.name);
    expect(inst.loginState().state).toBe('logged_in');
    expect(driver.calls).toHaveLength(1);
  }, 60_000);

  it('without a password the login needs a person: needs_manual with the URL, never in client errors', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'frank' }] }, deps: { loginDriver: fakeDriver() } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    await waitFor(() => inst.loginState().state === 'needs_manual', 'needs manual');
    const st = inst.loginState();
    expect(st.state === 'needs_manual' && st.url).toMatch(/^https:\/\/lingma\.alibabacloud\.com\/lingma\/login\?/);
    const err = await collect(inst.chat(chatReq([user('x')]), ctx())).catch((e) => e);
    expect(err.status).toBe(503);
    expect(err.message).not.toMatch(/http|state=|nonce/);
    // The person completes it in their browser: detected by polling auth/status.
    await sim(inst, { login: 'frank' });
    await inst.probe(new AbortController().signal);
    expect(inst.loginState()).toMatchObject({ state: 'logged_in', user: 'frank' });
  }, 60_000);

  it('logout calls auth/logout and clears the browser state', async () => {
    const driver = fakeDriver();
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'gina', password: 'pw' }], login: { auto: false } }, env: { LINGMA_SIM_LOGGED_IN_AS: 'gina' }, deps: { loginDriver: driver } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    await waitFor(() => inst.loginState().state === 'logged_in', 'logged in');
    await h.provider.accounts.logout(inst.name);
    expect(inst.loginState().state).toBe('logged_out');
    const s = await sim(inst);
    expect(s.logouts).toBe(1);
    expect(s.loggedIn).toBe(false);
    expect(driver.cleared).toEqual([inst.name]);
  }, 60_000);

  it('dedicated-domain accounts switch the endpoint before login', async () => {
    const driver = fakeDriver();
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'hank', password: 'pw', dedicatedDomain: 'https://lingma.corp.example.com' }] }, deps: { loginDriver: driver } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    await waitFor(() => inst.loginState().state === 'logged_in', 'logged in');
    const s = await sim(inst);
    expect(s.endpoint).toBe('https://lingma.corp.example.com');
    expect(s.endpointUpdates).toEqual(['https://lingma.corp.example.com']);
  }, 60_000);

  const CHROMIUM = '/usr/bin/chromium';
  it.skipIf(!existsSync(CHROMIUM))('logs in through the simulated login site with headless Chromium', async () => {
    const site = await startLoginSite({ users: { ivy: 'ivy-Pa55' } });
    const profiles = tmpDir('lingma-profiles-');
    try {
      const driver = createPlaywrightLoginDriver({ executablePath: CHROMIUM, log: silentLog(), profilesDir: profiles, formWaitMs: 10_000, pollMs: 200 });
      const h = track(
        makeProvider({
          // The simulated site is plain http on loopback: allowed as a user would for a test site.
          lingma: { accounts: [{ username: 'ivy', password: 'ivy-Pa55' }], login: { allowedOrigins: ['http://127.0.0.1:*'] } },
          env: { LINGMA_SIM_LOGIN_BASE: site.baseUrl },
          deps: { loginDriver: driver },
        }),
      );
      await h.provider.start();
      await h.provider.whenStarted();
      const inst = h.provider.lingmaInstances()[0];
      await waitFor(() => inst.loginState().state === 'logged_in', 'browser login', 60_000, 200);
      expect(site.hits().users).toEqual(['ivy']);
      expect(JSON.parse(readFileSync(join(h.dataDir, 'lingma', inst.name, 'cache', 'user'), 'utf8')).name).toBe('ivy');
      expect((await collect(inst.chat(chatReq([user('hello')]), ctx()))).finish).toBe('stop');
    } finally {
      await site.close();
    }
  }, 90_000);
});
