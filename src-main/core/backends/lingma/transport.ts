/**
 * What `RpcConnection` (rpc.ts) needs from the wire underneath its Content-Length frames: send a
 * frame, hear bytes, hear the end. A `ws` WebSocket already has exactly this shape (the spawned
 * runtimes, and an attached app's `websocketPort`). `StreamTransport` gives a Unix socket or a
 * Windows named pipe (an attached app's `ipcServerPath`, spec §7) the same shape: the framing is
 * the same, only the byte stream differs, so the reader in framing.ts works unchanged.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

/** The part of the `ws` WebSocket API that rpc.ts uses. */
export interface FrameTransport {
  send(frame: string): void;
  /** Graceful close (`code` is the WebSocket close code; streams ignore it). */
  close(code?: number): void;
  /** Abrupt close. */
  terminate(): void;
  on(event: 'message', fn: (data: Buffer) => void): unknown;
  on(event: 'close', fn: (code: number, reason: Buffer) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
}

interface StreamTransportEvents {
  message: [data: Buffer];
  close: [code: number, reason: Buffer];
  error: [err: Error];
}

/** Frames over a connected byte stream (`net.Socket` to a Unix socket or named pipe). */
export class StreamTransport extends EventEmitter<StreamTransportEvents> implements FrameTransport {
  private ended = false;

  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (b: Buffer) => this.emit('message', b));
    socket.on('error', (err) => {
      // An error is always followed by 'close'; report it once, as ws does.
      if (this.listenerCount('error')) this.emit('error', err);
    });
    socket.on('close', (hadError) => {
      if (this.ended) return;
      this.ended = true;
      this.emit('close', hadError ? 1006 : 1000, Buffer.from(hadError ? 'stream error' : 'stream ended'));
    });
  }

  send(frame: string): void {
    if (this.socket.destroyed) throw new Error('the stream is closed');
    this.socket.write(frame, 'utf8');
  }

  close(): void {
    this.socket.end();
    // A peer that never half-closes must not keep the socket alive.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  terminate(): void {
    this.socket.destroy();
  }
}

/**
 * Connect to a Unix socket path or a Windows named pipe (`\\.\pipe\name`). Rejects with the
 * system's reason (ENOENT, ECONNREFUSED: nothing listens; a stale socket file) or on timeout.
 */
export function connectStream(path: string, timeoutMs = 5000): Promise<StreamTransport> {
  return new Promise((resolve, reject) => {
    const socket = connect({ path });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(new StreamTransport(socket));
    });
  });
}
