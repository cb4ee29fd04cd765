/** The login coordinator with fake drivers and a fake instance. */
import { afterEach, describe, expect, it } from 'vitest';
import { LoginCoordinator, loginStateError, type LoginCoordinatorOptions, type LoginTarget } from '../../src-main/core/backends/lingma/login/coordinator';
import { LOGIN_REASONS } from '../../src-main/core/backends/lingma/login/recipe';
import type { LoginState } from '../../src-main/core/backends/types';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import { sleep, type LoginDriver, type LoginOutcome, type LoginRequest } from '../../src-main/core/ports';
import { drive, fakeClock } from '../helpers/fake-clock';
import { captureLogger, waitFor } from './helpers';

const PASSWORD = 'pw-do-not-log';

/** A fake Lingma instance: counts calls, can be flipped to logged in. */
function fakeTarget(over: Partial<LoginTarget> = {}) {
  const t = {
    loggedIn: false,
    urls: 0,
    prepares: 0,
    calls: [] as string[],
    target: undefined as unknown as LoginTarget,
  };
  t.target = {
    instance: 'acct-1',
    credentials: { username: 'alice', password: PASSWORD },
    callbackUrl: 'http://127.0.0.1:9/auth/callback',
    generateUrl: async () => {
      t.urls++;
      t.calls.push('generateUrl');
      return `https://lingma.alibabacloud.com/lingma/login?state=secret-state-${t.urls}`;
    },
    prepare: async () => {
      t.prepares++;
      t.calls.push('prepare');
    },
    isLoggedIn: async () => t.loggedIn,
    ...over,
  };
  return t;
}

/** A driver scripted per call. */
function fakeDriver(script: (req: LoginRequest, n: number) => Promise<LoginOutcome>) {
  const d = { calls: 0, requests: [] as LoginRequest[], cleared: [] as string[], driver: undefined as unknown as LoginDriver };
  d.driver = {
    name: 'fake',
    login: (req) => {
      d.calls++;
      d.requests.push(req);
      return script(req, d.calls);
    },
    clear: async (i) => {
      d.cleared.push(i);
    },
  };
  return d;
}

const coordinators: LoginCoordinator[] = [];
const logs = captureLogger();

function make(over: Partial<LoginCoordinatorOptions> = {}): { c: LoginCoordinator; states: LoginState[] } {
  const c = new LoginCoordinator({
    recipe: DEFAULT_LOGIN_RECIPE,
    auto: true,
    timeoutMs: 2000,
    maxRetries: 2,
    log: logs.log,
    pollMs: 20,
    backoffMs: 10,
    manualPollMs: 20,
    confirmMs: 500,
    graceMs: 100,
    ...over,
  });
  const states: LoginState[] = [];
  c.on('state', (_i, s) => states.push(s));
  coordinators.push(c);
  return { c, states };
}

afterEach(async () => {
  await Promise.all(coordinators.splice(0).map((c) => c.close()));
  // SECURITY: neither the password nor the login URL's state ever reaches the logs.
  expect(logs.text()).not.toContain(PASSWORD);
  expect(logs.text()).not.toContain('secret-state');
});

