/**
 * SECURITY: admin-token checks for the admin API. The gateway's own auth plugin may also guard
 * `/admin`; this check stands on its own so the admin API is never open even if registered
 * somewhere without it, and it is the one place that accepts the token from a WebSocket
 * subprotocol (browsers cannot set headers on a WebSocket).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { ADMIN_WS_TOKEN_PREFIX } from './api-types';

/** Constant-time comparison: both sides hashed first, so lengths never leak either. */
export function tokenMatches(presented: string | undefined, expected: string | undefined): boolean {
  if (!presented || !expected) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a request presents: `Authorization: Bearer`, `x-admin-token`, or (WebSocket upgrades only) `bearer.<token>` subprotocol. */
export function presentedToken(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1].trim();
  }
  const x = req.headers['x-admin-token'];
  if (typeof x === 'string' && x) return x.trim();
  const isUpgrade = String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';
  const protos = req.headers['sec-websocket-protocol'];
  if (isUpgrade && typeof protos === 'string') {
    for (const p of protos.split(',')) {
      const t = p.trim();
      if (t.startsWith(ADMIN_WS_TOKEN_PREFIX)) return t.slice(ADMIN_WS_TOKEN_PREFIX.length);
    }
  }
  return undefined;
}
