/**
 * The `app://relay/...` protocol that serves the built dashboard (`dist/renderer/`), so the
 * renderer has a real, fixed origin instead of `file://`. Plain Node: `createAppProtocolHandler`
 * returns a fetch-style handler for `protocol.handle`, tested without Electron.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { APP_HOST, APP_SCHEME } from './security';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

export function mimeType(file: string): string {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export type AppPathResult = { ok: true; file: string } | { ok: false; status: 400 | 403 | 404; reason: string };

/**
 * SECURITY: map a request URL to a file inside `root`. Only `app://relay/`; the decoded path must
 * stay inside root (no `..`, encoded or not, no backslashes, no NUL). Extension-less paths are
 * dashboard routes and get `index.html`.
 */
export function resolveAppPath(root: string, requestUrl: string): AppPathResult {
  let u: URL;
  try {
    u = new URL(requestUrl);
  } catch {
    return { ok: false, status: 400, reason: 'invalid URL' };
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return { ok: false, status: 404, reason: 'unknown host' };
  let rel: string;
  try {
    rel = decodeURIComponent(u.pathname);
  } catch {
    return { ok: false, status: 400, reason: 'bad percent-encoding' };
  }
  if (rel.includes('\0') || rel.includes('\\')) return { ok: false, status: 400, reason: 'bad character in path' };
  const segments = rel.split('/').filter((s) => s.length > 0);
  if (segments.some((s) => s === '..' || s === '.')) return { ok: false, status: 403, reason: 'path traversal' };
  if (segments.length === 0 || !path.extname(segments[segments.length - 1])) segments.splice(0, segments.length, 'index.html');
  const rootAbs = path.resolve(root);
  const file = path.resolve(rootAbs, ...segments);
  if (file !== rootAbs && !file.startsWith(rootAbs + path.sep)) return { ok: false, status: 403, reason: 'path traversal' };
  return { ok: true, file };
}

export interface AppProtocolOptions {
  /** `dist/renderer/` */
  root: string;
  /** The current CSP (the gateway port can change while running). */
  csp: () => string;
}

/** A `protocol.handle('app', ...)` handler: static files with MIME types, CSP and no-sniff headers. */
export function createAppProtocolHandler(opts: AppProtocolOptions): (req: Request) => Promise<Response> {
  let realRoot: string | undefined;
  return async (req: Request): Promise<Response> => {
    const headers = {
      'Content-Security-Policy': opts.csp(),
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return new Response('Method not allowed', { status: 405, headers: { ...headers, 'Content-Type': 'text/plain' } });
    }
    const r = resolveAppPath(opts.root, req.url);
    if (!r.ok) return new Response(r.reason, { status: r.status, headers: { ...headers, 'Content-Type': 'text/plain' } });
    try {
      // SECURITY: also refuse symlinks that lead out of the renderer folder.
      realRoot ??= await fs.realpath(path.resolve(opts.root));
      const real = await fs.realpath(r.file);
      if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
        return new Response('path traversal', { status: 403, headers: { ...headers, 'Content-Type': 'text/plain' } });
      }
      const body = await fs.readFile(real);
      return new Response(req.method === 'HEAD' ? null : new Uint8Array(body), {
        status: 200,
        headers: { ...headers, 'Content-Type': mimeType(real), 'Cache-Control': 'no-cache' },
      });
    } catch {
      return new Response('not found', { status: 404, headers: { ...headers, 'Content-Type': 'text/plain' } });
    }
  };
}
