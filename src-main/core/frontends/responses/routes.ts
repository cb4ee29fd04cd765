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
 * Register with `extraPlugins: [{ plugin: responsesRoutes, opts: { chat, keepAliveMs } }]`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { ChatMessage } from '../../chat/model';
import { errors, isRelayError, RelayError, toRelayError } from '../../errors';
import { keepAliveWhile, SseWriter } from '../../gateway/sse';
import type { ChatService } from '../../dispatch/types';
import { isObject } from '../anthropic/check';
import { clientSignal, contextOf, sessionHeader, withHeartbeat } from '../anthropic/http';
import { responsesToChatRequest, type ParsedResponsesRequest } from './request';
import { ResponsesEncoder, responsesErrorCode, type ResponsesEvent } from './response';
import { ResponseStore } from './store';
import { guardScope } from '../../gateway/plugins/auth';

export interface ResponsesRoutesOptions {
  chat: ChatService;
  /** `limits.keepAliveMs` (a getter reads live settings). Default 5000. */
  keepAliveMs?: number | (() => number);
  /** The conversation store; one is created (1000 entries) when not given. */
  store?: ResponseStore;
  /** How long a new WebSocket may stay silent before its first message. Default 60 s. */
  wsFirstMessageTimeoutMs?: number;
}

const ENDPOINT = '/v1/responses';
/** Responses remembered per WebSocket connection for chaining, whatever `store` said. */
const WS_LOCAL_RESPONSES = 16;
/** WebSocket close code for a policy violation (RFC 6455). */
export const WS_POLICY_VIOLATION = 1008;

