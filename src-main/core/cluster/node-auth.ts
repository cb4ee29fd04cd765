/**
 * SECURITY: node-to-node requests (team mode) are signed with a key derived from the cluster
 * secret: HMAC-SHA256 over the method, the path, the time, the sending node and the sha256 of the
 * body. The receiving node checks the signature in its `cluster` route scope (`onRequest`, before
 * anything is parsed), then the body against its digest. A request older or newer than
 * `MAX_SKEW_MS` is refused.
 */
import { createHash } from 'node:crypto';
import type { ClusterCrypto } from './crypto';

export const MAX_SKEW_MS = 60_000;
export const FORWARD_CONTENT_TYPE = 'application/vnd.lingma-relay.forward+json';

export const H = {
  node: 'x-relay-node',
  time: 'x-relay-time',
  body: 'x-relay-body-sha256',
  signature: 'x-relay-signature',
} as const;

export const bodyDigest = (body: string): string => createHash('sha256').update(body, 'utf8').digest('hex');

const signed = (method: string, path: string, time: string, node: string, digest: string): string =>
  `${method.toUpperCase()}\n${path}\n${time}\n${node}\n${digest}`;

/** Headers for a request from `node` (the body's digest included). */
export function signNodeRequest(crypto: ClusterCrypto, node: string, method: string, path: string, body: string, now = Date.now()): Record<string, string> {
  const time = String(now);
  const digest = bodyDigest(body);
  return { [H.node]: node, [H.time]: time, [H.body]: digest, [H.signature]: crypto.sign(signed(method, path, time, node, digest)) };
}

type Headers = Record<string, string | string[] | undefined>;
const one = (h: Headers, k: string): string => {
  const v = h[k];
  return typeof v === 'string' ? v : '';
};

/** Is this a request signed by a node of the cluster, made within the allowed skew? */
export function verifyNodeRequest(crypto: ClusterCrypto, req: { method: string; url: string; headers: Headers }, now = Date.now()): boolean {
  const time = one(req.headers, H.time);
  const t = Number(time);
  if (!/^\d{1,16}$/.test(time) || Math.abs(now - t) > MAX_SKEW_MS) return false;
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const digest = one(req.headers, H.body);
  if (!/^[0-9a-f]{64}$/.test(digest)) return false;
  return crypto.verify(signed(req.method, path, time, one(req.headers, H.node), digest), one(req.headers, H.signature));
}
