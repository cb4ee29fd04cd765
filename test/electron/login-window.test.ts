import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LoginRequest } from '../../src-main/core/ports';
import { DEFAULT_LOGIN_RECIPE } from '../../src-main/core/config/schema';
import { LOGIN_REASONS, type PageFacts, type RecipeResult } from '../../src-main/core/backends/lingma/login/recipe';
import { createSignInPolicy } from '../../src-main/core/sign-in-policy';
import {
  BANNERS,
  partitionFor,
  WindowLoginDriver,
  type LoginFrame,
  type LoginPage,
  type NavigationAttempt,
} from '../../src-main/electron/login-window';
import { bannerCss } from '../../src-main/electron/login-page';

const LOGIN_URL = 'https://lingma.alibabacloud.com/lingma/login?nonce=n1&state=s1&port=37510';
const CALLBACK = 'http://127.0.0.1:37510/auth/callback';
const SIGNIN_SRC = 'https://passport.alibabacloud.com/mini_login.htm?lang=en';
const PASSWORD = 'pa55-w0rd-never-logged';

interface Behaviour {
  frameSrc: string | null;
  recipe: RecipeResult;
  inspect: PageFacts;
}

class FakeFrame implements LoginFrame {
  detached = false;
  readonly scripts: string[] = [];
  constructor(
    public url: string,
    private readonly page: FakePage,
  ) {}
  async executeJavaScript(code: string): Promise<unknown> {
    this.scripts.push(code);
    const b = this.page.behaviour;
    if (code.startsWith('(function(){try{var f=document.querySelector(')) return b.frameSrc;
    if (code.includes('"errorMarkers"')) return b.inspect;
    if (code.includes('"waitMs"')) return b.recipe;
    throw new Error('unknown script');
  }
}

