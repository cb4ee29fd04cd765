/**
 * The admin API calling the gateway it belongs to, over HTTP, exactly as a client would (the
 * replay and the alias "Test"). SECURITY: the call carries a single-use in-process replay ticket
 * (`KeyStore.replayTicket`), never a stored key or the admin token.
 */
import { errors } from '../errors';
import type { AdminDeps } from './deps';

export interface SelfResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** POST `body` to `path` on the running gateway as API key `keyId`; the body is read to the end. */
export async function postToGateway(deps: AdminDeps, path: string, keyId: string, requestId: string, body: unknown): Promise<SelfResponse> {
  const ticket = deps.keys.replayTicket(keyId);
  // A gateway bound to every address is reached on loopback (the Host guard accepts that).
  const gateway = deps.url().replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//[::1]:');
  if (!gateway) throw errors.unavailable('The gateway is not listening yet; try again once it is.');
  const res = await fetch(`${gateway}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ticket}`, 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(deps.config.limits.firstByteTimeoutMs * 2 + 60_000),
  });
  const text = await res.text().catch(() => '');
  return { status: res.status, headers: res.headers, text };
}
