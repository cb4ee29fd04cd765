/**
 * SECURITY: DNS-rebinding and cross-site protection for a server on localhost.
 * - `Host` must name this machine's loopback with the port we listen on (`127.0.0.1:PORT`,
 *   `localhost:PORT`, `[::1]:PORT`) or be listed in `server.allowedHosts`. A page on evil.com that
 *   rebinds its name to 127.0.0.1 still sends `Host: evil.com`, and is refused.
 * - `Origin`, when present, must be the gateway's own origin (the /ui/ dashboard) or listed in
 *   `server.corsOrigins` (or a host-supplied extra origin such as the desktop app's). Anything else:
 *   403, before any handler runs.
 * - CORS headers (and preflight answers) come from `@fastify/cors` (`installCors`, registered
 *   after this guard, so the guard's 403 is always in front), only for configured origins; none
 *   are configured by default.
 * - The request target must be a path (`GET /v1/models`). An absolute-form target
 *   (`GET http://host/path`, which the router would still match by its path) is a 400 unless its
 *   host passes the same Host rule; any other form (`*`, `host:port`, `admin/state`) is a 400.
 * The port is read from the live socket at request time, so `listen({ port: 0 })` works.
 */
import cors from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../../errors';

export interface GuardOptions {
  allowedHosts: string[];
  corsOrigins: string[];
  /** Origins the host adds (e.g. the desktop app's custom protocol). Treated like corsOrigins. */
  extraOrigins?: string[];
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const ALLOW_HEADERS = 'authorization, content-type, x-api-key, x-admin-token, x-request-id, x-session-id, anthropic-version, anthropic-beta, openai-beta';
const EXPOSE_HEADERS = 'x-request-id, x-relay-resolved, retry-after';

function splitHost(host: string): { name: string; port: string } {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return { name: host, port: '' };
    return { name: host.slice(0, end + 1), port: host[end + 1] === ':' ? host.slice(end + 2) : '' };
  }
  const colon = host.lastIndexOf(':');
  return colon < 0 ? { name: host, port: '' } : { name: host.slice(0, colon), port: host.slice(colon + 1) };
}

/** `http://host[:port]/...` -> `host[:port]`; undefined for any other form (or user info). */
function absoluteFormAuthority(target: string): string | undefined {
  const m = /^http:\/\/([^/?#]*)/i.exec(target);
  if (!m || !m[1] || m[1].includes('@')) return undefined;
  return m[1];
}

function clip(s: string): string {
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}

const corsSet = (opts: GuardOptions): Set<string> => new Set([...opts.corsOrigins, ...(opts.extraOrigins ?? [])].map((o) => o.toLowerCase()));

/**
 * CORS for the configured origins only (`@fastify/cors`): allow-origin and exposed headers on
 * their responses, preflights answered 204. Register after `installGuard`: a foreign Origin never
 * gets this far (403).
 */
export async function installCors(app: FastifyInstance, opts: GuardOptions): Promise<void> {
  const allowed = corsSet(opts);
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin.toLowerCase()) ? origin : false),
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ALLOW_HEADERS,
    exposedHeaders: EXPOSE_HEADERS,
    maxAge: 600,
    strictPreflight: false,
  });
}

export function installGuard(app: FastifyInstance, opts: GuardOptions): void {
  const extraHosts = opts.allowedHosts.map((h) => h.toLowerCase());
  const cors = corsSet(opts);

  const listeningPort = (req: FastifyRequest): number | undefined => {
    const p = req.socket?.localPort;
    if (typeof p === 'number' && p > 0) return p;
    const a = app.server.address();
    return a && typeof a === 'object' ? a.port : undefined; // undefined: inject() without a socket
  };

  const hostAllowed = (host: string | undefined, port: number | undefined): boolean => {
    if (!host) return false;
    const h = host.toLowerCase();
    const { name, port: p } = splitHost(h);
    if (LOOPBACK.has(name)) {
      if (port === undefined) return true; // in-process inject(): no socket, no port to compare
      return p === '' ? port === 80 : p === String(port);
    }
    for (const e of extraHosts) {
      if (e === h) return true;
      if (!e.includes(':') || (e.startsWith('[') && !e.includes(']:'))) {
        if (e === name) return true;
      }
    }
    return false;
  };

  app.addHook('onRequest', async (req) => {
    const target = req.raw.url ?? '';
    if (!target.startsWith('/')) {
      const authority = absoluteFormAuthority(target);
      if (authority === undefined || !hostAllowed(authority, listeningPort(req))) {
        throw errors.invalid(
          'The request target must be a path such as /v1/models; an absolute URL is accepted only when it names this server\'s own host.',
          undefined,
          'invalid_request_target',
        );
      }
    }
    const host = req.headers.host;
    if (!hostAllowed(host, listeningPort(req))) {
      throw errors.forbidden(
        `Host '${clip(String(host ?? ''))}' is not allowed. Use http://127.0.0.1:<port>, or add the host to server.allowedHosts.`,
        'host_not_allowed',
      );
    }
    const origin = req.headers.origin;
    if (origin === undefined) return;
    const o = origin.toLowerCase();
    const sameOrigin = o === `http://${host!.toLowerCase()}`;
    const corsAllowed = cors.has(o);
    if (!sameOrigin && !corsAllowed) {
      throw errors.forbidden(`Origin '${clip(origin)}' is not allowed. Add it to server.corsOrigins to allow it.`, 'origin_not_allowed');
    }
  });
}
