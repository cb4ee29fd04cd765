/**
 * The OpenAI front end: `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models`,
 * `GET /v1/models/{id}` (ids contain slashes). It translates with ./translate.ts and talks only to
 * the ChatService through the shared execution (../shared/stream.ts) with the encoders of
 * ./encoder.ts; errors go through the gateway's one error handler (OpenAI shape).
 */
import { randomFillSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { errors } from '../../errors';
import type { Resolver } from '../../routing/types';
import { callContext, clientGone } from '../shared/context';
import type { FrontendOptions } from '../shared/options';
import { SseWriter } from '../shared/sse';
import { collectAnswer, streamAnswer } from '../shared/stream';
import { ChatBody, ChatStream } from './encoder';
import { serializeCompletion } from './serialize';
import { embeddingsBody, parseChatRequest, parseEmbeddingsRequest } from './translate';
import { guardScope } from '../../gateway/plugins/auth';
import { listModels } from './models';

export { listModels, type ModelEntry } from './models';

/**
 * Always fresh: clients reuse x-request-id values, completion ids must not repeat. 12 random
 * bytes each, taken from a pool filled 128 ids at a time (one `randomFillSync` call instead of a
 * `randomBytes` allocation per request).
 */
const ID_BYTES = 12;
const idPool = Buffer.alloc(ID_BYTES * 128);
let idNext = idPool.length;
function completionId(): string {
  if (idNext >= idPool.length) {
    randomFillSync(idPool);
    idNext = 0;
  }
  const hex = idPool.toString('hex', idNext, idNext + ID_BYTES);
  idNext += ID_BYTES;
  return `chatcmpl-${hex}`;
}

export async function openaiRoutes(app: FastifyInstance, opts: FrontendOptions): Promise<void> {
  guardScope(app, 'apiKey');

  app.post('/v1/chat/completions', async (req, reply) => {
    const receivedAt = Date.now();
    const session = req.headers['x-session-id'];
    const { request, includeUsage } = parseChatRequest(req.body, typeof session === 'string' ? session : undefined);
    const created = Math.floor(receivedAt / 1000);
    const id = completionId();

    if (!request.stream) {
      const ctx = callContext(req, 'openai-chat', '/v1/chat/completions', clientGone(reply.raw), receivedAt);
      const body = await collectAnswer(opts.chat, request, ctx, reply, (resolved, prompt) => new ChatBody(id, created, resolved.label, prompt));
      // Set only once the body is whole: an error answer keeps the gateway's own serialization.
      reply.type('application/json; charset=utf-8').serializer(serializeCompletion);
      return body;
    }
    const sse = new SseWriter(reply);
    const ctx = callContext(req, 'openai-chat', '/v1/chat/completions', sse.signal, receivedAt);
    await streamAnswer(opts.chat, request, ctx, sse, new ChatStream(id, created, includeUsage), opts.limits(), opts.clock);
    return reply;
  });

  app.post('/v1/embeddings', async (req, reply) => {
    const receivedAt = Date.now();
    const request = parseEmbeddingsRequest(req.body);
    const ctx = callContext(req, 'openai-embeddings', '/v1/embeddings', clientGone(reply.raw), receivedAt);
    const { resolved, result } = await opts.chat.embed(request, ctx);
    reply.header('x-relay-resolved', resolved.label);
    return embeddingsBody(resolved.label, result);
  });

  app.get('/v1/models', async () => ({ object: 'list', data: listModels(opts.providers(), opts.resolver?.()) }));

  app.get('/v1/models/*', async (req) => {
    const id = (req.params as { '*'?: string })['*'] ?? ''; // already URL-decoded by the router
    if (!id) throw errors.invalid('Model id is missing from the path.', 'model');
    const all = listModels(opts.providers(), opts.resolver?.());
    const hit = all.find((m) => m.id === id);
    if (hit) return hit;
    const resolver = opts.resolver?.();
    if (!resolver) throw errors.modelNotFound(id, all.slice(0, 8).map((m) => m.id));
    const res = resolver.resolve(id); // throws 404 model_not_found with suggestions
    // A bare name or pattern match: what its first target is known to offer.
    const first = res.targets[0];
    const entry = first && all.find((m) => m.id === first.label);
    const { context_length, max_output_tokens, capabilities } = entry ?? {};
    return { id, object: 'model', created: 0, owned_by: first?.provider ?? 'relay', context_length, max_output_tokens, capabilities };
  });
}
