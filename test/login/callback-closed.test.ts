/**
 * The headless driver and a callback page that Lingma closes on purpose once it took the sign-in:
 * a success with no "the callback could not be reached" warning. A callback that really cannot
 * be reached (nothing listens, the instance never signs in) still fails with that warning.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlaywrightLoginDriver } from '../../src-main/cli/playwright-login';
import { LOGIN_REASONS } from '../../src-main/core/backends/lingma/login/recipe';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import { createSignInPolicy } from '../../src-main/core/sign-in-policy';
import type { LoginRequest } from '../../src-main/core/ports';
import { startLoginSite, type LoginSite } from '../sim/login-site';
import { captureLogger, loginUrlFor } from './helpers';

const haveChromium = existsSync('/usr/bin/chromium');
const PASSWORD = 'S3cret-pass!';
const WARNING = 'the callback could not be reached';

/** Like Lingma: stores the sign-in, then drops the connection instead of answering. */
async function closingCallback(): Promise<{ port: number; url: string; user(): string | undefined; close(): Promise<void> }> {
  let user: string | undefined;
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname !== '/auth/callback') {
      res.writeHead(404).end();
      return;
    }
    const auth = u.searchParams.get('auth');
    if (auth) user = (JSON.parse(Buffer.from(auth, 'base64url').toString('utf8')) as { username: string }).username;
    req.socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/auth/callback`,
    user: () => user,
    close: () => new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}

describe.skipIf(!haveChromium)('playwright driver: the callback page closed after success', () => {
  let site: LoginSite;
  let cb: Awaited<ReturnType<typeof closingCallback>>;
  const profiles = mkdtempSync(join(tmpdir(), 'relay-login-cbclosed-'));

  beforeAll(async () => {
    site = await startLoginSite({ users: { alice: PASSWORD } });
    cb = await closingCallback();
  });
  afterAll(async () => {
    await site?.close();
    await cb?.close();
    rmSync(profiles, { recursive: true, force: true });
  });

  const request = (callbackPort: number, callbackUrl: string, isLoggedIn: () => Promise<boolean>): LoginRequest => ({
    instance: 'acct-cb',
    loginUrl: loginUrlFor(site.baseUrl, callbackPort, 'cb-state-1'),
    callbackUrl,
    credentials: { username: 'alice', password: PASSWORD },
    recipe: DEFAULT_LOGIN_RECIPE,
    timeoutMs: 30_000,
    isLoggedIn,
    signal: new AbortController().signal,
    policy: createSignInPolicy({ allowedOrigins: ['http://127.0.0.1:*'], callbackUrl }),
  });

  it('succeeds and logs no warning', async () => {
    site.setMode('normal');
    const logs = captureLogger();
    // A slow poll: the driver itself must notice the closed callback page.
    const driver = createPlaywrightLoginDriver({ executablePath: 'auto', log: logs.log, profilesDir: profiles, formWaitMs: 3000, pollMs: 60_000 });
    const out = await driver.login(request(cb.port, cb.url, async () => cb.user() === 'alice'));
    expect(out).toEqual({ kind: 'success' });
    expect(cb.user()).toBe('alice');
    expect(logs.text()).not.toContain(WARNING);
  }, 60_000);

  it('a callback nobody answers still fails with the warning', async () => {
    site.setMode('normal');
    const logs = captureLogger();
    const driver = createPlaywrightLoginDriver({ executablePath: 'auto', log: logs.log, profilesDir: profiles, formWaitMs: 3000, pollMs: 60_000 });
    const dead = await closingCallback();
    const port = dead.port;
    await dead.close();
    const url = `http://127.0.0.1:${port}/auth/callback`;
    const out = await driver.login(request(port, url, async () => false));
    expect(out).toEqual({ kind: 'failed', reason: LOGIN_REASONS.callbackUnreachable });
    expect(logs.text()).toContain(WARNING);
  }, 60_000);
});
