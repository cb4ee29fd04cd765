/**
 * A stand-in for Lingma's login page and the Alibaba Cloud sign-in form it embeds, for tests.
 *
 * Two loopback HTTP servers on different ports, so the sign-in frame is cross-origin to the
 * page that embeds it, as on the real site:
 * - the Lingma site: `GET /lingma/login?nonce&state&challenge&challenge_method=S256&machine_id&port`
 *   shows a page with an iframe `#alibaba-login-box`; when the frame reports success (postMessage,
 *   origin-checked) the top window goes to `http://127.0.0.1:<port>/auth/callback?state&auth&token`.
 * - the sign-in site: `GET /signin` is the form (`#fm-login-id`, `#fm-login-password`, a submit
 *   button). Like a framework-driven form it keeps its values from `input` events and ignores
 *   plain `el.value = ...` assignments (the React value-tracker behaviour), and posts the values
 *   with `fetch` to `POST /api/login`.
 *
 * - a foreign site (a third port, so a third origin): the same form, for pages that must never
 *   get a password; it records everything it receives (`foreignReceived()`).
 *
 * Modes: `normal`; `captcha` (a slider `#nc_1_wrapper` that automation never passes);
 * `captcha-after-submit` (the form is plain, but a correct submit sends the top window to a
 * verification page with the slider; `verifyPage` counts it and `onVerifyPage` reports it);
 * `unknown` (an organisation picker, no form); `slow` (the form appears after `slowMs`);
 * `wrong-password-page` (every sign-in ends on a full-page error instead of the form);
 * `foreign-frame` (the Lingma page embeds the sign-in frame from the foreign origin);
 * `foreign-redirect` (the Lingma login page redirects the top window to the foreign form).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type LoginSiteMode =
  | 'normal'
  | 'captcha'
  | 'captcha-after-submit'
  | 'unknown'
  | 'slow'
  | 'wrong-password-page'
  | 'foreign-frame'
  | 'foreign-redirect';

export interface LoginSiteOptions {
  /** user name → password */
  users: Record<string, string>;
  mode?: LoginSiteMode;
  /** How long `slow` mode hides the form. Default 1500 ms. */
  slowMs?: number;
}

export interface LoginSiteHits {
  /** `GET /lingma/login` with valid parameters. */
  loginPage: number;
  /** `GET /signin` (the frame). */
  signinForm: number;
  /** `POST /api/login` attempts, by outcome. */
  attempts: number;
  accepted: number;
  rejected: number;
  /** `POST /api/login` refused because the captcha was not solved. */
  captchaBlocked: number;
  /** `GET /verify` (the verification page of `captcha-after-submit`). */
  verifyPage: number;
  /** User names that signed in, in order. */
  users: string[];
  /** The last user name submitted (never the password), to check what the form really sent. */
  lastSubmittedUser?: string;
}

export interface LoginSite {
  /** Origin of the Lingma login page (use as `LINGMA_SIM_LOGIN_BASE`). */
  baseUrl: string;
  /** Origin of the sign-in frame (a different port, so a different origin). */
  signinUrl: string;
  /** Origin of the foreign site (a third port). */
  foreignUrl: string;
  /** Every request the foreign site received: `METHOD path?query` and the body, verbatim. */
  foreignReceived(): string[];
  /** Called each time the verification page is served (`captcha-after-submit`). */
  onVerifyPage(listener: () => void): void;
  setMode(mode: LoginSiteMode): void;
  hits(): LoginSiteHits;
  close(): Promise<void>;
}

const REQUIRED_LOGIN_PARAMS = ['nonce', 'state', 'challenge', 'challenge_method', 'machine_id', 'port'];

const esc = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

const html = (res: ServerResponse, status: number, body: string): void => send(res, status, 'text/html; charset=utf-8', body);
const json = (res: ServerResponse, status: number, body: unknown): void =>
  send(res, status, 'application/json', JSON.stringify(body));

