/**
 * Anthropic Messages front end: `POST /v1/messages` (also with `?beta=true`) and
 * `POST /v1/messages/count_tokens`. Auth by `x-api-key` or Bearer; `anthropic-version` and
 * `anthropic-beta` are accepted and not required. Errors in this scope use Anthropic's shape.
 *
 * Streaming: while waiting for the first event keep-alive comments are sent (a failure before
 * anything was sent stays a plain HTTP error); after `message_start`, `ping` events fill gaps
 * longer than `keepAliveMs`; a failure after the commit is one `event: error`.
 *
 * The streaming execution is the shared one (../shared/stream.ts) with ./encoder.ts. Registered in
 * its own scope (not wrapped in fastify-plugin) so its error handler stays local, through
 * `frontendPlugins` (../index.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { estimatePromptTokens, loadTokenizer } from '../../chat/tokens';
import type { RelayError } from '../../errors';
import { normalizeError, sendRelayError } from '../../gateway/plugins/errors';
import { callContext, clientGone, sessionHeader } from '../shared/context';
import type { FrontendOptions } from '../shared/options';
import { SseWriter } from '../shared/sse';
import { collectAnswer, streamAnswer } from '../shared/stream';
import { MessagesBody, MessagesStream } from './encoder';
import { toAnthropicError } from './errors';
import { anthropicToChatRequest } from './request';
import { guardScope } from '../../gateway/plugins/auth';

const ENDPOINT = '/v1/messages';

function sendAnthropicError(req: FastifyRequest, reply: FastifyReply, err: RelayError): FastifyReply | void {
  return sendRelayError(req, reply, err, (e) => toAnthropicError(e, req.id));
}

export async function anthropicRoutes(app: FastifyInstance, opts: FrontendOptions): Promise<void> {
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
      const ctx = callContext(req, 'anthropic', ENDPOINT, clientGone(reply.raw), receivedAt);
      return collectAnswer(opts.chat, request, ctx, reply, (resolved, prompt) => new MessagesBody(resolved.label, prompt));
    }
    const sse = new SseWriter(reply);
    const ctx = callContext(req, 'anthropic', ENDPOINT, sse.signal, receivedAt);
    await streamAnswer(opts.chat, request, ctx, sse, new MessagesStream(req.id), opts.limits(), opts.clock);
    return reply;
  });

  app.post(`${ENDPOINT}/count_tokens`, async (req) => {
    const request = anthropicToChatRequest(req.body, { forCountTokens: true });
    // An unknown model is a 404 model_not_found here too, as on /v1/messages.
    const resolver = opts.resolver?.();
    if (resolver) resolver.resolve(request.model);
    else opts.chat.resolveModel?.(request.model);
    // The tokenizer, not the stand-in: clients decide when to compact from this figure.
    await loadTokenizer();
    return { input_tokens: estimatePromptTokens(request) };
  });
}
