/**
 * The simulator on a Unix socket / Windows named pipe (spec §7 `ipcServerPath`), as an attached
 * app offers it: the same Content-Length frames over a byte stream. Each stream gets a face with
 * the few `ws` members the simulator's connection uses, so one connection class serves both.
 * Enabled with `--ipcPath=<path>`.
 */
import { EventEmitter } from 'node:events';
import { unlinkSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';

class StreamFace extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  constructor(private readonly socket: Socket) {
    super();
    socket.on('data', (b: Buffer) => this.emit('message', b));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.readyState = 3;
      this.emit('close');
    });
  }
  send(data: string | Buffer): void {
    if (this.readyState === this.OPEN) this.socket.write(data);
  }
  terminate(): void {
    this.socket.destroy();
  }
  close(): void {
    this.socket.end();
  }
}

function unlinkQuietly(path: string): void {
  if (process.platform === 'win32') return;
  try {
    unlinkSync(path);
  } catch {
    /* not there */
  }
}

/** Listen on `path` (when given) and hand each stream to `onConnection` as a ws-like object. */
export async function listenIpc(path: string | undefined, onConnection: (ws: unknown) => void): Promise<void> {
  if (!path) return;
  unlinkQuietly(path);
  const server = createServer((s) => onConnection(new StreamFace(s)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  process.on('exit', () => unlinkQuietly(path));
}
