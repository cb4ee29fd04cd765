/**
 * The one execution path of every front end (OpenAI chat, Anthropic Messages, Responses over SSE
 * and over WebSocket). A protocol supplies only its request translator and an encoder; this owns:
 *
 * - keep-alives: one idle timer per stream, re-armed by every write. Before the answer starts it
 *   sends the sink's keep-alive (SSE: commits 200 and sends `: keep-alive`; WebSocket: a ping
 *   frame); after, the encoder's `ping` frame when it has one (Anthropic), else the same keep-alive.
 * - commit (`x-relay-resolved`), `start`, one `push` per event, `end`;
 * - failures: before anything was sent, thrown to the caller (a plain HTTP error / a WebSocket
 *   `error` event); after, exactly one `fail` frame (nothing when the client is gone);
 * - backpressure: when the sink reports a full buffer the next event is not pulled from the
 *   backend until it drained; a client that does not drain within `clientDrainTimeoutMs` gets the
 *   error event and its upstream call is released;
 * - cleanup exactly once: the timer stops, the sink ends, and an iteration that did not finish by
 *   itself (client gone, client too slow) is returned, which cancels the upstream call.
 *
 * No closure or promise is made per event on this path: the loop awaits the iterator directly and
 * the keep-alive timer is re-armed with `refresh()`.
 */
import type { FastifyReply } from 'fastify';
import type { ChatEvent, ChatRequest } from '../../chat/model';
import { RelayError, toRelayError } from '../../errors';
import type { ChatExecution, ChatService, RequestContext, Resolved } from '../../dispatch/types';
import { systemClock, type Clock, type TimerHandle } from '../../ports';

/** Where frames go: an SSE response (./sse.ts) or a WebSocket turn. `F` is one write's frames. */
export interface StreamSink<F> {
  /** Aborted when the client goes away (the `RequestContext` signal). */
  readonly signal: AbortSignal;
  readonly closed: boolean;
  /** Something was sent already: a failure can no longer be a plain HTTP error. */
  readonly committed: boolean;
  commit(extra?: Record<string, string>): void;
  /** False when the client's buffer is full (or the client is gone). */
  write(frames: F): boolean;
  keepAlive(): void;
  /** True once drained (or closed), false after `timeoutMs` on `clock`. */
  drained(timeoutMs: number, clock: Clock): Promise<boolean>;
  end(last?: F): void;
  /** End with `last` for a client that stopped reading, not holding its connection past `idleMs`. */
  abandon(last: F | undefined, idleMs: number): void;
}

/** A protocol's wire format for one streamed answer. */
export interface StreamEncoder<F> {
  /**
   * The answer starts (`resolved.label` is the model to report; `prompt()` gives the dispatcher's
   * one prompt figure, for protocols that announce input tokens up front: read it only then, since
   * the figure is estimated on first read).
   */
  start(resolved: Resolved, prompt: () => number): F;
  push(ev: ChatEvent): F;
  end(): F;
  /** The one error event; called with or without `start` before it. */
  fail(err: RelayError): F;
  /** Sent instead of the sink's keep-alive once the answer started (Anthropic's `ping`). */
  readonly ping?: F;
}

/** A protocol's fold of a whole (non-streaming) answer into its body. */
export interface BodyEncoder<B> {
  push(ev: ChatEvent): void;
  body(): B;
}

export interface StreamLimits {
  /** `limits.keepAliveMs`: the longest silence on a stream. */
  keepAliveMs: number;
  /** `limits.clientDrainTimeoutMs`: how long a client may leave its buffer full. */
  clientDrainTimeoutMs: number;
}

/** The error a client that stopped reading gets (if it ever reads again). */
export function clientTooSlow(ms: number): RelayError {
  return new RelayError({
    status: 408,
    type: 'timeout',
    code: 'client_too_slow',
    message: `The client did not read the stream for ${ms} ms (limits.clientDrainTimeoutMs); the answer was stopped.`,
    retryable: false,
  });
}

/** One idle timer per stream; `touch()` re-arms it after each write. */
class KeepAlive<F> {
  started = false;
  paused = false;
  private readonly timer: TimerHandle;

  constructor(
    private readonly sink: StreamSink<F>,
    private readonly ping: F | undefined,
    ms: number,
    private readonly clock: Clock,
  ) {
    this.timer = clock.setTimeout(this.beat, ms);
  }

