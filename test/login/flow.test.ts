/**
 * The whole login: the Lingma simulator (spawned like the real binary) issues the login URL over
 * its JSON-RPC socket, the Playwright driver signs in on the simulated login site, the browser
 * reaches the instance's callback, and `auth/status` reports logged in.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { LoginCoordinator, type LoginCoordinatorOptions, type LoginTarget } from '../../src-main/core/backends/lingma/login/coordinator';
import { buildRecipeScript, LOGIN_REASONS } from '../../src-main/core/backends/lingma/login/recipe';
import { freePorts, waitForPort } from '../../src-main/core/backends/lingma/process';
import { RpcConnection } from '../../src-main/core/backends/lingma/rpc';
import type { LoginState } from '../../src-main/core/backends/types';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import { startLoginSite, type LoginSite } from '../sim/login-site';
import { captureLogger, waitFor } from './helpers';

const CHROMIUM = '/usr/bin/chromium';
const SIM = fileURLToPath(new URL('../sim/Lingma', import.meta.url));
const ready = existsSync(CHROMIUM) && existsSync(SIM);
if (!ready) console.warn(`[login flow] ${existsSync(CHROMIUM) ? SIM : CHROMIUM} not found: the full login flow test is skipped`);

const PASSWORD = 'flow-Pa55word';

interface SimInstance {
  proc: ChildProcess;
  rpc: RpcConnection;
  httpPort: number;
  status(): Promise<{ id?: string; name?: string }>;
}

/** One account of the simulator as the coordinator sees it (its own name: its own login state). */
interface SimAccount {
  target: LoginTarget;
  status(): Promise<{ id?: string; name?: string }>;
}

