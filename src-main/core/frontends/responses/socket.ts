/**
 * The Responses WebSocket transport (`GET /v1/responses` + Upgrade), the one Codex uses. The first
 * message must be a `response.create` with a model (else the socket closes with 1008 and a
 * reason); every `response.create` is one turn, run one after the other through the shared
 * execution (../shared/stream.ts) with a `TurnSink`: events go out as JSON text messages, keep-alives
 * are WebSocket pings, a socket whose buffer is full is waited for before the next event is pulled.
 * A failure before a turn started is an `error` event; after, `response.failed`.
 */
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { ChatMessage } from '../../chat/model';
import { errors, toRelayError, type RelayError } from '../../errors';
import type { Clock } from '../../ports';
import { isObject } from '../shared/check';
import { callContext, sessionHeader } from '../shared/context';
import type { FrontendOptions } from '../shared/options';
import { streamAnswer, type StreamSink } from '../shared/stream';
import { ResponsesMessages } from './encoder';
import { prepareResponses, RESPONSES_ENDPOINT as ENDPOINT, type ParsedResponsesRequest } from './request';
import { ResponsesEncoder, responsesErrorCode, type ResponsesEvent } from './response';
import type { ResponseStore } from './store';

/** Responses remembered per WebSocket connection for chaining, whatever `store` said. */
const WS_LOCAL_RESPONSES = 16;
/** WebSocket close code for a policy violation (RFC 6455). */
export const WS_POLICY_VIOLATION = 1008;
/** Bytes queued on a socket above which the turn waits for them to be written before going on. */
const WS_HIGH_WATER = 64 * 1024;

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

/**
 * One turn's frames on the socket. Never "committed": a failure before the answer started is
 * the caller's `error` event. `signal` is the turn's (aborted when the socket closes).
 */
export class TurnSink implements StreamSink<ResponsesEvent[]> {
  readonly committed = false;
  readonly signal: AbortSignal;
  /** Messages handed to ws whose write has not completed yet. */
  private pending = 0;
  private wake: (() => void) | undefined;
  private readonly sent = (): void => {
    this.pending--;
    if (this.wake && (this.pending === 0 || this.socket.bufferedAmount <= WS_HIGH_WATER)) this.wake();
  };

  constructor(
    private readonly socket: WebSocket,
    ac: AbortController,
  ) {
    this.signal = ac.signal;
  }

  get closed(): boolean {
    return this.signal.aborted || this.socket.readyState !== this.socket.OPEN;
  }

  commit(): void {}

  write(events: ResponsesEvent[]): boolean {
    if (this.closed) return false;
    for (let i = 0; i < events.length; i++) {
      this.pending++;
      this.socket.send(JSON.stringify(events[i]), this.sent);
    }
    return this.socket.bufferedAmount <= WS_HIGH_WATER;
  }

  keepAlive(): void {
    if (!this.closed) this.socket.ping();
  }

  drained(timeoutMs: number, clock: Clock): Promise<boolean> {
    if (this.closed || this.pending === 0 || this.socket.bufferedAmount <= WS_HIGH_WATER) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clock.clearTimeout(timer);
        this.wake = undefined;
        this.socket.off('close', onClose);
        this.signal.removeEventListener('abort', onClose);
        resolve(ok);
      };
      const onClose = (): void => done(true);
      const timer = clock.setTimeout(() => done(false), timeoutMs);
      this.wake = onClose;
      this.socket.once('close', onClose);
      this.signal.addEventListener('abort', onClose, { once: true });
    });
  }

  end(last?: ResponsesEvent[]): void {
    if (last) this.write(last);
  }

  /** A reader that stopped: the failure goes out, and the socket is dropped if it still does not move. */
  abandon(last: ResponsesEvent[] | undefined, idleMs: number): void {
    this.end(last);
    const socket = this.socket;
    setTimeout(() => {
      if (this.pending > 0) socket.terminate();
    }, idleMs).unref();
  }
}

/** One WebSocket connection: a sequence of turns. */
export class ResponsesSocket {
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
    private readonly opts: FrontendOptions,
    private readonly store: ResponseStore,
  ) {
    this.firstTimer = setTimeout(() => this.reject('missing first response.create message'), opts.wsFirstMessageTimeoutMs ?? 60_000);
    socket.on('message', (data) => this.onMessage(data as Buffer | Buffer[] | ArrayBuffer));
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

  private onMessage(data: Buffer | Buffer[] | ArrayBuffer): void {
    if (this.closed) return;
    let msg: unknown;
    try {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      msg = JSON.parse(buf.toString('utf8'));
    } catch {
      if (this.first) return this.reject('invalid JSON payload: the first message must be a response.create');
      return this.send(wsErrorEvent(errors.invalid('Message is not valid JSON.', undefined, 'invalid_json')));
    }
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
      parsed = prepareResponses(body, sessionHeader(this.req), (id) => this.local.get(id) ?? this.store.get(id, keyId));
    } catch (e) {
      return this.send(wsErrorEvent(toRelayError(e)));
    }
    if (generate === false) {
      // A warm-up (Codex sends one per connection): no model call, just a response id that the
      // next turn can chain from with previous_response_id.
      const enc = new ResponsesEncoder(String(body.model), parsed.echo, parsed.customTools, () => 0);
      for (const ev of [...enc.start(), ...enc.end()]) this.send(ev);
      this.remember(enc.id, parsed.conversation, parsed.store, keyId);
      return;
    }
    parsed.request.stream = true;
    const ac = new AbortController();
    this.current = ac;
    const n = ++this.turn;
    const ctx = callContext(this.req, 'responses-ws', ENDPOINT, ac.signal, Date.now());
    ctx.requestId = `${this.req.id}.${n}`;
    const wire = new ResponsesMessages(parsed, (enc) =>
      this.remember(enc.id, [...parsed.conversation, enc.assistantMessage()], parsed.store, keyId),
    );
    try {
      await streamAnswer(this.opts.chat, parsed.request, ctx, new TurnSink(this.socket, ac), wire, this.opts.limits(), this.opts.clock);
    } catch (e) {
      // Failed before the turn started.
      const err = toRelayError(e);
      if (err.code !== 'client_closed') this.send(wsErrorEvent(err));
    } finally {
      if (this.current === ac) this.current = undefined;
    }
  }
}