  private readonly beat = (): void => {
    if (this.sink.closed) return;
    if (!this.paused) {
      if (this.started && this.ping !== undefined) this.sink.write(this.ping);
      else this.sink.keepAlive();
    }
    this.timer.refresh();
  };

  touch(): void {
    this.timer.refresh();
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
  }
}

/**
 * Execute `request` and stream the answer into `sink`. `ctx.signal` must be `sink.signal`.
 * Keep-alives and the drain deadline run on `clock` (the relay's).
 * Rejects only when the request failed before anything was sent (the caller answers that error
 * in its protocol's plain shape); every later failure ends the stream with one `fail` frame.
 */
export async function streamAnswer<F>(
  chat: ChatService,
  request: ChatRequest,
  ctx: RequestContext,
  sink: StreamSink<F>,
  encoder: StreamEncoder<F>,
  limits: StreamLimits,
  clock: Clock = systemClock,
): Promise<void> {
  const keepAlive = new KeepAlive(sink, encoder.ping, limits.keepAliveMs, clock);
  let exec: ChatExecution;
  try {
    exec = await chat.execute(request, ctx);
  } catch (e) {
    keepAlive.stop();
    if (!sink.committed) throw e;
    // Keep-alives already committed the stream: the client hears about it in-stream.
    const err = toRelayError(e);
    if (err.code === 'client_closed' || sink.closed) sink.end();
    else {
      ctx.log.warn({ code: err.code, detail: err.detail }, 'stream failed before the first event');
      sink.end(encoder.fail(err));
    }
    return;
  }

  const it = exec.events[Symbol.asyncIterator]();
  /** The iteration finished by itself (done or thrown): nothing to cancel. */
  let settled = false;
  try {
    sink.commit({ 'x-relay-resolved': exec.resolved.label });
    keepAlive.started = true;
    let ready = sink.write(encoder.start(exec.resolved, () => exec.promptTokens));
    keepAlive.touch();
    for (;;) {
      if (!ready && !sink.closed) {
        // Slow client: pull nothing more from the backend until its buffer drained.
        keepAlive.paused = true;
        const drained = await sink.drained(limits.clientDrainTimeoutMs, clock);
        keepAlive.paused = false;
        if (!drained && !sink.closed) {
          const err = clientTooSlow(limits.clientDrainTimeoutMs);
          ctx.log.warn({ code: err.code, ms: limits.clientDrainTimeoutMs }, 'client stopped reading: stream ended');
          settled = true;
          await it.return?.();
          sink.abandon(encoder.fail(err), limits.clientDrainTimeoutMs);
          return;
        }
      }
      if (sink.closed) break;
      const next = await it.next();
      if (next.done) {
        settled = true;
        break;
      }
      if (sink.closed) break;
      ready = sink.write(encoder.push(next.value));
      keepAlive.touch();
    }
    if (!sink.closed) sink.end(encoder.end());
  } catch (e) {
    settled = true;
    const err = toRelayError(e);
    if (!sink.closed && err.code !== 'client_closed') {
      ctx.log.warn({ code: err.code, status: err.status, detail: err.detail }, 'stream failed after it started');
      sink.end(encoder.fail(err));
    }
  } finally {
    keepAlive.stop();
    sink.end();
    // The client left mid-answer: stop the iteration, which cancels the upstream call (once).
    if (!settled) await it.return?.();
    // The execution's lease and admission are released exactly once (idempotent after a normal end).
    exec.close();
  }
}

/**
 * Execute `request` and fold the whole answer into one body (`x-relay-resolved` set on `reply`).
 * Failures reject (the error handler answers them); `ctx.signal` should be `clientGone(reply.raw)`.
 */
export async function collectAnswer<B>(
  chat: ChatService,
  request: ChatRequest,
  ctx: RequestContext,
  reply: FastifyReply,
  encoder: (resolved: Resolved, prompt: () => number) => BodyEncoder<B>,
): Promise<B> {
  const exec = await chat.execute(request, ctx);
  try {
    const enc = encoder(exec.resolved, () => exec.promptTokens);
    for await (const ev of exec.events) enc.push(ev);
    reply.header('x-relay-resolved', exec.resolved.label);
    return enc.body();
  } finally {
    exec.close();
  }
}
