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

/** "Malformed JSON body (position N)": never a fragment of the body. */
export function malformedJson(parserMessage: unknown): RelayError {
  const pos = /\bposition (\d+)/.exec(String(parserMessage ?? ''))?.[1];
  return errors.invalid(`Malformed JSON body${pos ? ` (position ${pos})` : ''}; send a valid JSON object.`, undefined, 'invalid_json');
}

/** Anything thrown in a request -> a client-safe RelayError. */
export function normalizeError(err: unknown, maxBodyBytes?: number): RelayError {
  if (err instanceof RelayError) return err;
  const e = err as FastifyError & { statusCode?: number };
  const code = e?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e?.statusCode === 413) return errors.tooLarge(maxBodyBytes ?? 0);
  if (e instanceof SyntaxError && /forbidden (prototype|constructor) property/i.test(String(e.message))) {
    // secure-json-parse refuses prototype-poisoning keys; say so instead of "malformed JSON".
    return errors.invalid('JSON keys __proto__ and constructor.prototype are not allowed in the body.', undefined, 'invalid_json');
  }
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || (e instanceof SyntaxError && e.statusCode === 400)) {
    // SECURITY: the parser's message quotes the body around the problem (a key, a password): only
    // the position is kept, for the response and the log line alike.
    return malformedJson(e?.message);
  }
  if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return errors.invalid('Request body is empty; expected a JSON object.', undefined, 'invalid_json');
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new RelayError({
      status: 415, type: 'invalid_request_error', code: 'unsupported_media_type', retryable: false,
      message: "Unsupported Content-Type; send 'Content-Type: application/json'.",
    });
  }
  if (code === 'FST_ERR_BAD_URL') {
    return errors.invalid('The URL path is malformed (an invalid %-escape such as %ZZ); percent-encode it correctly.', undefined, 'invalid_url');
  }
  if (code === 'FST_ERR_ASYNC_CONSTRAINT') {
    return errors.invalid('The request could not be routed (a route constraint failed).', undefined, 'invalid_request');
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

/**
 * Send an error reply (unless the response already started, in which case just end it). `shape`
 * builds the body: the OpenAI shape by default; a front end with its own (Anthropic) passes its own.
 */
export function sendRelayError(
  req: FastifyRequest,
  reply: FastifyReply,
  err: RelayError,
  shape: (e: RelayError) => unknown = toOpenAIError,
): FastifyReply | void {
  if (err.status >= 500) req.log.warn({ code: err.code, status: err.status, detail: err.detail }, err.message);
  else req.log.debug({ code: err.code, status: err.status }, err.message);
  if (reply.sent || reply.raw.headersSent) {
    if (!reply.raw.writableEnded) reply.raw.end();
    return;
  }
  if (err.retryAfter !== undefined && (err.status === 429 || err.status === 503)) reply.header('retry-after', String(err.retryAfter));
  reply.code(err.status === 499 ? 400 : err.status);
  return reply.send(shape(err));
}

/**
 * Errors raised by the router before any hook runs (bad %-escapes in the URL, failed async
 * constraints): fastify's `frameworkErrors` option. Same OpenAI shape, plus the `x-request-id`
 * the onRequest hook would have set.
 */
export function frameworkErrorHandler(maxBodyBytes?: number) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    if (req.id !== undefined) reply.header('x-request-id', String(req.id));
    void sendRelayError(req, reply, normalizeError(err, maxBodyBytes));
  };
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export function installErrorHandling(app: FastifyInstance, maxBodyBytes: number): void {
  app.setErrorHandler((err, req, reply) => sendRelayError(req, reply, normalizeError(err, maxBodyBytes)));
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    // A known path with another method is a 405 naming the allowed ones (e.g. GET /v1/chat/completions).
    if (path.length <= 200) {
      const allowed = METHODS.filter((m) => m !== req.method && app.hasRoute({ method: m, url: path }));
      if (allowed.length) {
        reply.header('allow', allowed.join(', '));
        return sendRelayError(req, reply, new RelayError({
          status: 405, type: 'invalid_request_error', code: 'method_not_allowed', retryable: false,
          message: `Method ${req.method} is not allowed on ${path}; use ${allowed.join(' or ')}.`,
        }));
      }
    }
    return sendRelayError(req, reply, errors.notFound(`Unknown route: ${req.method} ${path.slice(0, 200)}.`, 'unknown_route'));
  });
}
