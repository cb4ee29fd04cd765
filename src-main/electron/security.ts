/**
 * SECURITY: the one guarded place for the desktop shell's web security. Window options, the
 * renderer's Content-Security-Policy, navigation and window-open rules, permission handlers,
 * external-link validation. Everything is a plain function taking Electron objects as parameters
 * (type-only imports), so it is unit-tested in Node with fakes and type-checked against Electron.
 */
import type { App, Session, WebContents, WebPreferences, CustomScheme, HandlerDetails, WindowOpenHandlerResponse } from 'electron';

/** The dashboard is served from `app://relay/...` (see protocol.ts), never `file://`. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'relay';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY_URL = `${APP_ORIGIN}/index.html`;

export type Log = (level: 'info' | 'warn' | 'error', msg: string) => void;

/** Registered before `app` is ready: a standard, secure scheme so the renderer gets a real origin. */
export function appSchemePrivileges(): CustomScheme {
  return {
    scheme: APP_SCHEME,
    // SECURITY: no bypassCSP, no service workers, no extensions. `supportFetchAPI` lets the
    // renderer fetch its own static files.
    privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: false, stream: true },
  };
}

/** SECURITY: the flags every window of ours gets, whatever it shows. Every one explicit, even the defaults. */
const LOCKED_DOWN = Object.freeze({
  sandbox: true,
  contextIsolation: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  spellcheck: false,
  experimentalFeatures: false,
  navigateOnDragDrop: false,
  safeDialogs: true,
} satisfies WebPreferences);

/**
 * SECURITY: the dashboard window's webPreferences. Every flag explicit, even the defaults.
 * DevTools only in development builds (`!app.isPackaged`).
 */
export function mainWindowWebPreferences(preloadPath: string, opts: { devTools?: boolean } = {}): WebPreferences {
  return { ...LOCKED_DOWN, preload: preloadPath, devTools: opts.devTools ?? false };
}

/** SECURITY: the hidden login window: sandboxed, no preload, its own persistent partition. */
export function loginWindowWebPreferences(partition: string): WebPreferences {
  return { ...LOCKED_DOWN, partition, javascript: true };
}

/**
 * The http and ws origins of the local gateway (`http://127.0.0.1:8420` → both). Throws on
 * anything that is not a plain http URL on a loopback host: the CSP must never open up to the web.
 */
export function gatewayOrigins(gatewayUrl: string): { http: string; ws: string } {
  let u: URL;
  try {
    u = new URL(gatewayUrl);
  } catch {
    throw new Error(`gateway URL is not a valid URL: ${JSON.stringify(gatewayUrl)}`);
  }
  if (u.protocol !== 'http:') throw new Error(`gateway URL must be http://, got ${u.protocol}`);
  if (!isLoopbackHost(u.hostname)) throw new Error(`gateway URL must be on a loopback host, got ${u.hostname}`);
  return { http: u.origin, ws: `ws://${u.host}` };
}

/**
 * SECURITY: the renderer's Content-Security-Policy. Scripts only from the app itself (no inline,
 * no eval); network only to the gateway's http and ws origin; no frames, no objects, no forms.
 * No inline styles either: the renderer styles everything from its CSS file and SVG attributes.
 */
export function buildCsp(gatewayUrl: string | undefined): string {
  const connect = ["'self'"];
  if (gatewayUrl) {
    const o = gatewayOrigins(gatewayUrl);
    connect.push(o.http, o.ws);
  }
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "object-src 'none'",
    "frame-src 'none'",
    "worker-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === '127.0.0.1' || h === 'localhost' || h === '[::1]' || h === '::1';
}

function parseUrl(raw: unknown, maxLength = 4096): URL | null {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > maxLength) return null;
  try {
    return new URL(raw);
  } catch {
    return null;
  }
}

/** True for `app://relay/...` only. */
export function isAppUrl(raw: unknown): boolean {
  const u = parseUrl(raw);
  return !!u && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && !u.username && !u.password;
}

/**
 * SECURITY: links leave the app only through this check: https anywhere, or http to a loopback
 * host (local tools, the gateway itself). No credentials in the URL, nothing else
 * (`file:`, `javascript:`, custom schemes that launch programs). Returns the normalised URL or null.
 */
export function validateExternalUrl(raw: unknown): string | null {
  const u = parseUrl(raw, 2048);
  if (!u) return null;
  if (u.username || u.password) return null;
  if (u.protocol === 'https:' && u.hostname) return u.href;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return u.href;
  return null;
}

/**
 * SECURITY: the dashboard window's navigation rules. It may only ever show the app protocol;
 * window.open is denied, and a link that passes `validateExternalUrl` opens in the user's browser.
 */
export function guardAppWebContents(
  contents: WebContents,
  opts: { openExternal: (url: string) => void; log?: Log },
): void {
  const deny = (kind: string) => (e: { preventDefault(): void; url: string }) => {
    if (isAppUrl(e.url)) return;
    e.preventDefault();
    opts.log?.('warn', `blocked ${kind} of the dashboard window to a non-app URL`);
    const ext = validateExternalUrl(e.url);
    if (ext && kind === 'will-navigate') opts.openExternal(ext);
  };
  contents.on('will-navigate', deny('will-navigate'));
  contents.on('will-redirect', deny('will-redirect'));
  contents.on('will-frame-navigate', deny('will-frame-navigate'));
  contents.setWindowOpenHandler((details: HandlerDetails): WindowOpenHandlerResponse => {
    const ext = validateExternalUrl(details.url);
    if (ext) opts.openExternal(ext);
    else opts.log?.('warn', 'blocked window.open to a URL that is neither https nor loopback http');
    return { action: 'deny' };
  });
}

/** SECURITY: deny every permission request and check; no device access, no display capture. */
export function denyAllPermissions(session: Session): void {
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.setDisplayMediaRequestHandler((_req, callback) => callback({}));
}

/** SECURITY: no downloads from this session (login pages must not drop files on the user). */
export function denyDownloads(session: Session, log?: Log): void {
  session.on('will-download', (event) => {
    event.preventDefault();
    log?.('warn', 'blocked a download');
  });
}

/**
 * SECURITY: guards for every WebContents the app ever creates (defence in depth on top of the
 * per-window guards): no <webview>, no window.open, and certificate errors are never overridden
 * (the handler only logs; not calling preventDefault keeps Chromium's refusal).
 */
export function installGlobalGuards(app: App, log?: Log): void {
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-attach-webview', (e) => {
      e.preventDefault();
      log?.('warn', 'blocked a <webview>');
    });
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  app.on('certificate-error', (_event, _contents, url, error) => {
    // SECURITY: never `callback(true)`. Log the origin only (paths may carry tokens).
    log?.('warn', `certificate error ${error} for ${safeOrigin(url)}: refused`);
  });
}

/** The origin of a URL for logs (never the path or query: login URLs carry nonces and tokens). */
export function safeOrigin(raw: string): string {
  const u = parseUrl(raw);
  if (!u) return '(invalid url)';
  return u.origin === 'null' ? `${u.protocol}` : u.origin;
}

