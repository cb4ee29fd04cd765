/**
 * The setup of the Playwright login driver's tests (driver.test.ts, driver-pages.test.ts): the
 * simulated login site, a callback server, a driver with its own profiles folder and captured
 * log, and the request builder. After the file's tests: nothing secret reached the logs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { createSignInPolicy } from '../../src-main/core/sign-in-policy';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import type { LoginRequest } from '../../src-main/core/ports';
import { startLoginSite, type LoginSite } from '../sim/login-site';
import { captureLogger, loginUrlFor, startCallbackServer } from './helpers';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[login tests] ${CHROMIUM} not found: browser tests are skipped`);

export const PASSWORD = 'S3cret-pass!';

export interface DriverFixture {
  readonly site: LoginSite;
  readonly cb: Awaited<ReturnType<typeof startCallbackServer>>;
  readonly profiles: string;
  readonly logs: ReturnType<typeof captureLogger>;
  readonly driver: ReturnType<typeof createPlaywrightLoginDriver>;
  /** A fresh state for a hand-made login URL. */
  nextState(prefix: string): string;
  /** A request for alice on the site's login page, its state expected by the callback server. */
  request(over?: Partial<LoginRequest>): LoginRequest;
  /** Only the Lingma page and the sign-in frame are allowed: the foreign site (a third port) is not. */
  strict(): LoginRequest['policy'];
  /** SECURITY: nothing the foreign site received carries the password. */
  foreignGotNoPassword(): void;
}

/** Registers the file's beforeAll/afterAll; use it inside the describe block. */
export function useDriverFixture(): DriverFixture {
  let site!: LoginSite;
  let cb!: Awaited<ReturnType<typeof startCallbackServer>>;
  const profiles = mkdtempSync(join(tmpdir(), 'relay-login-test-'));
  const logs = captureLogger();
  const driver = createPlaywrightLoginDriver({ executablePath: 'auto', log: logs.log, profilesDir: profiles, formWaitMs: 3000, pollMs: 200 });
  let n = 0;

  beforeAll(async () => {
    site = await startLoginSite({ users: { alice: PASSWORD }, slowMs: 400 });
    cb = await startCallbackServer();
  });

  afterAll(async () => {
    await site?.close();
    await cb?.close();
    rmSync(profiles, { recursive: true, force: true });
    // SECURITY: nothing secret reached the logs: no password, no state/nonce, no token.
    const text = logs.text();
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('nonce');
    expect(text).not.toContain('state=');
    expect(text).not.toContain('token=');
  });

  return {
    get site() { return site; },
    get cb() { return cb; },
    profiles,
    logs,
    driver,
    nextState: (prefix) => `${prefix}-${++n}`,
    request(over = {}) {
      const state = `drv-state-${++n}`;
      cb.expect(state);
      cb.reset();
      return {
        instance: 'acct-1',
        loginUrl: loginUrlFor(site.baseUrl, cb.port, state),
        callbackUrl: cb.callbackUrl,
        credentials: { username: 'alice', password: PASSWORD },
        recipe: DEFAULT_LOGIN_RECIPE,
        timeoutMs: 30000,
        isLoggedIn: async () => false,
        signal: new AbortController().signal,
        policy: createSignInPolicy({ allowedOrigins: ['http://127.0.0.1:*'], callbackUrl: cb.callbackUrl }),
        ...over,
      };
    },
    strict: () => createSignInPolicy({ allowedOrigins: [site.baseUrl, site.signinUrl], callbackUrl: cb.callbackUrl }),
    foreignGotNoPassword() {
      const got = site.foreignReceived().join('\n');
      expect(got).not.toContain(PASSWORD);
      expect(got).not.toContain(encodeURIComponent(PASSWORD));
      expect(site.foreignReceived().some((r) => r.startsWith('POST'))).toBe(false);
    },
  };
}
