/**
 * `x-request-id`: the caller's when it is sane (<= 128 chars of [A-Za-z0-9_.-]), else a new one.
 * It is fastify's request id (so every log line of the request carries it as `reqId`) and goes
 * out on every response, errors and SSE streams included.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';

const SANE = /^[\w.-]{1,128}$/;

export function requestIdFor(raw: IncomingMessage): string {
  const h = raw.headers['x-request-id'];
  if (typeof h === 'string' && SANE.test(h)) return h;
  return randomUUID();
}

export function installRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    done();
  });
}
