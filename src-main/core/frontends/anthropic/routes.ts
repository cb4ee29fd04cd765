/**
 * Anthropic Messages front end: `POST /v1/messages` (also with `?beta=true`) and
 * `POST /v1/messages/count_tokens`. Auth by `x-api-key` or Bearer; `anthropic-version` and
 * `anthropic-beta` are accepted and not required. Errors in this scope use Anthropic's shape.
 *
 * Streaming: while waiting for the first event the shared keep-alive helper sends SSE comments
 * (a failure before anything was sent stays a plain HTTP error); after `message_start`, `ping`
 * events fill gaps longer than `keepAliveMs`; a failure after the start is one `event: error`.
 *
 * Register in its own scope (not wrapped in fastify-plugin) so its error handler stays local:
 * `extraPlugins: [{ plugin: anthropicRoutes, opts: { chat, keepAliveMs } }]`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isRelayError, toRelayError, type RelayError } from '../../errors';
import { normalizeError, sendRelayError } from '../../gateway/plugins/errors';
import { keepAliveWhile, SseWriter } from '../../gateway/sse';
import type { ChatService } from '../../dispatch/types';
import { toAnthropicError } from './errors';
import { clientSignal, contextOf, sessionHeader, withHeartbeat } from './http';
import { anthropicToChatRequest } from './request';
import { AnthropicEncoder, PING_EVENT, type SseEvent } from './response';
import { estimatePromptTokens } from '../../chat/tokens';
import type { Resolver } from '../../routing/types';
import { guardScope } from '../../gateway/plugins/auth';

export interface AnthropicRoutesOptions {
  chat: ChatService;
  /** `limits.keepAliveMs` (a getter reads live settings). Default 5000. */
  keepAliveMs?: number | (() => number);
  /** Body limit, for the 413 message. */
  maxBodyBytes?: number;
  /** Model resolution for count_tokens (default: the chat service's `resolveModel`). */
  resolver?: () => Resolver | undefined;
}

const ENDPOINT = '/v1/messages';

function sendAnthropicError(req: FastifyRequest, reply: FastifyReply, err: RelayError): FastifyReply | void {
  return sendRelayError(req, reply, err, (e) => toAnthropicError(e, req.id));
}

function frame(e: SseEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

export async function anthropicRoutes(app: FastifyInstance, opts: AnthropicRoutesOptions): Promise<void> {
  const keepAliveMs = (): number => (typeof opts.keepAliveMs === 'function' ? opts.keepAliveMs() : (opts.keepAliveMs ?? 5000));

  // Everything in this scope (auth failures, bad JSON, routing errors) answers in Anthropic's shape.
  app.setErrorHandler((err, req, reply) => sendAnthropicError(req, reply, normalizeError(err, opts.maxBodyBytes)));
  // SECURITY: every route here needs an API key (x-api-key or Bearer), checked before the body is read.
  guardScope(app, 'apiKey');

  app.post(ENDPOINT, async (req, reply) => {
    const receivedAt = Date.now();
    const request = anthropicToChatRequest(req.body);
    const session = sessionHeader(req);
    if (session) request.sessionKey = session;

    if (!request.stream) {
      const exec = await opts.chat.execute(request, contextOf(req, 'anthropic', ENDPOINT, clientSignal(reply), receivedAt));
      const enc = new AnthropicEncoder(exec.resolved.label, exec.promptTokens);
      for await (const ev of exec.events) enc.push(ev);
      reply.header('x-relay-resolved', exec.resolved.label);
      return enc.message();
    }

    const sse = new SseWriter(reply);
    let exec;
    try {
      exec = await keepAliveWhile(sse, opts.chat.execute(request, contextOf(req, 'anthropic', ENDPOINT, sse.signal, receivedAt)), keepAliveMs());
    } catch (e) {
      if (!sse.committed) throw e; // nothing sent yet: a plain HTTP error in Anthropic's shape
      const err = isRelayError(e) ? e : toRelayError(e);
      if (err.code !== 'client_closed') {
        req.log.warn({ code: err.code, detail: err.detail }, 'stream failed before the first event');
        sse.write(frame({ event: 'error', data: toAnthropicError(err, req.id) as unknown as Record<string, unknown> }));
      }
      sse.end();
      return reply;
    }

    sse.commit({ 'x-relay-resolved': exec.resolved.label });
    const enc = new AnthropicEncoder(exec.resolved.label, exec.promptTokens);
    for (const e of enc.start()) sse.write(frame(e));
    try {
      for await (const ev of withHeartbeat(exec.events, keepAliveMs(), () => sse.write(frame(PING_EVENT)))) {
        if (sse.closed) break; // leaving the loop cancels the upstream call
        for (const e of enc.push(ev)) sse.write(frame(e));
      }
      if (!sse.closed) for (const e of enc.end()) sse.write(frame(e));
    } catch (e) {
      const err = isRelayError(e) ? e : toRelayError(e);
      if (!sse.closed && err.code !== 'client_closed') {
        req.log.warn({ code: err.code, status: err.status, detail: err.detail }, 'stream failed after it started');
        for (const ev of enc.error(err, req.id)) sse.write(frame(ev));
      }
    } finally {
      sse.end();
    }
    return reply;
  });

  app.post(`${ENDPOINT}/count_tokens`, async (req) => {
    const request = anthropicToChatRequest(req.body, { forCountTokens: true });
    // An unknown model is a 404 model_not_found here too, as on /v1/messages.
    const resolver = opts.resolver?.();
    if (resolver) resolver.resolve(request.model);
    else opts.chat.resolveModel?.(request.model);
    return { input_tokens: estimatePromptTokens(request) };
  });
}
