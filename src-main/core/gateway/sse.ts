/**
 * Server-sent events, shared by every front end (OpenAI chat, Anthropic Messages, Responses).
 * Protocol-neutral: it writes `event:`/`data:` frames and comments; what goes in them is the front
 * end's business.
 *
 * Each frame is written to the socket as it comes (Nagle off, no buffering, no compression); the
 * writer notices the client leaving and tells its owner through `signal`/`closed`.
 *
 * Keep-alive policy (`keepAliveWhile`): a streaming request that waits (for a slot or for the
 * first byte) longer than `limits.keepAliveMs` commits 200 + SSE headers and sends `: keep-alive`
 * comments until the wait ends. A failure before the commit is a plain HTTP error (thrown to the
 * error handler); a failure after it must be sent in-stream by the front end (`sse.committed`).
 */
import type { FastifyReply } from 'fastify';
import type { ServerResponse } from 'node:http';

const KEEP_ALIVE_FRAME = ': keep-alive\n\n';

export class SseWriter {
  readonly raw: ServerResponse;
  private readonly reply: FastifyReply;
  private readonly ac = new AbortController();
  private isCommitted = false;
  private isEnded = false;

  constructor(reply: FastifyReply) {
    this.reply = reply;
    this.raw = reply.raw;
    // 'close' before the response finished = the client went away.
    this.raw.once('close', () => {
      if (!this.raw.writableFinished) this.ac.abort();
    });
  }

  /** Aborted when the client disconnects before the stream ended. */
  get signal(): AbortSignal {
    return this.ac.signal;
  }
  get closed(): boolean {
    return this.ac.signal.aborted || this.raw.destroyed;
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

  /** Write an already formatted frame (must end with a blank line). False when the client is gone. */
  write(frame: string): boolean {
    if (this.isEnded || this.closed) return false;
    if (!this.isCommitted) this.commit();
    this.raw.write(frame);
    return true;
  }

  /** `data: <data>\n\n` (data must not contain newlines: JSON does not). */
  data(data: string): boolean {
    return this.write(`data: ${data}\n\n`);
  }

  /** `event: <name>\ndata: <data>\n\n` */
  event(name: string, data: string): boolean {
    return this.write(`event: ${name}\ndata: ${data}\n\n`);
  }

  /** A comment line, ignored by SSE clients: keeps idle proxies and clients from timing out. */
  comment(text = 'keep-alive'): boolean {
    return this.write(text === 'keep-alive' ? KEEP_ALIVE_FRAME : `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
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
}

/**
 * Await `work` (e.g. `chat.execute(...)`); if it takes longer than `keepAliveMs`, commit the stream
 * and send keep-alive comments every `keepAliveMs` until it settles. Rejections are rethrown:
 * check `sse.committed` to know whether to answer with an HTTP error (not committed) or an
 * in-stream error event (committed).
 */
export async function keepAliveWhile<T>(sse: SseWriter, work: Promise<T>, keepAliveMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (sse.closed || sse.ended) return;
    sse.comment();
    timer = setTimeout(tick, keepAliveMs);
  };
  timer = setTimeout(tick, keepAliveMs);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}