async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function lingmaPage(signinSrc: string, signinOrigin: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Lingma - Log in</title></head>
<body>
<h1>Log in to Lingma</h1>
<div class="login-container">
  <iframe id="alibaba-login-box" src="${esc(signinSrc)}" width="420" height="460" frameborder="0"></iframe>
</div>
<script>
  // The sign-in frame reports success; only its own origin is trusted.
  window.addEventListener('message', function (ev) {
    if (ev.origin !== ${JSON.stringify(signinOrigin)}) return;
    var data = ev.data || {};
    if (data.type === 'login-success' && typeof data.redirect === 'string') {
      window.location.href = data.redirect;
    }
    if (data.type === 'verify' && typeof data.url === 'string' && data.url.indexOf(${JSON.stringify(signinOrigin + '/')}) === 0) {
      window.location.href = data.url;
    }
  });
</script>
</body></html>`;
}

function signinPage(mode: LoginSiteMode, state: string, port: string, slowMs: number): string {
  if (mode === 'unknown') {
    return `<!doctype html><html><head><meta charset="utf-8"><title>Choose an organisation</title></head>
<body><h2>Choose the organisation to sign in to</h2>
<ul class="org-list"><li><a href="#">Acme Research</a></li><li><a href="#">Acme Retail</a></li></ul>
</body></html>`;
  }
  const captcha =
    mode === 'captcha'
      ? `<div id="nc_1_wrapper" class="nc-container" style="width:300px;height:34px;background:#eee">
           <span class="nc_iconfont btn_slide" style="display:inline-block;width:40px;height:34px;background:#ccc"></span>
           <span class="nc-lang-cnt">Please slide to verify</span></div>`
      : '';
  const form = `<form id="login-form" autocomplete="off">
    <div class="fm-field"><label for="fm-login-id">Account</label><input id="fm-login-id" name="fm-login-id" type="text"></div>
    <div class="fm-field"><label for="fm-login-password">Password</label><input id="fm-login-password" name="fm-login-password" type="password"></div>
    ${captcha}
    <div class="login-error" role="alert" style="display:none"></div>
    <button type="submit" class="fm-button fm-submit password-login">Sign In</button>
  </form>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sign in</title></head>
<body>
<div id="login-root">${mode === 'slow' ? '<div class="loading">Loading…</div>' : form}</div>
<template id="form-template">${form}</template>
<script>
(function () {
  var STATE = ${JSON.stringify(state)};
  var PORT = ${JSON.stringify(port)};
  var SLOW = ${mode === 'slow' ? slowMs : -1};
  function mount() {
    if (SLOW >= 0) {
      var root = document.getElementById('login-root');
      root.innerHTML = document.getElementById('form-template').innerHTML;
    }
    var values = { account: '', password: '' };
    // React-style value tracking: a plain "el.value = x" updates the tracker, so the following
    // input event looks like no change and is ignored; only real typing (or the native setter)
    // reaches the form state.
    function track(input, key) {
      var proto = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value');
      var tracked = '';
      Object.defineProperty(input, 'value', {
        configurable: true,
        get: function () { return proto.get.call(this); },
        set: function (v) { tracked = String(v); proto.set.call(this, v); }
      });
      input.addEventListener('input', function () {
        var v = proto.get.call(input);
        if (v === tracked) return;
        tracked = v;
        values[key] = v;
      });
    }
    track(document.getElementById('fm-login-id'), 'account');
    track(document.getElementById('fm-login-password'), 'password');
    var errorBox = document.querySelector('.login-error');
    function showError(msg) { errorBox.textContent = msg; errorBox.style.display = 'block'; }
    document.getElementById('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      errorBox.style.display = 'none';
      if (!values.account) { showError('Please enter your account name.'); return; }
      if (!values.password) { showError('Please enter your password.'); return; }
      fetch('/api/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ account: values.account, password: values.password, state: STATE, port: PORT,
          slider: document.getElementById('nc_1_wrapper') ? 'untouched' : 'none' })
      }).then(function (r) { return r.json(); }).then(function (res) {
        if (res.ok) { window.parent.postMessage({ type: 'login-success', redirect: res.redirect }, '*'); }
        else if (res.verify) { window.parent.postMessage({ type: 'verify', url: location.origin + res.verify }, '*'); }
        else if (res.page) { window.location.href = res.page; }
        else { showError(res.message || 'Sign-in failed.'); }
      }, function () { showError('Network error, please try again.'); });
    });
  }
  if (SLOW >= 0) setTimeout(mount, SLOW); else mount();
})();
</script>
</body></html>`;
}

const ERROR_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Sign-in failed</title></head>
<body><div class="error-page"><h2>Sign-in failed</h2>
<p class="login-error" role="alert">The account name or password is incorrect.</p>
<a href="javascript:history.back()">Back</a></div></body></html>`;