describe('LoginCoordinator', () => {
  it('does nothing when already logged in', async () => {
    const t = fakeTarget();
    t.loggedIn = true;
    const d = fakeDriver(async () => ({ kind: 'success' }));
    const { c } = make({ driver: d.driver });
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'logged_in' });
    expect(d.calls).toBe(0);
    expect(t.urls).toBe(0);
  });

  it('single flight: concurrent callers share one login; prepare runs before generateUrl', async () => {
    const t = fakeTarget();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const d = fakeDriver(async () => {
      await gate;
      t.loggedIn = true;
      return { kind: 'success' };
    });
    const { c, states } = make({ driver: d.driver });
    const a = c.ensureLoggedIn(t.target);
    const b = c.ensureLoggedIn(t.target);
    expect(a).toBe(b);
    await waitFor(() => d.calls === 1);
    expect(c.state('acct-1')).toEqual({ state: 'logging_in' });
    expect(c.busy('acct-1')).toBe(true);
    release();
    expect(await a).toEqual({ state: 'logged_in' });
    expect(await b).toEqual({ state: 'logged_in' });
    expect(d.calls).toBe(1);
    expect(t.calls).toEqual(['prepare', 'generateUrl']);
    expect(states.map((s) => s.state)).toEqual(['logging_in', 'logged_in']);
    const req = d.requests[0];
    expect(req.loginUrl).toBe('https://lingma.alibabacloud.com/lingma/login?state=secret-state-1');
    expect(req.callbackUrl).toBe(t.target.callbackUrl);
    expect(req.credentials.username).toBe('alice');
    expect(req.recipe).toEqual(DEFAULT_LOGIN_RECIPE);
  });

  it('retries failures with a fresh URL each time, then succeeds', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async (_r, n) => {
      if (n < 3) return { kind: 'failed', reason: 'network hiccup' };
      t.loggedIn = true;
      return { kind: 'success' };
    });
    const { c } = make({ driver: d.driver, maxRetries: 2 });
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'logged_in' });
    expect(d.calls).toBe(3);
    expect(t.urls).toBe(3);
    expect(t.prepares).toBe(3);
  });

  it('gives up after maxRetries with the reason; then cools down unless forced', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async () => ({ kind: 'failed', reason: 'network hiccup' }));
    const { c } = make({ driver: d.driver, maxRetries: 1 });
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'failed', reason: 'network hiccup' });
    expect(d.calls).toBe(2);
    // Cool-down: no new attempt.
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'failed', reason: 'network hiccup' });
    expect(d.calls).toBe(2);
    // The dashboard's "log in" forces one.
    await c.ensureLoggedIn(t.target, { force: true });
    expect(d.calls).toBe(4);
  });

  it('a refused password is not retried, and waits for new credentials', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async () => ({ kind: 'failed', reason: LOGIN_REASONS.rejected }));
    const { c } = make({ driver: d.driver, maxRetries: 3, failedCooldownMs: 0 });
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'failed', reason: LOGIN_REASONS.rejected, rejected: true });
    expect(d.calls).toBe(1);
    await c.ensureLoggedIn(t.target);
    expect(d.calls).toBe(1);
    t.target.credentials = { username: 'alice', password: 'new-password' };
    await c.ensureLoggedIn(t.target);
    expect(d.calls).toBe(2);
  });

  it('captcha ends in needs_manual with the URL, no retry loop; manual completion is detected', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async (req) => ({ kind: 'manual', reason: LOGIN_REASONS.captcha, url: req.loginUrl }));
    const { c, states } = make({ driver: d.driver, maxRetries: 5 });
    const s = await c.ensureLoggedIn(t.target);
    expect(s).toEqual({ state: 'needs_manual', reason: LOGIN_REASONS.captcha, url: 'https://lingma.alibabacloud.com/lingma/login?state=secret-state-1' });
    expect(d.calls).toBe(1);
    // Asking again while a person may be on it starts nothing.
    expect((await c.ensureLoggedIn(t.target)).state).toBe('needs_manual');
    expect(d.calls).toBe(1);
    expect(t.urls).toBe(1);
    // The person finishes in the browser.
    t.loggedIn = true;
    await waitFor(() => c.state('acct-1').state === 'logged_in');
    expect(states.map((x) => x.state)).toEqual(['logging_in', 'needs_manual', 'logged_in']);
  });

  it('the manual watch is bounded', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async (req) => ({ kind: 'manual', reason: LOGIN_REASONS.unknownPage, url: req.loginUrl }));
    const clock = fakeClock();
    const { c } = make({ driver: d.driver, manualWatchMs: 100, clock });
    await c.ensureLoggedIn(t.target);
    let checks = 0;
    t.target.isLoggedIn = async () => {
      checks++;
      return false;
    };
    // Polled every manualPollMs (20) until manualWatchMs (100) has passed, then no timer is left.
    await clock.advance(100);
    expect(checks).toBe(4);
    expect(clock.pending()).toBe(0);
    await clock.advance(10_000);
    expect(checks).toBe(4);
    // After the watch, a new call may try again (one attempt, not a loop).
    await c.ensureLoggedIn(t.target);
    expect(d.calls).toBe(2);
  });

  it('times out a driver that hangs and ignores the signal', async () => {
    const t = fakeTarget();
    const d = fakeDriver(() => new Promise<LoginOutcome>(() => undefined));
    const clock = fakeClock();
    const { c } = make({ driver: d.driver, timeoutMs: 100, maxRetries: 1, clock });
    expect(await drive(clock, c.ensureLoggedIn(t.target))).toEqual({ state: 'failed', reason: LOGIN_REASONS.timeout });
    expect(d.calls).toBe(2);
    expect(d.requests.every((r) => r.signal.aborted)).toBe(true);
    expect(d.requests[0].timeoutMs).toBe(100);
  });

  it('a driver that waits for a person in its own window may declare a longer bound', async () => {
    const t = fakeTarget();
    const clock = fakeClock();
    const start = clock.now();
    const d = fakeDriver(async (req) => {
      // Longer than timeoutMs + grace: a person finishing in the shown window.
      await sleep(clock, 400);
      if (req.signal.aborted) return { kind: 'failed', reason: 'aborted' };
      t.loggedIn = true;
      return { kind: 'success' };
    });
    // Completion comes from the driver here, not from polling.
    const { c } = make({ driver: Object.assign(d.driver, { maxLoginMs: 5000 }), timeoutMs: 100, pollMs: 10_000, clock });
    expect(await drive(clock, c.ensureLoggedIn(t.target))).toEqual({ state: 'logged_in' });
    expect(clock.now() - start).toBe(400);
    expect(d.calls).toBe(1);
  });

  it('completes as soon as the instance reports logged in, and stops the driver', async () => {
    const t = fakeTarget();
    const d = fakeDriver(
      (req) => new Promise<LoginOutcome>((resolve) => req.signal.addEventListener('abort', () => resolve({ kind: 'failed', reason: 'aborted' }))),
    );
    const { c } = make({ driver: d.driver });
    const p = c.ensureLoggedIn(t.target);
    await waitFor(() => d.calls === 1);
    t.loggedIn = true;
    expect(await p).toEqual({ state: 'logged_in' });
    expect(d.requests[0].signal.aborted).toBe(true);
    expect(d.calls).toBe(1);
  });

  it('keeps the user reported by the instance while logging in', async () => {
    const t = fakeTarget();
    const { c } = make({ driver: undefined });
    const d = fakeDriver(async () => {
      t.loggedIn = true;
      return { kind: 'success' };
    });
    c.configure({ driver: d.driver });
    // Like the Lingma instance: its status check reports what it learned.
    t.target.isLoggedIn = async () => {
      if (t.loggedIn) c.report('acct-1', { state: 'logged_in', user: 'alice' });
      return t.loggedIn;
    };
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'logged_in', user: 'alice' });
    expect(c.state('acct-1')).toEqual({ state: 'logged_in', user: 'alice' });
  });

  it('driver success that the instance never confirms is a failure', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async () => ({ kind: 'success' }));
    const { c } = make({ driver: d.driver, maxRetries: 0, confirmMs: 100 });
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'failed', reason: LOGIN_REASONS.notLoggedIn });
  });

  it('a throwing driver is a failure, not a crash', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async () => {
      throw new Error('boom');
    });
    const { c } = make({ driver: d.driver, maxRetries: 0 });
    expect((await c.ensureLoggedIn(t.target)).state).toBe('failed');
  });

  it('no driver: needs_manual saying how to get a browser; manual completion detected', async () => {
    const t = fakeTarget();
    const { c } = make({ driver: undefined });
    const s = await c.ensureLoggedIn(t.target);
    expect(s.state).toBe('needs_manual');
    expect(s.state === 'needs_manual' && s.reason).toMatch(/Chromium/);
    expect(s.state === 'needs_manual' && s.url).toMatch(/^https:\/\/lingma\.alibabacloud\.com\//);
    t.loggedIn = true;
    await waitFor(() => c.state('acct-1').state === 'logged_in');
  });

  it('auto off: manual link only, unless the call asks for auto', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async () => {
      t.loggedIn = true;
      return { kind: 'success' };
    });
    const { c } = make({ driver: d.driver, auto: false });
    expect(await c.ensureLoggedIn(t.target)).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.autoOff });
    expect(d.calls).toBe(0);
    expect(await c.ensureLoggedIn(t.target, { auto: true, force: true })).toEqual({ state: 'logged_in' });
    expect(d.calls).toBe(1);
  });

  it('no password: needs_manual', async () => {
    const t = fakeTarget({ credentials: undefined });
    const d = fakeDriver(async () => ({ kind: 'success' }));
    const { c } = make({ driver: d.driver });
    expect(await c.ensureLoggedIn(t.target)).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.noPassword });
    expect(d.calls).toBe(0);
  });

  it('an instance without an account: needs_manual, saying how to add one', async () => {
    const t = fakeTarget({ credentials: undefined, accountless: true });
    const d = fakeDriver(async () => ({ kind: 'success' }));
    const { c } = make({ driver: d.driver });
    expect(await c.ensureLoggedIn(t.target)).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.noAccount });
    expect(d.calls).toBe(0);
  });

  it('generateUrl failures are retried, then reported without detail', async () => {
    const t = fakeTarget({
      generateUrl: async () => {
        throw new Error('rpc down');
      },
    });
    const d = fakeDriver(async () => ({ kind: 'success' }));
    const { c } = make({ driver: d.driver, maxRetries: 1 });
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'failed', reason: 'Could not get a login link from Lingma.' });
    expect(d.calls).toBe(0);
  });

  it('cancel stops a running login: logged out, driver aborted; clear forgets browser state', async () => {
    const t = fakeTarget();
    const d = fakeDriver(
      (req) => new Promise<LoginOutcome>((resolve) => req.signal.addEventListener('abort', () => resolve({ kind: 'failed', reason: 'aborted' }))),
    );
    const { c } = make({ driver: d.driver });
    const p = c.ensureLoggedIn(t.target);
    await waitFor(() => d.calls === 1);
    c.cancel('acct-1');
    expect(await p).toEqual({ state: 'logged_out' });
    expect(d.requests[0].signal.aborted).toBe(true);
    expect(d.calls).toBe(1);
    await c.clear('acct-1');
    expect(d.cleared).toEqual(['acct-1']);
  });

  it('cancel keeps a settled state; clear (logout) resets it', async () => {
    const t = fakeTarget();
    t.loggedIn = true;
    const d = fakeDriver(async () => ({ kind: 'success' }));
    const { c } = make({ driver: d.driver });
    await c.ensureLoggedIn(t.target);
    c.cancel('acct-1');
    expect(c.state('acct-1')).toEqual({ state: 'logged_in' });
    await c.clear('acct-1');
    expect(c.state('acct-1')).toEqual({ state: 'logged_out' });
    expect(d.cleared).toEqual(['acct-1']);
  });

  it('report() records states seen elsewhere; status check errors are a safe failure', async () => {
    const { c, states } = make({ driver: undefined });
    c.report('acct-2', { state: 'logged_in', user: 'bob' });
    expect(c.state('acct-2')).toEqual({ state: 'logged_in', user: 'bob' });
    const t = fakeTarget({
      instance: 'acct-3',
      isLoggedIn: async () => {
        throw new Error('socket closed');
      },
    });
    expect(await c.ensureLoggedIn(t.target)).toEqual({ state: 'failed', reason: 'Could not check the login status.' });
    expect(states.length).toBe(2);
  });

  it('rejects bad settings with a clear message', () => {
    expect(() => make({ recipe: { ...DEFAULT_LOGIN_RECIPE, submit: '' } })).toThrow(/recipe\.submit/);
    expect(() => make({ maxRetries: -1 })).toThrow(/maxRetries/);
  });

  it('client errors never carry the login URL or reason detail', () => {
    const e = loginStateError({ state: 'needs_manual', url: 'https://login.example/?state=secret-state-9', reason: LOGIN_REASONS.captcha });
    expect(e.status).toBe(503);
    expect(e.message).not.toMatch(/secret-state|https?:|captcha/i);
    expect(loginStateError({ state: 'logging_in' }).retryAfter).toBe(5);
    expect(loginStateError({ state: 'failed', reason: LOGIN_REASONS.rejected }).message).not.toMatch(/password/i);
  });

  // ---- the sign-in origin policy ----

  it('SECURITY: a login link off the sign-in policy is handed to a person, never to the driver', async () => {
    const t = fakeTarget({ generateUrl: async () => 'http://collector.example/lingma/login?state=s1' });
    const d = fakeDriver(async () => ({ kind: 'success' }));
    const { c } = make({ driver: d.driver });
    expect(await c.ensureLoggedIn(t.target)).toEqual({
      state: 'needs_manual',
      reason: LOGIN_REASONS.loginUrlOffPolicy,
      url: 'http://collector.example/lingma/login?state=s1',
    });
    expect(d.calls).toBe(0);
  });

  it('the driver gets the policy: official origins, the https dedicated domain, allowedOrigins read at each attempt', async () => {
    let allowed: string[] = [];
    const t = fakeTarget({ dedicatedDomain: 'https://lingma.corp.example', generateUrl: async () => 'https://lingma.corp.example/login?state=s' });
    const d = fakeDriver(async () => ({ kind: 'failed', reason: LOGIN_REASONS.rejected }));
    const { c } = make({ driver: d.driver, allowedOrigins: () => allowed });
    await c.ensureLoggedIn(t.target);
    const p = d.requests[0].policy;
    expect(p.credentialsAllowed('https://lingma.corp.example/signin')).toBe(true);
    expect(p.credentialsAllowed('https://signin.alibabacloud.com/x')).toBe(true);
    expect(p.credentialsAllowed('http://127.0.0.1:5000/signin')).toBe(false);
    allowed = ['http://127.0.0.1:*'];
    await c.ensureLoggedIn(t.target, { force: true });
    expect(d.requests[1].policy.credentialsAllowed('http://127.0.0.1:5000/signin')).toBe(true);
    // A plain-http dedicated domain grants nothing.
    const h = fakeTarget({ instance: 'acct-h', dedicatedDomain: 'http://lingma.corp.example', generateUrl: async () => 'http://lingma.corp.example/login' });
    expect(await c.ensureLoggedIn(h.target)).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.loginUrlOffPolicy });
    expect(d.calls).toBe(2);
  });

  // ---- asking a person only when it must ----

  it('a driver that hands over in its own window flags "needs a person" at once and is not retried', async () => {
    const t = fakeTarget();
    let handOver!: () => void;
    const handedOver = new Promise<void>((r) => (handOver = r));
    let finishDriver!: (o: LoginOutcome) => void;
    const d = fakeDriver(
      (req) =>
        new Promise<LoginOutcome>((resolve) => {
          finishDriver = resolve;
          req.needsPerson?.(LOGIN_REASONS.captcha);
          handOver();
        }),
    );
    const { c, states } = make({ driver: d.driver, maxRetries: 3 });
    const p = c.ensureLoggedIn(t.target);
    await handedOver;
    // Flagged while the window is still up (the driver has not returned).
    expect(c.state('acct-1')).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.captcha });
    finishDriver({ kind: 'failed', reason: LOGIN_REASONS.timeout });
    expect(await p).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.captcha });
    expect(d.calls).toBe(1);
    expect(states.map((x) => x.state)).toEqual(['logging_in', 'needs_manual']);
  });

  // ---- login expiry ----

  it('expired(): exactly one automatic re-login, joined by concurrent callers; requests see logging_in at once', async () => {
    const t = fakeTarget();
    t.loggedIn = false;
    const { c, states } = make({
      driver: fakeDriver(async () => {
        t.loggedIn = true;
        return { kind: 'success' };
      }).driver,
    });
    c.report('acct-1', { state: 'logged_in', user: 'alice' });
    t.loggedIn = false;
    const calls = [c.expired(t.target, 'ExpiredTokenError'), c.expired(t.target, 'InvalidTokenError'), c.expired(t.target)];
    expect(c.state('acct-1').state).toBe('logging_in');
    const results = await Promise.all(calls);
    expect(results.every((r) => r.state === 'logged_in')).toBe(true);
    expect(t.urls).toBe(1);
    expect(states.map((x) => x.state)).toEqual(['logged_in', 'logging_in', 'logged_in']);
  });

  it('expired(): a re-login that fails is not repeated; an expiry soon after a re-login goes to a person', async () => {
    const t = fakeTarget();
    const d = fakeDriver(async () => ({ kind: 'failed', reason: LOGIN_REASONS.rejected }));
    const { c } = make({ driver: d.driver, maxRetries: 3 });
    c.report('acct-1', { state: 'logged_in' });
    expect(await c.expired(t.target)).toEqual({ state: 'failed', reason: LOGIN_REASONS.rejected, rejected: true });
    expect(await c.expired(t.target)).toEqual({ state: 'failed', reason: LOGIN_REASONS.rejected, rejected: true });
    expect(d.calls).toBe(1);

    // A re-login that works, then the login expires again within the window: no loop.
    const t2 = fakeTarget({ instance: 'acct-2' });
    const ok = fakeDriver(async () => {
      t2.loggedIn = true;
      return { kind: 'success' };
    });
    c.configure({ driver: ok.driver });
    c.report('acct-2', { state: 'logged_in' });
    expect((await c.expired(t2.target)).state).toBe('logged_in');
    t2.loggedIn = false;
    expect(await c.expired(t2.target)).toMatchObject({ state: 'needs_manual', reason: LOGIN_REASONS.expiredAgain });
    expect(ok.calls).toBe(1);
  });
});
