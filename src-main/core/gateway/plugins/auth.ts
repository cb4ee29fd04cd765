/**
 * SECURITY: authentication. A route scope opts in with `guardScope(scope, 'admin' | 'apiKey')`,
 * which adds the decorator below as the scope's `onRequest` hook (so nothing is parsed for a caller
 * without credentials, however the path was spelled: the hook belongs to the matched route) and
 * marks the scope, so the gateway's route guard (`route-guard.ts`) can refuse an `/admin` or `/v1`
 * route registered anywhere else. Authorization is never a test on `req.url`.
 * - `requireApiKey`: `Authorization: Bearer <key>` or `x-api-key: <key>`, checked in constant time
 *   by the KeyStore; sets `request.caller`.
 * - `requireAdmin`: the admin token (`Authorization: Bearer`, `x-admin-token`, or on a WebSocket
 *   upgrade the `bearer.<token>` subprotocol, since browsers cannot set headers there). API keys
 *   are NOT admin tokens.
 * - `requireMetrics`: the metrics token, or any API key.
 * Failures are 401s whose message never echoes what was presented.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN_WS_PROTOCOL, ADMIN_WS_TOKEN_PREFIX } from '../../state-types';
import { errors } from '../../errors';
import type { Caller } from '../../dispatch/types';

export type AuthHook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    requireApiKey: AuthHook;
    requireAdmin: AuthHook;
    requireMetrics: AuthHook;
    requireClusterNode: AuthHook;
  }
  interface FastifyRequest {
    /** Set by `requireApiKey` (and `requireMetrics` when an API key was used). */
    caller?: Caller;
  }
}

export interface AuthOptions {
  keys: { verify(presented: string | undefined): Caller | undefined };
  /** Read at request time so a rotated token takes effect at once. */
  adminToken: () => string | undefined;
  metricsToken?: () => string | undefined;
  /**
   * Team mode: is this request signed by a node of the cluster (`cluster/node-auth.ts`)? Absent
   * (single node): every request to a `cluster` scope is refused.
   */
  clusterNode?: (req: { method: string; url: string; headers: Record<string, string | string[] | undefined> }) => boolean;
}

