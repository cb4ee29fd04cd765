/**
 * The OpenAI front end: `POST /v1/chat/completions`, `POST /v1/embeddings`, `GET /v1/models`,
 * `GET /v1/models/{id}` (ids contain slashes). It translates with ./translate.ts and talks only to
 * the ChatService; errors go through the gateway's one error handler (OpenAI shape).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Provider } from '../../backends/types';
import { collectChat } from '../../chat/collect';
import type { Usage } from '../../chat/model';
import { errors, isRelayError, toOpenAIError, toRelayError } from '../../errors';
import { keepAliveWhile, SseWriter } from '../../gateway/sse';
import type { ChatService, Protocol, RequestContext } from '../../dispatch/types';
import type { Resolver } from '../../routing/types';
import { ChunkRenderer, completionBody, embeddingsBody, parseChatRequest, parseEmbeddingsRequest } from './translate';
import { guardScope } from '../../gateway/plugins/auth';

export interface OpenAIFrontendOptions {
  chat: ChatService;
  providers: () => readonly Provider[];
  resolver?: () => Resolver | undefined;
  /** limits.keepAliveMs, read per request (live settings). */
  keepAliveMs: () => number;
}

interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  description?: string;
}

/** Every routable `provider/id` plus non-pattern aliases. */
export function listModels(providers: readonly Provider[], resolver: Resolver | undefined): ModelEntry[] {
  const out: ModelEntry[] = [];
  const seen = new Set<string>();
  for (const p of providers) {
    for (const m of p.models()) {
      const id = `${p.name}/${m.id}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ id, object: 'model', created: 0, owned_by: p.name });
    }
  }
  for (const a of resolver?.aliases() ?? []) {
    if (a.pattern || seen.has(a.name)) continue;
    seen.add(a.name);
    const e: ModelEntry = { id: a.name, object: 'model', created: 0, owned_by: 'relay-alias' };
    if (a.description) e.description = a.description;
    out.push(e);
  }
  return out;
}

/** Abort when the client goes away before the response finished. */
function clientSignal(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}

function contextOf(req: FastifyRequest, protocol: Protocol, signal: AbortSignal, receivedAt: number): RequestContext {
  const ua = req.headers['user-agent'];
  return {
    requestId: req.id,
    caller: req.caller!,
    protocol,
    endpoint: req.routeOptions.url ?? req.url,
    userAgent: typeof ua === 'string' ? ua.slice(0, 200) : undefined,
    signal,
    receivedAt,
    log: req.log as unknown as Logger,
  };
}

/** Always fresh: clients reuse x-request-id values, completion ids must not repeat. */
function completionId(): string {
  return `chatcmpl-${randomBytes(12).toString('hex')}`;
}

export async function openaiRoutes(app: FastifyInstance, opts: OpenAIFrontendOptions): Promise<void> {
  guardScope(app, 'apiKey');

  app.post('/v1/chat/completions', async (req, reply) => {
    const receivedAt = Date.now();
    const session = req.headers['x-session-id'];
    const { request, includeUsage } = parseChatRequest(req.body, typeof session === 'string' ? session : undefined);
    const created = Math.floor(receivedAt / 1000);
    const id = completionId();

    if (!request.stream) {
      const signal = clientSignal(reply);
      const exec = await opts.chat.execute(request, contextOf(req, 'openai-chat', signal, receivedAt));
      const result = await collectChat(exec.events);
      // Usage is the dispatcher's (the stream's usage event); its prompt estimate if none came.
      const usage: Usage = result.usage ?? { promptTokens: exec.promptTokens, completionTokens: 0, estimated: true };
      reply.header('x-relay-resolved', exec.resolved.label);
      return completionBody(id, created, exec.resolved.label, result, usage);
    }

    const sse = new SseWriter(reply);
    let exec;
    try {
      exec = await keepAliveWhile(sse, opts.chat.execute(request, contextOf(req, 'openai-chat', sse.signal, receivedAt)), opts.keepAliveMs());
    } catch (e) {
      if (!sse.committed) throw e; // nothing sent yet: a plain HTTP error
      const err = isRelayError(e) ? e : toRelayError(e);
      if (err.code !== 'client_closed') req.log.warn({ code: err.code, detail: err.detail }, 'stream failed before the first event');
      sse.end(ChunkRenderer.error(toOpenAIError(err)));
      return reply;
    }
    sse.commit({ 'x-relay-resolved': exec.resolved.label });
    const r = new ChunkRenderer(id, created, exec.resolved.label, includeUsage);
    const iterator = exec.events[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        const ev = next.value;
        if (sse.closed) break;
        const frame = r.frame(ev);
        if (frame) sse.write(frame);
      }
      if (sse.closed) {
        await iterator.return?.();
      } else {
        sse.end(r.end(r.usage));
      }
    } catch (e) {
      const err = isRelayError(e) ? e : toRelayError(e);
      if (!sse.closed && err.code !== 'client_closed') {
        req.log.warn({ code: err.code, status: err.status, detail: err.detail }, 'stream failed after it started');
        sse.end(ChunkRenderer.error(toOpenAIError(err)));
      }
    } finally {
      sse.end();
    }
    return reply;
  });

  app.post('/v1/embeddings', async (req, reply) => {
    const receivedAt = Date.now();
    const request = parseEmbeddingsRequest(req.body);
    const signal = clientSignal(reply);
    const { resolved, result } = await opts.chat.embed(request, contextOf(req, 'openai-embeddings', signal, receivedAt));
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
    return { id, object: 'model', created: 0, owned_by: res.targets[0]?.provider ?? 'relay' };
  });
}
