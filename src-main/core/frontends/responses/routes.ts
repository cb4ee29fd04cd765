/**
 * OpenAI Responses front end:
 * - `POST /v1/responses`, streaming (SSE, `event: <type>` + `data: <json>`) and not;
 * - `GET /v1/responses` with `Upgrade: websocket`: the transport Codex uses. The first message
 *   must be a `response.create` with a model (else the socket closes with 1008 and a reason);
 *   every `response.create` is one turn: a fresh `execute` that takes its concurrency slot and
 *   frees it when the turn ends. Turns run one after the other; events go out as JSON text
 *   messages; failures are `error` events (before a turn started) or `response.failed`.
 *
 * `previous_response_id` continues responses this gateway produced: those stored (store not
 * false) in the bounded `ResponseStore`, and on a WebSocket also the connection's own recent
 * responses whatever `store` said (Codex sends `store: false` and chains turns by id there).
 *
 * Errors before a stream starts use the gateway's OpenAI error shape (the root error handler).
 * Both transports run the shared execution (../shared/stream.ts) with ./encoder.ts; the WebSocket
 * connection is ./socket.ts. Registered through `frontendPlugins` (../index.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { ChatMessage } from '../../chat/model';
import { RelayError } from '../../errors';
import { callContext, clientGone, sessionHeader } from '../shared/context';
import type { FrontendOptions } from '../shared/options';
import { SseWriter } from '../shared/sse';
import { collectAnswer, streamAnswer } from '../shared/stream';
import { ResponsesBody, ResponsesSse } from './encoder';
import { prepareResponses, RESPONSES_ENDPOINT as ENDPOINT } from './request';
import { ResponsesSocket } from './socket';
import { ResponseStore } from './store';
import { guardScope } from '../../gateway/plugins/auth';

export async function responsesRoutes(app: FastifyInstance, opts: FrontendOptions): Promise<void> {
  const store = opts.store ?? new ResponseStore();
  // SECURITY: every route here needs an API key; for the WebSocket the check runs on the upgrade
  // request, before any socket exists. previous_response_id lookups are scoped to that key.
  guardScope(app, 'apiKey');

  app.post(ENDPOINT, async (req, reply) => {
    const receivedAt = Date.now();
    const keyId = req.caller!.keyId;
    const parsed = prepareResponses(req.body, sessionHeader(req), (id) => store.get(id, keyId));
    const { request } = parsed;
    const remember = (enc: { id: string; assistantMessage(): ChatMessage }): void => {
      if (parsed.store) store.put(enc.id, keyId, [...parsed.conversation, enc.assistantMessage()]);
    };

    if (!request.stream) {
      const ctx = callContext(req, 'responses', ENDPOINT, clientGone(reply.raw), receivedAt);
      return collectAnswer(opts.chat, request, ctx, reply, (resolved, prompt) => new ResponsesBody(resolved.label, parsed, prompt, remember));
    }
    const sse = new SseWriter(reply);
    const ctx = callContext(req, 'responses', ENDPOINT, sse.signal, receivedAt);
    await streamAnswer(opts.chat, request, ctx, sse, new ResponsesSse(parsed, remember), opts.limits(), opts.clock);
    return reply;
  });

  app.route({
    method: 'GET',
    url: ENDPOINT,
    // A plain GET (no upgrade) gets a clear error; the upgrade goes to `wsHandler`.
    handler: async () => {
      throw new RelayError({
        status: 426,
        type: 'invalid_request_error',
        code: 'upgrade_required',
        message: 'GET /v1/responses is the WebSocket transport: connect with "Upgrade: websocket", or POST /v1/responses over HTTP.',
        retryable: false,
      });
    },
    wsHandler: (socket: WebSocket, req: FastifyRequest) => {
      new ResponsesSocket(socket, req, opts, store);
    },
  });
}
