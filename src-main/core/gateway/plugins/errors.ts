/**
 * The one error path of the gateway: every failure (RelayError, fastify's own body/validation
 * errors, unknown routes, anything thrown) becomes a RelayError and is sent in the OpenAI shape
 * with `Retry-After` for 429/503. Protocol front ends with another error shape (Anthropic) set their
 * own handler in their scope and reuse `normalizeError`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors, RelayError, toOpenAIError, toRelayError } from '../../errors';

function validationParam(e: FastifyError): string | undefined {
  const v = e.validation?.[0];
  if (!v) return undefined;
  const path = (v.instancePath || '').split('/').filter(Boolean);
  const missing = (v.params as { missingProperty?: string } | undefined)?.missingProperty;
  if (missing) path.push(missing);
  return path.length ? path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[') : undefined;
}

/** Anything thrown in a request -> a client-safe RelayError. */
export function normalizeError(err: unknown, maxBodyBytes?: number): RelayError {
  if (err instanceof RelayError) return err;
  const e = err as FastifyError & { statusCode?: number };
  const code = e?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e?.statusCode === 413) return errors.tooLarge(maxBodyBytes ?? 0);
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (e instanceof SyntaxError && e.statusCode === 400)) {
    return errors.invalid(`Malformed JSON body: ${String(e.message).slice(0, 200)}`, undefined, 'invalid_json');
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return errors.invalid('Request body is empty; expected a JSON object.', undefined, 'invalid_json');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new RelayError({
      status: 415, type: 'invalid_request_error', code: 'unsupported_media_type', retryable: false,
      message: "Unsupported Content-Type; send 'Content-Type: application/json'.",
    });
  }
  if (e?.validation) {
    const param = validationParam(e);
    const what = e.validation[0]?.message ?? 'is invalid';
    return errors.invalid(param ? `${param}: ${what}` : `Invalid request: ${what}`, param);
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // fastify's own 4xx (bad content length, bad URL, ...): their messages hold no secrets.
    return new RelayError({ status: e.statusCode, type: 'invalid_request_error', code: 'invalid_request', message: String(e.message), retryable: false });
  }
  return toRelayError(err);
}

/** Send an error reply (unless the response already started, in which case just end it). */
export function sendRelayError(req: FastifyRequest, reply: FastifyReply, err: RelayError): FastifyReply | void {
  if (err.status >= 500) req.log.warn({ code: err.code, status: err.status, detail: err.detail }, err.message);
  else req.log.debug({ code: err.code, status: err.status }, err.message);
  if (reply.sent || reply.raw.headersSent) {
    if (!reply.raw.writableEnded) reply.raw.end();
    return;
  }
  if (err.retryAfter !== undefined && (err.status === 429 || err.status === 503)) reply.header('retry-after', String(err.retryAfter));
  reply.code(err.status === 499 ? 400 : err.status);
  return reply.send(toOpenAIError(err));
}

export function installErrorHandling(app: FastifyInstance, maxBodyBytes: number): void {
  app.setErrorHandler((err, req, reply) => sendRelayError(req, reply, normalizeError(err, maxBodyBytes)));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0].slice(0, 200);
    return sendRelayError(req, reply, errors.notFound(`Unknown route: ${req.method} ${path}.`, 'unknown_route'));
  });
}
