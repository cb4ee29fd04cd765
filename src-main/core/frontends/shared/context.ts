/**
 * The call context of one request, shared by every front end: who calls (the API key the auth hook
 * accepted), the affinity header, and the one "the client went away" signal.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { CallAbort } from '../../abort';
import type { Protocol, RequestContext } from '../../dispatch/types';

/**
 * Aborted when the response's connection closes before the response finished: the client went
 * away. The one place this is detected (the SSE writer, non-streaming answers and embeddings all
 * use it).
 */
export function clientGone(res: ServerResponse): AbortSignal {
  const ac = new CallAbort();
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

/** `x-session-id` (the gateway-wide affinity header), when sane. */
export function sessionHeader(req: FastifyRequest): string | undefined {
  const h = req.headers['x-session-id'];
  return typeof h === 'string' && h.length > 0 && h.length <= 256 ? h : undefined;
}

/** The `RequestContext` `ChatService.execute` needs, from the request the auth hook accepted. */
export function callContext(req: FastifyRequest, protocol: Protocol, endpoint: string, signal: AbortSignal, receivedAt: number): RequestContext {
  const ua = req.headers['user-agent'];
  return {
    requestId: req.id,
    caller: req.caller!,
    protocol,
    endpoint,
    userAgent: typeof ua === 'string' ? ua.slice(0, 200) : undefined,
    signal,
    receivedAt,
    // fastify's logger is the pino instance the gateway built it with.
    log: req.log as unknown as Logger,
    // For the request inspector's capture (redacted there); routing never reads it.
    clientBody: req.body,
  };
}
