/**
 * Server-sent events, shared by every front end (OpenAI chat, Anthropic Messages, Responses).
 * Protocol-neutral: it writes already formatted `event:`/`data:` frames and comments; what goes in
 * them is the encoder's business. It is the `StreamSink` the shared streaming execution
 * (./stream.ts) drives over HTTP.
 *
 * Each frame goes to the socket as it comes (Nagle off, no buffering, no compression). `write`
 * reports a full socket buffer (Node's `write()` returning false) so the caller stops pulling from
 * the backend until `drained()`. The client leaving is noticed by `clientGone` (./context.ts).
 */
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';
import { clientGone } from './context';
import type { Clock } from '../../ports';
import type { StreamSink } from './stream';

const KEEP_ALIVE_FRAME = ': keep-alive\n\n';

export class SseWriter implements StreamSink<string> {
  readonly raw: ServerResponse;
  readonly signal: AbortSignal;
  private readonly reply: FastifyReply;
  private isCommitted = false;
  private isEnded = false;

  constructor(reply: FastifyReply) {
    this.reply = reply;
    this.raw = reply.raw;
    this.signal = clientGone(this.raw);
  }

  /** The client disconnected (or the socket broke) before the stream ended. */
  get closed(): boolean {
    return this.signal.aborted || this.raw.destroyed;
  }
  get committed(): boolean {
    return this.isCommitted;
  }
  get ended(): boolean {
    return this.isEnded;
  }

  /**
   * Send 200 and the SSE headers (once). Headers already set on the reply (x-request-id, CORS)
   * go out too; `extra` adds more (e.g. x-relay-resolved when known by then).
   */
  commit(extra?: Record<string, string>): void {
    if (this.isCommitted) return;
    this.isCommitted = true;
    this.reply.hijack();
    const headers: Record<string, string | number | string[]> = {};
    const set = this.reply.getHeaders();
    for (const k in set) {
      const v = set[k];
      if (v !== undefined) headers[k] = v as string | number | string[];
    }
    headers['content-type'] = 'text/event-stream; charset=utf-8';
    headers['cache-control'] = 'no-cache, no-transform';
    headers['x-accel-buffering'] = 'no';
    headers['connection'] = 'keep-alive';
    if (extra) Object.assign(headers, extra);
    this.raw.socket?.setNoDelay(true);
    // The headers leave with the first frame (or keep-alive comment), written right after: one
    // syscall instead of two.
    this.raw.writeHead(200, headers);
  }

  /**
   * Write already formatted frames (each ending with a blank line; '' writes nothing). False when
   * the socket's buffer is full (wait for `drained()` before producing more) or the client is gone.
   */
  write(frames: string): boolean {
    if (this.isEnded || this.closed) return false;
    if (!this.isCommitted) this.commit();
    if (frames.length === 0) return true;
    return this.raw.write(frames);
  }

  /** A `: keep-alive` comment, ignored by SSE clients: keeps idle proxies and clients from timing out. */
  keepAlive(): void {
    this.write(KEEP_ALIVE_FRAME);
  }

  /**
   * Resolves true once the socket drained (or had nothing pending), false when `timeoutMs` passed
   * first. A client that leaves meanwhile resolves it too (`closed` tells).
   */
  drained(timeoutMs: number, clock: Clock): Promise<boolean> {
    const raw = this.raw;
    if (!raw.writableNeedDrain || this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clock.clearTimeout(timer);
        raw.off('drain', onDrain);
        raw.off('close', onDrain);
        resolve(ok);
      };
      const onDrain = (): void => done(true);
      const timer = clock.setTimeout(() => done(false), timeoutMs);
      raw.on('drain', onDrain);
      raw.on('close', onDrain);
    });
  }

  /** End the response cleanly (idempotent), optionally with last frames (sent with the end: one write). */
  end(last?: string): void {
    if (this.isEnded) return;
    this.isEnded = true;
    if (!this.isCommitted) this.commit();
    if (this.raw.writableEnded) return;
    if (last && !this.closed) this.raw.end(last);
    else this.raw.end();
  }

  /**
   * A client that stopped reading: end with `last` (the error event, delivered if it ever reads
   * again), and drop the connection if nothing moves on it for `idleMs`, so its buffered bytes are
   * not held for ever.
   */
  abandon(last: string | undefined, idleMs: number): void {
    this.end(last);
    const socket = this.raw.socket;
    if (socket && !socket.destroyed) socket.setTimeout(idleMs, () => socket.destroy());
  }
}
