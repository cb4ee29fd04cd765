/**
 * Route helpers shared by the Anthropic and Responses front ends: the request context, the
 * client-gone signal, and a heartbeat while a started stream waits for its next event.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ChatEvent } from '../../chat/model';
import type { Protocol, RequestContext } from '../../dispatch/types';

/** Abort when the client goes away before the response finished. */
export function clientSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

export function contextOf(req: FastifyRequest, protocol: Protocol, endpoint: string, signal: AbortSignal, receivedAt: number): RequestContext {
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
  };
}

/** `x-session-id` (the gateway-wide affinity header), when sane. */
export function sessionHeader(req: FastifyRequest): string | undefined {
  const h = req.headers['x-session-id'];
  return typeof h === 'string' && h.length > 0 && h.length <= 256 ? h : undefined;
}

/**
 * Iterate `events`, calling `onIdle` each time `idleMs` pass without an event (Anthropic `ping`,
 * an SSE comment). Ending the loop early (`break`/`return`/throw in the consumer) returns the
 * source iterator, which cancels the upstream call.
 */
export async function* withHeartbeat(events: AsyncIterable<ChatEvent>, idleMs: number, onIdle: () => void): AsyncGenerator<ChatEvent> {
  const it = events[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      const next = it.next();
      let r: IteratorResult<ChatEvent>;
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<'idle'>((resolve) => {
          timer = setTimeout(() => resolve('idle'), idleMs);
        });
        const won = await Promise.race([next, idle]);
        clearTimeout(timer);
        if (won === 'idle') {
          onIdle();
          continue;
        }
        r = won;
        break;
      }
      if (r.done) {
        finished = true;
        return;
      }
      yield r.value;
    }
  } finally {
    if (!finished) await it.return?.();
  }
}
