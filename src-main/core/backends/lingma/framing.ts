/**
 * LSP-style `Content-Length` framing over WebSocket messages (shared/spec/lingma-protocol.md §3).
 *
 * The writer puts one whole frame in one message. The reader buffers bytes, because a frame may
 * span several messages and one message may hold several frames; lengths count UTF-8 bytes, so the
 * buffer is kept as bytes and decoded only once a whole body is present (a multibyte character
 * split across messages is never decoded in halves).
 */

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
/** A header block longer than this without its blank line is garbage, not a slow sender. */
const MAX_HEADER_BYTES = 8 * 1024;
/** Upper bound for one frame body; protects memory against a corrupt length. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

/** Serialise one JSON-RPC message into one frame. */
export function encodeFrame(message: unknown): string {
  const body = JSON.stringify(message);
  return `Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`;
}

/**
 * Incremental frame reader. `push` returns every message completed by the new bytes, in order.
 * It throws FramingError on garbage; the reader is then unusable (the caller resets the connection).
 */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private failed: FramingError | undefined;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes buffered but not yet part of a complete frame. */
  get pending(): number {
    return this.buf.length;
  }

  push(chunk: Buffer | string | ArrayBuffer | Buffer[]): unknown[] {
    if (this.failed) throw this.failed;
    const bytes = Array.isArray(chunk)
      ? Buffer.concat(chunk)
      : typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : chunk instanceof ArrayBuffer
          ? Buffer.from(chunk)
          : chunk;
    this.buf = this.buf.length === 0 ? bytes : Buffer.concat([this.buf, bytes]);
    const out: unknown[] = [];
    try {
      for (;;) {
        const msg = this.next();
        if (msg === undefined) break;
        out.push(msg.value);
      }
    } catch (e) {
      this.failed = e instanceof FramingError ? e : new FramingError(String(e));
      this.buf = Buffer.alloc(0);
      throw this.failed;
    }
    return out;
  }

  private next(): { value: unknown } | undefined {
    // Tolerate stray line breaks between frames (some writers end a frame with CRLF).
    let start = 0;
    while (start < this.buf.length && (this.buf[start] === 0x0d || this.buf[start] === 0x0a)) start++;
    if (start > 0) this.buf = this.buf.subarray(start);
    if (this.buf.length === 0) return undefined;

    const first = this.buf[0];
    if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
      throw new FramingError('Unknown message header: bare JSON without a Content-Length header');
    }
    const end = this.buf.indexOf(HEADER_END);
    if (end < 0) {
      if (this.buf.length > MAX_HEADER_BYTES) throw new FramingError('Unknown message header: no header terminator');
      // The header may still be arriving; but reject early when what we have cannot be a header.
      const partial = this.buf.toString('latin1');
      if (!/^[A-Za-z]/.test(partial)) throw new FramingError(`Unknown message header: ${preview(partial)}`);
      return undefined;
    }
    const header = this.buf.subarray(0, end).toString('latin1');
    let length: number | undefined;
    for (const line of header.split('\r\n')) {
      const m = /^([A-Za-z][A-Za-z0-9-]*)\s*:\s*(.*)$/.exec(line);
      if (!m) throw new FramingError(`Unknown message header: ${preview(line)}`);
      if (m[1].toLowerCase() === 'content-length') {
        if (!/^\d{1,12}$/.test(m[2].trim())) throw new FramingError(`Bad Content-Length: ${preview(m[2])}`);
        length = Number(m[2].trim());
      }
    }
    if (length === undefined) throw new FramingError('Unknown message header: no Content-Length');
    if (length > this.maxFrameBytes) throw new FramingError(`Frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`);
    const bodyStart = end + HEADER_END.length;
    if (this.buf.length < bodyStart + length) return undefined;
    const body = this.buf.subarray(bodyStart, bodyStart + length).toString('utf8');
    this.buf = this.buf.subarray(bodyStart + length);
    try {
      return { value: JSON.parse(body) };
    } catch {
      throw new FramingError(`Frame body is not JSON: ${preview(body)}`);
    }
  }
}

function preview(s: string): string {
  const t = s.replace(/[\r\n]+/g, ' ');
  return JSON.stringify(t.length > 60 ? `${t.slice(0, 60)}…` : t);
}