const VERIFY_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Security verification</title></head>
<body><h2>Verify it's you</h2>
<div id="nc_1_wrapper" class="nc-container" style="width:300px;height:34px;background:#eee">
  <span class="nc_iconfont btn_slide" style="display:inline-block;width:40px;height:34px;background:#ccc"></span>
  <span class="nc-lang-cnt">Please slide to verify</span></div>
</body></html>`;

export async function startLoginSite(opts: LoginSiteOptions): Promise<LoginSite> {
  let mode: LoginSiteMode = opts.mode ?? 'normal';
  const slowMs = opts.slowMs ?? 1500;
  const hits: LoginSiteHits = { loginPage: 0, signinForm: 0, attempts: 0, accepted: 0, rejected: 0, captchaBlocked: 0, verifyPage: 0, users: [] };
  let signinOrigin = '';
  let lingmaOrigin = '';
  let foreignOrigin = '';
  const foreignReceived: string[] = [];
  const events = new EventEmitter();

  const lingma = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/lingma/login') {
      const missing = REQUIRED_LOGIN_PARAMS.filter((k) => !url.searchParams.get(k));
      if (missing.length) return html(res, 400, `<p class="error">Invalid login link: missing ${esc(missing.join(', '))}</p>`);
      if (url.searchParams.get('challenge_method') !== 'S256') return html(res, 400, '<p class="error">Unsupported challenge method</p>');
      const port = url.searchParams.get('port') as string;
      if (!/^\d{1,5}$/.test(port)) return html(res, 400, '<p class="error">Invalid port</p>');
      hits.loginPage++;
      const q = new URLSearchParams({ state: url.searchParams.get('state') as string, port });
      if (mode === 'foreign-redirect') {
        res.writeHead(302, { location: `${foreignOrigin}/signin?${q}`, 'cache-control': 'no-store' });
        res.end();
        return;
      }
      const frameOrigin = mode === 'foreign-frame' ? foreignOrigin : signinOrigin;
      return html(res, 200, lingmaPage(`${frameOrigin}/signin?${q}`, frameOrigin));
    }
    return html(res, 404, '<p>Not found</p>');
  });

  const signin = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method === 'GET' && url.pathname === '/signin') {
      const state = url.searchParams.get('state') ?? '';
      const port = url.searchParams.get('port') ?? '';
      if (!state || !/^\d{1,5}$/.test(port)) return html(res, 400, '<p class="error">Invalid sign-in request</p>');
      hits.signinForm++;
      // The frame may only be embedded by the Lingma page, as a real sign-in site would insist.
      res.setHeader('content-security-policy', `frame-ancestors ${lingmaOrigin}`);
      return html(res, 200, signinPage(mode, state, port, slowMs));
    }
    if (req.method === 'GET' && url.pathname === '/signin/error') return html(res, 200, ERROR_PAGE);
    if (req.method === 'GET' && url.pathname === '/verify') {
      hits.verifyPage++;
      html(res, 200, VERIFY_PAGE);
      events.emit('verify');
      return;
    }
    if (req.method === 'POST' && url.pathname === '/api/login') {
      void (async () => {
        let body: { account?: unknown; password?: unknown; state?: unknown; port?: unknown; slider?: unknown };
        try {
          body = JSON.parse(await readBody(req));
        } catch {
          return json(res, 400, { ok: false, message: 'Bad request.' });
        }
        const { account, password, state, port } = body;
        if (typeof account !== 'string' || typeof password !== 'string' || typeof state !== 'string' || typeof port !== 'string' || !/^\d{1,5}$/.test(port)) {
          return json(res, 400, { ok: false, message: 'Bad request.' });
        }
        hits.attempts++;
        hits.lastSubmittedUser = account;
        if (mode === 'captcha') {
          // The slider is never solved by automation.
          hits.captchaBlocked++;
          return json(res, 200, { ok: false, message: 'Please slide to verify.' });
        }
        const known = Object.prototype.hasOwnProperty.call(opts.users, account) ? opts.users[account] : undefined;
        if (mode === 'captcha-after-submit' && known === password) {
          // Risk control: a correct password still needs a human check, on a page of its own.
          hits.captchaBlocked++;
          return json(res, 200, { ok: false, verify: `/verify?${new URLSearchParams({ state, port })}` });
        }
        if (mode === 'wrong-password-page' || known === undefined || known !== password) {
          hits.rejected++;
          if (mode === 'wrong-password-page') return json(res, 200, { ok: false, page: '/signin/error' });
          return json(res, 200, { ok: false, message: 'The account name or password is incorrect.' });
        }
        hits.accepted++;
        hits.users.push(account);
        const auth = Buffer.from(JSON.stringify({ username: account })).toString('base64url');
        const token = randomBytes(16).toString('hex');
        const redirect = `http://127.0.0.1:${port}/auth/callback?${new URLSearchParams({ state, auth, token })}`;
        return json(res, 200, { ok: true, redirect });
      })().catch(() => {
        if (!res.headersSent) json(res, 500, { ok: false, message: 'Server error.' });
      });
      return;
    }
    return html(res, 404, '<p>Not found</p>');
  });

  // The foreign site: a copy of the sign-in form on an origin no policy should allow. It keeps
  // every request verbatim, so a test can prove the password never reached it.
  const foreign = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req).catch(() => '');
      foreignReceived.push(`${req.method} ${req.url ?? ''}\n${body}`);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && url.pathname === '/signin') {
        return html(res, 200, signinPage('normal', url.searchParams.get('state') ?? 'x', url.searchParams.get('port') ?? '1', 0));
      }
      if (req.method === 'POST' && url.pathname === '/api/login') return json(res, 200, { ok: false, message: 'Thanks.' });
      return html(res, 404, '<p>Not found</p>');
    })();
  });

  const servers: Server[] = [];
  const closeServer = (s: Server): Promise<void> =>
    new Promise((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  const ports: number[] = [];
  try {
    for (const s of [lingma, signin, foreign]) {
      ports.push(await listen(s));
      servers.push(s);
    }
  } catch (e) {
    await Promise.all(servers.map(closeServer));
    throw e;
  }
  lingmaOrigin = `http://127.0.0.1:${ports[0]}`;
  signinOrigin = `http://127.0.0.1:${ports[1]}`;
  foreignOrigin = `http://127.0.0.1:${ports[2]}`;

  return {
    baseUrl: lingmaOrigin,
    signinUrl: signinOrigin,
    foreignUrl: foreignOrigin,
    foreignReceived: () => [...foreignReceived],
    onVerifyPage: (l) => void events.on('verify', l),
    setMode(m) {
      mode = m;
    },
    hits: () => ({ ...hits, users: [...hits.users] }),
    close: async () => {
      await Promise.all(servers.map(closeServer));
    },
  };
}