/** Constant-time token comparison: both sides hashed first, so neither content nor length leaks. */
export function tokenEquals(presented: string | undefined, expected: string | undefined): boolean {
  if (!presented || !expected) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function bearerOf(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return undefined;
  // "Bearer <token>", case-insensitive scheme
  if (auth.length > 7 && (auth.charCodeAt(6) === 32) && auth.slice(0, 6).toLowerCase() === 'bearer') return auth.slice(7).trim();
  return undefined;
}

/** The API key a client presents: Bearer first, then x-api-key. */
export function presentedApiKey(req: FastifyRequest): string | undefined {
  const b = bearerOf(req);
  if (b) return b;
  const x = req.headers['x-api-key'];
  return typeof x === 'string' && x ? x.trim() : undefined;
}

export function presentedAdminToken(req: FastifyRequest): string | undefined {
  const b = bearerOf(req);
  if (b) return b;
  const x = req.headers['x-admin-token'];
  if (typeof x === 'string' && x) return x.trim();
  if (String(req.headers.upgrade ?? '').toLowerCase() === 'websocket') {
    const protos = req.headers['sec-websocket-protocol'];
    if (typeof protos === 'string') {
      for (const p of protos.split(',')) {
        const t = p.trim();
        if (t.startsWith(ADMIN_WS_TOKEN_PREFIX)) return t.slice(ADMIN_WS_TOKEN_PREFIX.length);
      }
    }
  }
  return undefined;
}

/** The scheme of an Authorization header that is not Bearer (e.g. `Basic`), for a helpful 401. */
function otherScheme(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string' || !auth.trim() || bearerOf(req)) return undefined;
  const scheme = auth.trim().split(/\s+/)[0];
  // Only a plausible scheme name is echoed (never the credentials after it).
  return /^[A-Za-z][\w-]{0,19}$/.test(scheme) && scheme.length < auth.trim().length ? scheme : undefined;
}

const WRONG_SCHEME = (scheme: string, what: string, alt: string): string =>
  `Unsupported Authorization scheme '${scheme}': send the ${what} as "Authorization: Bearer <${what === 'API key' ? 'key' : 'token'}>" or "${alt}: <${what === 'API key' ? 'key' : 'token'}>".`;

/** The admin-token check (`requireAdmin`): the one implementation, also for a standalone admin plugin. */
export function adminTokenHook(adminToken: () => string | undefined): AuthHook {
  return async function requireAdmin(req) {
    const presented = presentedAdminToken(req);
    if (!tokenEquals(presented, adminToken())) {
      const scheme = presented ? undefined : otherScheme(req);
      if (scheme) throw errors.unauthorized(WRONG_SCHEME(scheme, 'admin token', 'x-admin-token'));
      throw errors.unauthorized(
        presented ? 'Invalid admin token.' : 'Missing admin token. Send it as "Authorization: Bearer <token>" or "x-admin-token: <token>".',
      );
    }
  };
}

export type ScopeGuard = 'admin' | 'apiKey' | 'cluster';
const SCOPE_GUARD = Symbol('relay.scopeGuard');

/**
 * SECURITY: the one way a route scope requires credentials. Adds `requireAdmin` / `requireApiKey`
 * as the scope's `onRequest` hook (it runs for every route of the scope and its children) and marks
 * the scope so the route guard can check every route as it is registered. Call it first in the
 * scope, before its routes.
 */
export function guardScope(scope: FastifyInstance, kind: ScopeGuard): void {
  const name = kind === 'admin' ? 'requireAdmin' : kind === 'cluster' ? 'requireClusterNode' : 'requireApiKey';
  const hook = (scope as unknown as Partial<Record<string, AuthHook>>)[name];
  if (typeof hook !== 'function') throw new Error(`guardScope('${kind}') needs the gateway's auth plugin (${name} is not decorated)`);
  scope.addHook('onRequest', hook);
  if (Object.prototype.hasOwnProperty.call(scope, SCOPE_GUARD)) throw new Error(`guardScope: this scope is already guarded (${String((scope as never)[SCOPE_GUARD])})`);
  scope.decorate(SCOPE_GUARD, kind);
}

/** Which guard a scope (or a parent of it) put on its routes, if any. */
export function scopeGuardOf(scope: FastifyInstance): ScopeGuard | undefined {
  return (scope as unknown as Record<symbol, ScopeGuard | undefined>)[SCOPE_GUARD];
}

/**
 * SECURITY: WebSocket subprotocol selection (ws `handleProtocols`). The server answers only with
 * a protocol it speaks (`relay-admin`); an offered `bearer.<token>` (or any other protocol, such
 * as one carrying an API key) is never echoed back in `Sec-WebSocket-Protocol`.
 */
export function selectWsSubprotocol(offered: Set<string>): string | false {
  return offered.has(ADMIN_WS_PROTOCOL) ? ADMIN_WS_PROTOCOL : false;
}

export function installAuth(app: FastifyInstance, opts: AuthOptions): void {
  app.decorateRequest('caller', undefined);

  const requireApiKey: AuthHook = async (req) => {
    const presented = presentedApiKey(req);
    const caller = opts.keys.verify(presented);
    if (!caller) {
      const scheme = presented ? undefined : otherScheme(req);
      if (scheme) throw errors.unauthorized(WRONG_SCHEME(scheme, 'API key', 'x-api-key'));
      throw errors.unauthorized(
        presented
          ? 'Invalid API key.'
          : 'Missing API key. Send it as "Authorization: Bearer <key>" or "x-api-key: <key>".',
      );
    }
    req.caller = caller;
  };

  const requireAdmin = adminTokenHook(opts.adminToken);

  const requireMetrics: AuthHook = async (req) => {
    const presented = presentedApiKey(req);
    const mt = opts.metricsToken?.();
    if (mt && tokenEquals(presented, mt)) return;
    const caller = opts.keys.verify(presented);
    if (!caller) throw errors.unauthorized(presented ? 'Invalid metrics token or API key.' : 'Missing metrics token or API key.');
    req.caller = caller;
  };

  app.decorate('requireApiKey', requireApiKey);
  app.decorate('requireAdmin', requireAdmin);
  app.decorate('requireMetrics', requireMetrics);
  // Node-to-node routes (team mode): the cluster secret's signature, nothing else (no API key,
  // no admin token) opens them.
  const requireClusterNode: AuthHook = async (req) => {
    if (!opts.clusterNode?.({ method: req.method, url: req.url, headers: req.headers })) {
      throw errors.unauthorized('Node-to-node request refused: missing or invalid cluster signature.');
    }
  };
  app.decorate('requireClusterNode', requireClusterNode);
}
