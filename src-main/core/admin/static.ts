/**
 * Serves the built dashboard at `/ui/` (no auth: the page holds no data; the admin API it calls
 * needs the token). Strict CSP: only our own scripts, styles and the gateway's own origin.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { errors, RelayError } from '../errors';
import { normalizeError, sendRelayError } from '../gateway/plugins/errors';

export function defaultRendererDir(): string {
  // import.meta.url is absent when main is bundled to CJS for Electron (which uses its own protocol).
  const url = (import.meta as { url?: string }).url;
  if (typeof url === 'string' && url.startsWith('file:')) {
    return resolve(dirname(fileURLToPath(url)), '../../../dist/renderer');
  }
  return resolve(process.cwd(), 'dist/renderer');
}

// SECURITY: no inline scripts or styles, no eval, nothing remote; connect only back to this gateway.
export function dashboardCsp(host: string | undefined): string {
  const ws = host && /^[A-Za-z0-9.\-[\]:]+$/.test(host) ? ` ws://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${ws}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function secureHeaders(reply: FastifyReply, host: string | undefined): void {
  reply.header('content-security-policy', dashboardCsp(host));
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  reply.header('cross-origin-opener-policy', 'same-origin');
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Lingma Relay</title></head>
<body><h1>The dashboard is not built</h1>
<p>Run <code>npm run build:renderer</code> in the Lingma Relay folder, then reload this page.</p>
<p>The gateway itself is running; the API works without the dashboard.</p></body></html>`;

/** `/ui` → `/ui/`, so relative asset URLs resolve under `/ui/`. */
function isBareUi(url: string): boolean {
  const path = url.split('?')[0];
  return path === '/ui';
}

export async function registerDashboard(app: FastifyInstance, dir: string): Promise<void> {
  const built = existsSync(join(dir, 'index.html'));
  await app.register(async (scope) => {
    // @fastify/static's refusals (a `..` escaping the root: ForbiddenError) carry `status`, not
    // `statusCode`: answer them as the 403/404 they are, quietly, instead of a logged 500.
    scope.setErrorHandler((err, req, reply) => {
      const e = err as { status?: number; statusCode?: number; name?: string };
      const status = e.statusCode ?? e.status;
      if (status === 403 || e.name === 'ForbiddenError') {
        req.log.info({ url: req.url.split('?')[0].slice(0, 200) }, 'dashboard path refused');
        return sendRelayError(req, reply, new RelayError({
          status: 403, type: 'invalid_request_error', code: 'forbidden_path', retryable: false,
          message: 'This path is outside the dashboard.',
        }));
      }
      if (status === 404) return sendRelayError(req, reply, errors.notFound('No such dashboard file.', 'unknown_route'));
      return sendRelayError(req, reply, normalizeError(err));
    });
    // The gateway's router may ignore trailing slashes (then `/ui` reaches these routes): redirect here.
    scope.addHook('onRequest', async (req, reply) => {
      secureHeaders(reply, req.headers.host);
      if (isBareUi(req.url)) return reply.redirect('/ui/', 301);
    });
    if (!built) {
      scope.get('/ui/*', (_req, reply) => reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT));
      return;
    }
    await scope.register(fastifyStatic, {
      root: dir,
      prefix: '/ui/',
      decorateReply: false,
      index: ['index.html'],
      wildcard: true,
      cacheControl: true,
      maxAge: 0,
    });
  });
  // Browsers ask the origin's root for /favicon.ico whatever the page links: answer with the
  // dashboard's (read once; a few KB), or a quiet 404 when the dashboard is not built.
  const favicon = join(dir, 'favicon.ico');
  const icon = existsSync(favicon) ? readFileSync(favicon) : undefined;
  if (!app.hasRoute({ method: 'GET', url: '/favicon.ico' })) {
    app.get('/favicon.ico', (req, reply) => {
      secureHeaders(reply, req.headers.host);
      if (!icon) return sendRelayError(req, reply, errors.notFound('No favicon: the dashboard is not built.', 'unknown_route'));
      return reply.header('cache-control', 'public, max-age=86400').type('image/x-icon').send(icon);
    });
  }
  if (!app.hasRoute({ method: 'GET', url: '/ui' })) {
    app.get('/ui', (req, reply) => {
      secureHeaders(reply, req.headers.host);
      if (isBareUi(req.url)) return reply.redirect('/ui/', 301);
      // A router that ignores trailing slashes sends `/ui/` here too: serve the page itself.
      if (!built) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
      return reply.type('text/html; charset=utf-8').send(readFileSync(join(dir, 'index.html')));
    });
  }
}