class FakePage implements LoginPage {
  behaviour: Behaviour = {
    frameSrc: SIGNIN_SRC,
    recipe: { status: 'submitted' },
    inspect: { captcha: false, form: true },
  };
  readonly main = new FakeFrame('about:blank', this);
  readonly sub = new FakeFrame(SIGNIN_SRC, this);
  banner: string | undefined;
  destroyed = false;
  loaded: string | undefined;
  failLoad = false;
  private nav: Array<(n: NavigationAttempt) => void> = [];
  private navigated: Array<(u: string, s: number) => void> = [];
  private failed: Array<(u: string) => void> = [];
  private closed: Array<() => void> = [];
  constructor(public readonly partition: string) {}
  onNavigate(l: (n: NavigationAttempt) => void) {
    this.nav.push(l);
  }
  onNavigated(l: (u: string, s: number) => void) {
    this.navigated.push(l);
  }
  onLoadFailed(l: (u: string) => void) {
    this.failed.push(l);
  }
  onClosed(l: () => void) {
    this.closed.push(l);
  }
  async load(url: string) {
    if (this.failLoad) throw new (await import('../../src-main/electron/login-window')).PageLoadError();
    this.loaded = url;
    this.main.url = url;
  }
  mainFrame() {
    return this.destroyed ? undefined : this.main;
  }
  frames() {
    return this.destroyed ? [] : [this.main, this.sub];
  }
  showWithBanner(message: string) {
    this.banner = message;
  }
  destroy() {
    this.destroyed = true;
  }
  /** Simulates a navigation; returns true when it was blocked. */
  navigate(url: string, opts: { isMainFrame?: boolean; status?: number } = {}): boolean {
    let blocked = false;
    const isMainFrame = opts.isMainFrame ?? true;
    for (const l of this.nav) l({ url, isMainFrame, prevent: () => (blocked = true) });
    if (!blocked && isMainFrame) {
      this.main.url = url;
      for (const l of this.navigated) l(url, opts.status ?? 200);
    }
    return blocked;
  }
  failCallback(url: string) {
    for (const l of this.failed) l(url);
  }
  close() {
    for (const l of this.closed) l();
  }
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup(
  opts: {
    timeoutMs?: number;
    isLoggedIn?: () => Promise<boolean>;
    formWaitMs?: number;
    submitSettleMs?: number;
    behaviour?: Partial<Behaviour>;
    /** Where the sign-in frame really is (default SIGNIN_SRC). */
    subUrl?: string;
  } = {},
) {
  const pages: FakePage[] = [];
  const cleared: string[] = [];
  const logs: string[] = [];
  const driver = new WindowLoginDriver({
    createPage: ({ partition }) => {
      const p = new FakePage(partition);
      Object.assign(p.behaviour, opts.behaviour ?? {});
      if (opts.subUrl) p.sub.url = opts.subUrl;
      pages.push(p);
      return p;
    },
    clearPartition: async (p) => {
      cleared.push(p);
    },
    log: (_level, msg) => logs.push(msg),
    pollMs: 10,
    formWaitMs: opts.formWaitMs ?? 2000,
    submitSettleMs: opts.submitSettleMs ?? 60_000,
    manualTimeoutMs: 60_000,
  });
  const ac = new AbortController();
  cleanups.push(() => ac.abort());
  /** Reasons the driver handed to the coordinator the moment a person was needed. */
  const handedOver: string[] = [];
  const req = (over: Partial<LoginRequest> = {}): LoginRequest => ({
    instance: 'lingma-a',
    loginUrl: LOGIN_URL,
    callbackUrl: CALLBACK,
    credentials: { username: 'alice@example.com', password: PASSWORD },
    recipe: DEFAULT_LOGIN_RECIPE,
    timeoutMs: opts.timeoutMs ?? 30_000,
    isLoggedIn: opts.isLoggedIn ?? (async () => false),
    signal: ac.signal,
    policy: createSignInPolicy({ callbackUrl: CALLBACK }),
    needsPerson: (reason) => handedOver.push(reason),
    ...over,
  });
  const page = () => pages[pages.length - 1];
  return { driver, pages, page, cleared, logs, req, ac, handedOver };
}

const recipeRan = (f: FakeFrame) => f.scripts.some((s) => s.includes('"waitMs"'));

describe('WindowLoginDriver', () => {
  it('signs in: recipe in the sign-in frame, success on reaching the callback', async () => {
    const s = setup();
    const outcome = s.driver.login(s.req());
    await vi.waitFor(() => expect(recipeRan(s.page().sub)).toBe(true), { timeout: 5000 });
    const p = s.page();
    expect(p.partition).toBe('persist:login-lingma-a');
    expect(p.loaded).toBe(LOGIN_URL);
    // SECURITY: the password went only to the sign-in frame.
    expect(p.main.scripts.some((x) => x.includes(PASSWORD))).toBe(false);
    expect(p.sub.scripts.some((x) => x.includes(PASSWORD))).toBe(true);
    expect(p.banner).toBeUndefined();
    expect(p.navigate('https://signin.alibabacloud.com/next')).toBe(false);
    expect(p.navigate(`${CALLBACK}?state=s1&auth=a&token=t`)).toBe(false);
    await expect(outcome).resolves.toEqual({ kind: 'success' });
    expect(p.destroyed).toBe(true);
    expect(s.logs.join('\n')).not.toContain(PASSWORD);
    expect(s.logs.join('\n')).not.toContain('nonce');
    expect(s.logs.join('\n')).not.toContain('token=t');
  });

  it('captcha: the window is shown with an explanation; success when the person finishes', async () => {
    const s = setup({ behaviour: { recipe: { status: 'captcha' } } });
    const outcome = s.driver.login(s.req());
    await vi.waitFor(() => expect(s.page().banner).toBe(BANNERS.captcha), { timeout: 5000 });
    expect(s.page().destroyed).toBe(false);
    // The coordinator hears it at once (the account shows "needs a person" while the window is up).
    expect(s.handedOver).toEqual([LOGIN_REASONS.captcha]);
    s.page().navigate(`${CALLBACK}?state=s1&token=t`);
    await expect(outcome).resolves.toEqual({ kind: 'success' });
  });

  it('captcha after submitting shows the window too', async () => {
    const s = setup();
    const outcome = s.driver.login(s.req());
    await vi.waitFor(() => expect(recipeRan(s.page().sub)).toBe(true), { timeout: 5000 });
    s.page().behaviour.inspect = { captcha: true, form: true };
    await vi.waitFor(() => expect(s.page().banner).toBe(BANNERS.captcha), { timeout: 5000 });
    expect(s.handedOver).toEqual([LOGIN_REASONS.captcha]);
    s.page().navigate(CALLBACK);
    await expect(outcome).resolves.toEqual({ kind: 'success' });
  });

  it('a refused password fails without retrying', async () => {
    const s = setup();
    const outcome = s.driver.login(s.req());
    await vi.waitFor(() => expect(recipeRan(s.page().sub)).toBe(true), { timeout: 5000 });
    s.page().behaviour.inspect = { captcha: false, form: true, error: 'Incorrect password' };
    await expect(outcome).resolves.toEqual({ kind: 'failed', reason: LOGIN_REASONS.rejected });
    expect(s.page().sub.scripts.filter((x) => x.includes('"waitMs"')).length).toBe(1);
  });

  it('blocks navigation to foreign and lookalike origins', async () => {
    const s = setup();
    const outcome = s.driver.login(s.req());
    await vi.waitFor(() => expect(recipeRan(s.page().sub)).toBe(true), { timeout: 5000 });
    const p = s.page();
    expect(p.navigate('https://lingma.alibabacloud.com.evil.com/steal')).toBe(true);
    expect(p.navigate('https://evil.com/')).toBe(true);
    expect(p.navigate('javascript:alert(1)')).toBe(true);
    expect(p.navigate('file:///etc/passwd')).toBe(true);
    expect(p.navigate('http://127.0.0.1:9999/auth/callback')).toBe(true);
    expect(p.navigate('javascript:alert(1)', { isMainFrame: false })).toBe(true);
    expect(p.navigate('https://g.alicdn.com/captcha.html', { isMainFrame: false })).toBe(false);
    expect(s.logs.some((l) => l.includes('blocked navigation to https://lingma.alibabacloud.com.evil.com'))).toBe(true);
    // SECURITY: off the policy the automation stops and a person is asked, with the reason.
    expect(p.banner).toBe(BANNERS.offPolicy);
    expect(s.handedOver).toHaveLength(1);
    expect(s.handedOver[0]).toContain('https://lingma.alibabacloud.com.evil.com');
    p.navigate(CALLBACK);
    await expect(outcome).resolves.toEqual({ kind: 'success' });
  });

  it('times out when nothing happens', async () => {
    const s = setup({ timeoutMs: 300 });
    await expect(s.driver.login(s.req({ timeoutMs: 300 }))).resolves.toEqual({ kind: 'failed', reason: LOGIN_REASONS.timeout });
    expect(s.page().destroyed).toBe(true);
  });

  it('unknown page (no sign-in frame) hands over to a person', async () => {
    const s = setup({ formWaitMs: 100, behaviour: { frameSrc: null, inspect: { captcha: false, form: false } } });
    const outcome = s.driver.login(s.req());
    await vi.waitFor(() => expect(s.page().banner).toBe(BANNERS.unknownPage), { timeout: 5000 });
    expect(recipeRan(s.page().sub)).toBe(false);
    s.page().close();
    await expect(outcome).resolves.toMatchObject({ kind: 'manual', url: LOGIN_URL });
  });

  it('success when the backend reports logged in', async () => {
    let ok = false;
    const s = setup({ isLoggedIn: async () => ok });
    const outcome = s.driver.login(s.req());
    await vi.waitFor(() => expect(recipeRan(s.page().sub)).toBe(true), { timeout: 5000 });
    ok = true;
    await expect(outcome).resolves.toEqual({ kind: 'success' });
  });

  it('callback refused or unreachable fails', async () => {
    const s = setup();
    const o1 = s.driver.login(s.req());
    await vi.waitFor(() => expect(recipeRan(s.page().sub)).toBe(true), { timeout: 5000 });
    s.page().navigate(CALLBACK, { status: 500 });
    await expect(o1).resolves.toEqual({ kind: 'failed', reason: LOGIN_REASONS.callbackRejected });
    const o2 = s.driver.login(s.req());
    await vi.waitFor(() => expect(s.pages.length).toBe(2));
    s.page().failCallback(`${CALLBACK}?token=x`);
    await expect(o2).resolves.toEqual({ kind: 'failed', reason: LOGIN_REASONS.callbackUnreachable });
  });

  it('a callback page closed after the sign-in took is a success, not a failure', async () => {
    let ok = false;
    const s = setup({ isLoggedIn: async () => ok });
    const o = s.driver.login(s.req());
    await vi.waitFor(() => expect(recipeRan(s.page().sub)).toBe(true), { timeout: 5000 });
    // Lingma stored the sign-in, then closed the callback page on purpose.
    ok = true;
    s.page().failCallback(`${CALLBACK}?token=x`);
    await expect(o).resolves.toEqual({ kind: 'success' });
  });

  it('logout clears the partition and cancels a running sign-in; a second call joins the first', async () => {
    const s = setup();
    const o1 = s.driver.login(s.req());
    const o2 = s.driver.login(s.req());
    expect(o2).toBe(o1);
    expect(s.driver.busy('lingma-a')).toBe(true);
    await s.driver.clear('lingma-a');
    expect(s.cleared).toEqual(['persist:login-lingma-a']);
    await expect(o1).resolves.toEqual({ kind: 'failed', reason: LOGIN_REASONS.cancelled });
    expect(s.page().destroyed).toBe(true);
    expect(s.driver.busy('lingma-a')).toBe(false);
  });

  it('abort signal cancels', async () => {
    const s = setup();
    const o = s.driver.login(s.req());
    s.ac.abort();
    await expect(o).resolves.toEqual({ kind: 'failed', reason: LOGIN_REASONS.cancelled });
  });

  it('SECURITY: a sign-in frame off the policy never gets the password; a person is asked', async () => {
    const evil = 'https://login.collector.example/signin?state=s1';
    const s = setup({ subUrl: evil, behaviour: { frameSrc: evil } });
    const outcome = s.driver.login(s.req());
    await vi.waitFor(() => expect(s.page().banner).toBe(BANNERS.offPolicy), { timeout: 5000 });
    const p = s.page();
    expect(p.sub.scripts.some((x) => x.includes(PASSWORD))).toBe(false);
    expect(p.main.scripts.some((x) => x.includes(PASSWORD))).toBe(false);
    expect(s.handedOver).toHaveLength(1);
    expect(s.handedOver[0]).toContain('https://login.collector.example');
    expect(s.handedOver[0]).not.toContain('state=s1');
    p.close();
    await expect(outcome).resolves.toMatchObject({ kind: 'manual', url: LOGIN_URL });
  });

  it('allowedOrigins let a plain-http test site in (the same policy as the headless driver)', async () => {
    const local = 'http://127.0.0.1:40001/signin?state=s1';
    const s = setup({ subUrl: local, behaviour: { frameSrc: local } });
    const policy = createSignInPolicy({ callbackUrl: CALLBACK, allowedOrigins: ['http://127.0.0.1:*'] });
    const outcome = s.driver.login(s.req({ policy, loginUrl: 'http://127.0.0.1:40000/lingma/login?state=s1' }));
    await vi.waitFor(() => expect(recipeRan(s.page().sub)).toBe(true), { timeout: 5000 });
    // The recipe is told the origin it may type into.
    expect(s.page().sub.scripts.find((x) => x.includes('"waitMs"'))).toContain('"origin":"http://127.0.0.1:40001"');
    s.page().navigate(CALLBACK);
    await expect(outcome).resolves.toEqual({ kind: 'success' });
  });

  it('SECURITY: a login URL off the policy is not opened (plain http, foreign, invalid), nor is a bad recipe', async () => {
    const s = setup();
    for (const loginUrl of ['http://lingma.alibabacloud.com/login', 'https://collector.example/login', 'not a url']) {
      await expect(s.driver.login(s.req({ loginUrl }))).resolves.toEqual({ kind: 'manual', reason: LOGIN_REASONS.loginUrlOffPolicy, url: loginUrl });
    }
    await expect(s.driver.login(s.req({ recipe: { ...DEFAULT_LOGIN_RECIPE, username: '' } }))).resolves.toMatchObject({
      kind: 'failed',
      reason: expect.stringMatching(/recipe\.username/),
    });
    expect(s.pages.length).toBe(0);
  });

  it('a page that cannot load fails', async () => {
    const s = setup();
    const driver = new WindowLoginDriver({
      createPage: ({ partition }) => Object.assign(new FakePage(partition), { failLoad: true }),
      clearPartition: async () => undefined,
      pollMs: 10,
    });
    await expect(driver.login(s.req())).resolves.toEqual({ kind: 'failed', reason: 'The sign-in page could not be loaded.' });
  });

  it('declares how long a sign-in may wait for a person, and gives up after it', async () => {
    const s = setup();
    expect(s.driver.maxLoginMs).toBe(60_000);
    const driver = new WindowLoginDriver({
      createPage: ({ partition }) => Object.assign(new FakePage(partition), { behaviour: { frameSrc: SIGNIN_SRC, recipe: { status: 'captcha' }, inspect: { captcha: true, form: true } } }),
      clearPartition: async () => undefined,
      pollMs: 10,
      manualTimeoutMs: 300,
    });
    expect(driver.maxLoginMs).toBe(300);
    await expect(driver.login(s.req({ timeoutMs: 100 }))).resolves.toEqual({ kind: 'failed', reason: LOGIN_REASONS.timeout });
  });

  it('partition names and banner CSS are safe', () => {
    expect(partitionFor('acct-1')).toBe('persist:login-acct-1');
    // Names outside the rule never reach here; if one did, it is encoded, not merged with another.
    expect(partitionFor('a/b c')).toBe('persist:login-~612f622063');
    expect(partitionFor('..')).toBe('persist:login-~2e2e');
    expect(partitionFor('a_b_c')).not.toBe(partitionFor('a/b c'));
    expect(bannerCss('say "hi" \\ now\nplease')).toContain('content:"say \\"hi\\" \\\\ now please"');
  });
});