function sseFrame(e: ResponsesEvent): string {
  return `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

/** The `error` event sent on a WebSocket when a turn fails before it started. */
export function wsErrorEvent(err: RelayError): Record<string, unknown> {
  const code = responsesErrorCode(err);
  return {
    type: 'error',
    sequence_number: 0,
    status: err.status === 499 ? 400 : err.status,
    code,
    message: err.message,
    param: err.param,
    error: { type: err.type, code, message: err.message, param: err.param },
  };
}

function prepare(body: unknown, req: FastifyRequest, lookup: (id: string) => ChatMessage[] | undefined): ParsedResponsesRequest {
  const parsed = responsesToChatRequest(body, lookup);
  const session = sessionHeader(req);
  if (session && !parsed.request.sessionKey) parsed.request.sessionKey = session;
  return parsed;
}

export async function responsesRoutes(app: FastifyInstance, opts: ResponsesRoutesOptions): Promise<void> {
  const keepAliveMs = (): number => (typeof opts.keepAliveMs === 'function' ? opts.keepAliveMs() : (opts.keepAliveMs ?? 5000));
  const store = opts.store ?? new ResponseStore();
  // SECURITY: every route here needs an API key; for the WebSocket the check runs on the upgrade
  // request, before any socket exists. previous_response_id lookups are scoped to that key.
  guardScope(app, 'apiKey');

  app.post(ENDPOINT, async (req, reply) => {
    const receivedAt = Date.now();
    const keyId = req.caller!.keyId;
    const parsed = prepare(req.body, req, (id) => store.get(id, keyId));
    const { request } = parsed;
    const remember = (enc: ResponsesEncoder) => {
      if (parsed.store) store.put(enc.id, keyId, [...parsed.conversation, enc.assistantMessage()]);
    };

    if (!request.stream) {
      const exec = await opts.chat.execute(request, contextOf(req, 'responses', ENDPOINT, clientSignal(reply), receivedAt));
      const enc = new ResponsesEncoder(exec.resolved.label, parsed.echo, parsed.customTools, exec.promptTokens);
      for await (const ev of exec.events) enc.push(ev);
      enc.end();
      remember(enc);
      reply.header('x-relay-resolved', exec.resolved.label);
      return enc.response();
    }

    const sse = new SseWriter(reply);
    let exec;
    try {
      exec = await keepAliveWhile(sse, opts.chat.execute(request, contextOf(req, 'responses', ENDPOINT, sse.signal, receivedAt)), keepAliveMs());
    } catch (e) {
      if (!sse.committed) throw e; // nothing sent yet: a plain HTTP error
      const err = isRelayError(e) ? e : toRelayError(e);
      if (err.code !== 'client_closed') {
        req.log.warn({ code: err.code, detail: err.detail }, 'stream failed before the first event');
        // The client already has a 200: tell it in the stream, as a response that failed.
        const enc = new ResponsesEncoder(request.model, parsed.echo, parsed.customTools, 0);
        for (const ev of [...enc.start(), ...enc.fail(err)]) sse.write(sseFrame(ev));
      }
      sse.end();
      return reply;
    }

    sse.commit({ 'x-relay-resolved': exec.resolved.label });
    const enc = new ResponsesEncoder(exec.resolved.label, parsed.echo, parsed.customTools, exec.promptTokens);
    for (const ev of enc.start()) sse.write(sseFrame(ev));
    try {
      for await (const ev of withHeartbeat(exec.events, keepAliveMs(), () => sse.comment())) {
        if (sse.closed) break; // leaving the loop cancels the upstream call
        for (const out of enc.push(ev)) sse.write(sseFrame(out));
      }
      if (!sse.closed) {
        for (const out of enc.end()) sse.write(sseFrame(out));
        remember(enc);
      }
    } catch (e) {
      const err = isRelayError(e) ? e : toRelayError(e);
      if (!sse.closed && err.code !== 'client_closed') {
        req.log.warn({ code: err.code, status: err.status, detail: err.detail }, 'stream failed after it started');
        for (const out of enc.fail(err)) sse.write(sseFrame(out));
      }
    } finally {
      sse.end();
    }
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
      new ResponsesSocket(socket, req, opts.chat, store, opts.wsFirstMessageTimeoutMs ?? 60_000);
    },
  });
}

/** One WebSocket connection: a sequence of turns. */
class ResponsesSocket {
  private first = true;
  private model: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private current: AbortController | undefined;
  private closed = false;
  private turn = 0;
  private readonly local = new Map<string, ChatMessage[]>();
  private firstTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly req: FastifyRequest,
    private readonly chat: ChatService,
    private readonly store: ResponseStore,
    firstMessageTimeoutMs: number,
  ) {
    this.firstTimer = setTimeout(() => this.reject('missing first response.create message'), firstMessageTimeoutMs);
    socket.on('message', (data, isBinary) => this.onMessage(data as Buffer | Buffer[] | ArrayBuffer, isBinary));
    socket.on('close', () => this.onClose());
    socket.on('error', (e) => req.log.debug({ err: e.message }, 'responses websocket error'));
  }

  private onClose(): void {
    if (!this.closed || this.turn > 0) this.req.log.info({ url: ENDPOINT, transport: 'websocket', turns: this.turn }, 'responses websocket closed');
    this.closed = true;
    if (this.firstTimer) clearTimeout(this.firstTimer);
    this.current?.abort();
  }

  private reject(reason: string): void {
    if (this.firstTimer) clearTimeout(this.firstTimer);
    if (this.closed) return;
    this.closed = true;
    this.socket.close(WS_POLICY_VIOLATION, reason.slice(0, 120));
  }

  private send(obj: unknown): void {
    if (!this.closed && this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(obj));
  }

  private onMessage(data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): void {
    if (this.closed) return;
    let msg: unknown;
    try {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      msg = JSON.parse(buf.toString('utf8'));
    } catch {
      if (this.first) return this.reject('invalid JSON payload: the first message must be a response.create');
      return this.send(wsErrorEvent(errors.invalid('Message is not valid JSON.', undefined, 'invalid_json')));
    }
    void isBinary;
    const problem = !isObject(msg)
      ? 'message must be a JSON object'
      : msg.type !== 'response.create'
        ? `unsupported message type '${String(msg.type)}': expected response.create`
        : undefined;
    if (this.first) {
      if (problem) return this.reject(`${problem} (first message)`);
      const model = (msg as Record<string, unknown>).model;
      if (typeof model !== 'string' || model.trim() === '') return this.reject('model is required in the first response.create');
      this.first = false;
      this.model = model;
      if (this.firstTimer) clearTimeout(this.firstTimer);
    } else if (problem) {
      return this.send(wsErrorEvent(errors.invalid(problem, 'type')));
    }
    const body = msg as Record<string, unknown>;
    this.queue = this.queue.then(() => this.runTurn(body)).catch((e) => this.req.log.warn({ err: String(e) }, 'responses websocket turn crashed'));
  }

  private remember(id: string, conversation: ChatMessage[], store: boolean, keyId: string): void {
    this.local.set(id, conversation);
    if (this.local.size > WS_LOCAL_RESPONSES) this.local.delete(this.local.keys().next().value as string);
    if (store) this.store.put(id, keyId, conversation);
  }

  private async runTurn(msg: Record<string, unknown>): Promise<void> {
    if (this.closed) return;
    const { type: _type, stream: _stream, generate, ...body } = msg;
    if (body.model === undefined || body.model === null) body.model = this.model;
    const keyId = this.req.caller!.keyId;
    let parsed: ParsedResponsesRequest;
    try {
      parsed = prepare(body, this.req, (id) => this.local.get(id) ?? this.store.get(id, keyId));
    } catch (e) {
      return this.send(wsErrorEvent(isRelayError(e) ? e : toRelayError(e)));
    }
    if (generate === false) {
      // A warm-up (Codex sends one per connection): no model call, just a response id that the
      // next turn can chain from with previous_response_id.
      const enc = new ResponsesEncoder(String(body.model), parsed.echo, parsed.customTools, 0);
      for (const ev of [...enc.start(), ...enc.end()]) this.send(ev);
      this.remember(enc.id, parsed.conversation, parsed.store, keyId);
      return;
    }
    parsed.request.stream = true;
    const ac = new AbortController();
    this.current = ac;
    const n = ++this.turn;
    const ctx = contextOf(this.req, 'responses-ws', ENDPOINT, ac.signal, Date.now());
    ctx.requestId = `${this.req.id}.${n}`;
    let exec;
    try {
      exec = await this.chat.execute(parsed.request, ctx);
    } catch (e) {
      const err = isRelayError(e) ? e : toRelayError(e);
      if (err.code !== 'client_closed') this.send(wsErrorEvent(err));
      return;
    }
    const enc = new ResponsesEncoder(exec.resolved.label, parsed.echo, parsed.customTools, exec.promptTokens);
    for (const ev of enc.start()) this.send(ev);
    try {
      for await (const ev of exec.events) {
        if (this.closed) break; // cancels the upstream call and frees the slot
        for (const out of enc.push(ev)) this.send(out);
      }
      if (this.closed) return;
      for (const out of enc.end()) this.send(out);
      this.remember(enc.id, [...parsed.conversation, enc.assistantMessage()], parsed.store, keyId);
    } catch (e) {
      const err = isRelayError(e) ? e : toRelayError(e);
      if (err.code !== 'client_closed') for (const out of enc.fail(err)) this.send(out);
    } finally {
      if (this.current === ac) this.current = undefined;
    }
  }
}