describe.skipIf(!ready)('login flow: simulator + login site + headless Chromium', () => {
  let site: LoginSite;
  const work = mkdtempSync(join(tmpdir(), 'relay-login-flow-'));
  // One simulator for the file (spawned like the real binary); each test logs it out first.
  let sim: SimInstance | undefined;
  const logs = captureLogger();
  let person: Browser | undefined;

  async function startSim(): Promise<SimInstance> {
    const [socketPort, httpPort] = await freePorts();
    const workDir = join(work, 'sim');
    const proc = spawn(SIM, ['start', `--workDir=${workDir}`, `--socketPort=${socketPort}`, `--httpPort=${httpPort}`], {
      env: { ...process.env, LINGMA_SIM_LOGIN_BASE: site.baseUrl },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d) => (stderr += String(d)));
    const exited = new Promise((r) => proc.once('exit', r));
    try {
      await waitForPort(socketPort, { timeoutMs: 30000, abort: exited });
    } catch (e) {
      proc.kill('SIGKILL');
      throw new Error(`simulator did not start: ${(e as Error).message}\n${stderr}`);
    }
    const rpc = await RpcConnection.connect(`ws://127.0.0.1:${socketPort}/`, { timeoutMs: 10000 });
    await rpc.initialize(workDir, 'login-test');
    const status = () => rpc.request<{ id?: string; name?: string }>('auth/status', {});
    return { proc, rpc, httpPort, status };
  }

  /** The simulator, logged out, as the account `name` (a name per test: a fresh login state). */
  async function loggedOut(name: string): Promise<SimAccount> {
    const s = sim as SimInstance;
    await s.rpc.request('auth/logout', {});
    return {
      status: s.status,
      target: {
        instance: name,
        credentials: { username: 'alice', password: PASSWORD },
        callbackUrl: `http://127.0.0.1:${s.httpPort}/auth/callback`,
        generateUrl: async () => (await s.rpc.request<{ loginUrl: string }>('login/generateUrl', { loginDedicatedType: '' })).loginUrl,
        isLoggedIn: async () => !!(await s.status()).id,
      },
    };
  }

  // The simulated sites are plain http on loopback: allowed the way a user would for a test site.
  function coordinator(over: Partial<LoginCoordinatorOptions> = {}): LoginCoordinator {
    const driver = createPlaywrightLoginDriver({ executablePath: CHROMIUM, log: logs.log, profilesDir: join(work, 'profiles'), formWaitMs: 5000, pollMs: 200 });
    return new LoginCoordinator({
      driver,
      recipe: DEFAULT_LOGIN_RECIPE,
      auto: true,
      timeoutMs: 45000,
      maxRetries: 1,
      allowedOrigins: ['http://127.0.0.1:*'],
      log: logs.log,
      pollMs: 300,
      manualPollMs: 200,
      backoffMs: 200,
      ...over,
    });
  }

  /** Resolves with the first state of an instance matching `want`, as the coordinator emits it. */
  function nextState(c: LoginCoordinator, instance: string, want: LoginState['state']): Promise<LoginState> {
    return new Promise((resolve) => {
      const on = (i: string, s: LoginState): void => {
        if (i !== instance || s.state !== want) return;
        c.off('state', on);
        resolve(s);
      };
      c.on('state', on);
    });
  }

  beforeAll(async () => {
    site = await startLoginSite({ users: { alice: PASSWORD } });
    sim = await startSim();
  }, 60000);

  afterAll(async () => {
    await person?.close();
    if (sim) {
      const i = sim;
      i.rpc.close();
      if (i.proc.exitCode === null && i.proc.signalCode === null) i.proc.kill('SIGINT');
      const gone = new Promise((r) => (i.proc.exitCode !== null || i.proc.signalCode ? r(undefined) : i.proc.once('exit', r)));
      const t = setTimeout(() => i.proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    }
    await site?.close();
    rmSync(work, { recursive: true, force: true });
    // SECURITY: no password, login-URL state or token in any log line.
    const text = logs.text();
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toMatch(/state=|token=|nonce=/);
  }, 30000);

  it('auto-login: generateUrl → Chromium signs in → callback → auth/status logged in', async () => {
    const inst = await loggedOut('flow-a');
    expect((await inst.status()).id).toBeFalsy();
    const c = coordinator();
    const seen: LoginState['state'][] = [];
    c.on('state', (_i, s) => seen.push(s.state));
    const state = await c.ensureLoggedIn(inst.target);
    expect(state.state).toBe('logged_in');
    const st = await inst.status();
    expect(st.id).toBeTruthy();
    expect(st.name).toBe('alice');
    expect(seen).toEqual(['logging_in', 'logged_in']);
    expect(site.hits().accepted).toBe(1);
    await c.close();
  }, 90000);

  it('captcha: needs_manual with the login link; a person finishing it is detected', async () => {
    site.setMode('captcha');
    const inst = await loggedOut('flow-b');
    const c = coordinator();
    const state = await c.ensureLoggedIn(inst.target);
    expect(state).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.captcha });
    const url = state.state === 'needs_manual' ? state.url : '';
    expect(url.startsWith(`${site.baseUrl}/lingma/login?`)).toBe(true);
    // The person opens the link and signs in (after solving the "captcha").
    site.setMode('normal');
    person = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await person.newPage();
    await page.goto(url);
    const frame = await (await page.waitForSelector('#alibaba-login-box')).contentFrame();
    await frame!.waitForLoadState('domcontentloaded');
    await frame!.evaluate(buildRecipeScript(DEFAULT_LOGIN_RECIPE, { username: 'alice', password: PASSWORD }, { origin: site.signinUrl }));
    await waitFor(() => c.state('flow-b').state === 'logged_in', 30000);
    expect((await inst.status()).name).toBe('alice');
    await c.close();
  }, 90000);

  it('captcha after submit: flagged "needs a person" within 5 s of the verification page, tried once, password not retried', async () => {
    site.setMode('captcha-after-submit');
    const before = site.hits();
    const inst = await loggedOut('flow-c');
    const c = coordinator({ maxRetries: 3 });
    const flagged = nextState(c, 'flow-c', 'needs_manual');
    // The 5 s bound starts when the site serves the verification page (an event, not a sleep).
    const withinFiveSeconds = new Promise<LoginState>((resolve, reject) => {
      site.onVerifyPage(() => {
        const t = setTimeout(() => reject(new Error('not flagged within 5 s of the verification page')), 5000);
        void flagged.then((s) => {
          clearTimeout(t);
          resolve(s);
        });
      });
    });
    const result = c.ensureLoggedIn(inst.target);
    expect(await withinFiveSeconds).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.captcha });
    const state = await result;
    expect(state).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.captcha });
    expect(state.state === 'needs_manual' && state.url.startsWith(`${site.baseUrl}/lingma/login?`)).toBe(true);
    const after = site.hits();
    expect(after.loginPage - before.loginPage).toBe(1);
    expect(after.attempts - before.attempts).toBe(1);
    expect(after.verifyPage - before.verifyPage).toBe(1);
    // Asking again (the instance's next request) does not start automation behind the person.
    expect((await c.ensureLoggedIn(inst.target)).state).toBe('needs_manual');
    expect(site.hits().attempts - before.attempts).toBe(1);
    await c.close();
  }, 90000);

  it('a refused password is shown as such and not retried', async () => {
    site.setMode('normal');
    const before = site.hits();
    const inst = await loggedOut('flow-d');
    inst.target.credentials = { username: 'alice', password: 'not-the-password' };
    const c = coordinator({ maxRetries: 3 });
    expect(await c.ensureLoggedIn(inst.target)).toEqual({ state: 'failed', reason: LOGIN_REASONS.rejected, rejected: true });
    expect(LOGIN_REASONS.rejected).not.toBe(LOGIN_REASONS.captcha);
    expect(site.hits().attempts - before.attempts).toBe(1);
    expect(await c.ensureLoggedIn(inst.target)).toEqual({ state: 'failed', reason: LOGIN_REASONS.rejected, rejected: true });
    expect(site.hits().attempts - before.attempts).toBe(1);
    await c.close();
  }, 90000);

  it('SECURITY: a sign-in that goes off the policy never gives that origin the password; the account needs a person with the reason', async () => {
    site.setMode('foreign-redirect');
    const inst = await loggedOut('flow-e');
    // Only the two sites of the sign-in are allowed; the foreign site is a third loopback port.
    const c = coordinator({ allowedOrigins: [site.baseUrl, site.signinUrl], maxRetries: 2 });
    const state = await c.ensureLoggedIn(inst.target);
    expect(state.state).toBe('needs_manual');
    expect(state.state === 'needs_manual' && state.reason).toContain(site.foreignUrl);
    expect(state.state === 'needs_manual' && state.reason).toMatch(/password was not typed/);
    site.setMode('foreign-frame');
    const inst2 = await loggedOut('flow-f');
    const state2 = await c.ensureLoggedIn(inst2.target);
    expect(state2.state).toBe('needs_manual');
    const got = site.foreignReceived().join('\n');
    expect(got).not.toContain(PASSWORD);
    expect(got).not.toContain(encodeURIComponent(PASSWORD));
    expect(site.foreignReceived().some((r) => r.startsWith('POST'))).toBe(false);
    expect((await inst.status()).id).toBeFalsy();
    await c.close();
  }, 90000);
});
