/**
 * JSON-RPC 2.0 over one WebSocket with Content-Length framing (shared/spec/lingma-protocol.md §3).
 *
 * - Requests get fresh numeric ids and a per-call timeout.
 * - The server sends many notifications as requests with an `id` and expects an answer: every one
 *   is answered (`null`, or the registered handler's value; `tool/invoke` is refused because the
 *   gateway offers no client tools). Every server message is also emitted as `message`.
 * - Garbage on the wire or a dropped socket closes the connection once, with a typed reason.
 */
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { RpcChannel } from './channel';
import { FrameReader, FramingError, encodeFrame } from './framing';
import { connectStream, type FrameTransport } from './transport';

export type RpcErrorKind = 'timeout' | 'closed' | 'remote' | 'protocol' | 'aborted';

export class RpcError extends Error {
  constructor(
    readonly kind: RpcErrorKind,
    message: string,
    readonly method?: string,
    readonly code?: number,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export interface RpcCloseInfo {
  /** Why: the peer closed, a socket error, garbage on the wire, or we closed it. */
  reason: 'remote' | 'error' | 'protocol' | 'local';
  detail: string;
}

export interface RpcEvents {
  /** A server-initiated message (`method` set), answered already if it carried an id. */
  message: [method: string, params: unknown, id: number | string | undefined];
  close: [info: RpcCloseInfo];
}

export type ServerRequestHandler = (params: unknown) => unknown;

export interface RpcOptions {
  /** Default per-call timeout (a getter follows live settings). */
  timeoutMs: number | (() => number);
  /** Connect timeout. */
  connectTimeoutMs?: number;
}

export const TOOLS_UNAVAILABLE = { success: false, errorMessage: 'tools are not available' } as const;

/** The `tool/invoke` answer (spec §4 verified values): echo the call's id and name, refuse it. */
export function refuseToolInvoke(params: unknown): Record<string, unknown> {
  const p = (params && typeof params === 'object' ? params : {}) as Record<string, unknown>;
  return { toolCallId: p.toolCallId ?? null, name: p.name ?? null, ...TOOLS_UNAVAILABLE, result: null };
}

interface Pending {
  method: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  cleanup?: () => void;
}

export class RpcConnection extends EventEmitter<RpcEvents> implements RpcChannel {
  private readonly reader = new FrameReader();
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Map<string, ServerRequestHandler>();
  private nextId = 1;
  private closedInfo: RpcCloseInfo | undefined;

  private constructor(
    /** A `ws` WebSocket, or the same frames over a Unix socket / named pipe (transport.ts). */
    private readonly ws: FrameTransport,
    private readonly opts: RpcOptions,
  ) {
    super();
    // One listener per answer in flight.
    this.setMaxListeners(0);
    // Agent mode may call client tools; we have none to offer (spec §4 Chat).
    this.handlers.set('tool/invoke', refuseToolInvoke);
    ws.on('message', (data: WebSocket.RawData) => this.onData(data));
    ws.on('close', (code, reason) => this.shutdown({ reason: 'remote', detail: `socket closed (${code}${reason.length ? ` ${reason.toString()}` : ''})` }));
    ws.on('error', (err) => this.shutdown({ reason: 'error', detail: `socket error: ${err.message}` }));
  }

  /** Open a connection; rejects with RpcError('closed') when nothing accepts. */
  static connect(url: string, opts: RpcOptions): Promise<RpcConnection> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: opts.connectTimeoutMs ?? 5000, perMessageDeflate: false });
      const fail = (err: Error) => {
        ws.removeAllListeners();
        ws.on('error', () => {});
        try {
          ws.terminate();
        } catch {
          /* already gone */
        }
        reject(new RpcError('closed', `cannot connect to ${url}: ${err.message}`));
      };
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
      ws.once('open', () => {
        ws.off('error', fail);
        resolve(new RpcConnection(ws as unknown as FrameTransport, opts));
      });
    });
  }

  /**
   * The same JSON-RPC over a Unix socket or Windows named pipe (an attached app's IPC path, spec
   * §7); rejects with RpcError('closed') when nothing accepts.
   */
  static async connectIpc(path: string, opts: RpcOptions): Promise<RpcConnection> {
    try {
      return new RpcConnection(await connectStream(path, opts.connectTimeoutMs ?? 5000), opts);
    } catch (e) {
      throw new RpcError('closed', `cannot connect to ${path}: ${(e as Error).message}`);
    }
  }

  get closed(): boolean {
    return this.closedInfo !== undefined;
  }

  /** Answer server requests of `method` with the handler's value (default: `null`). */
  handle(method: string, handler: ServerRequestHandler): void {
    this.handlers.set(method, handler);
  }

  request<T = unknown>(method: string, params: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    if (this.closedInfo) return Promise.reject(new RpcError('closed', `connection closed: ${this.closedInfo.detail}`, method));
    if (opts.signal?.aborted) return Promise.reject(new RpcError('aborted', `${method} aborted`, method));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = opts.timeoutMs ?? (typeof this.opts.timeoutMs === 'function' ? this.opts.timeoutMs() : this.opts.timeoutMs);
      const timer = setTimeout(() => {
        this.settle(id)?.reject(new RpcError('timeout', `${method} got no answer within ${timeoutMs} ms`, method));
      }, timeoutMs);
      const entry: Pending = { method, resolve: resolve as (v: unknown) => void, reject, timer };
      if (opts.signal) {
        const onAbort = () => this.settle(id)?.reject(new RpcError('aborted', `${method} aborted`, method));
        opts.signal.addEventListener('abort', onAbort, { once: true });
        entry.cleanup = () => opts.signal?.removeEventListener('abort', onAbort);
      }
      this.pending.set(id, entry);
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    if (this.closedInfo) return;
    this.send({ jsonrpc: '2.0', method, params });
  }

  /** The LSP-shaped handshake with the instance's work dir as the workspace folder. */
  async initialize(workDir: string, clientVersion: string): Promise<{ name?: string; version?: string }> {
    const uri = pathToFileUri(workDir);
    const result = await this.request<{ serverInfo?: { name?: string; version?: string } } | null>('initialize', {
      processId: process.pid,
      clientInfo: { name: 'lingma-relay', version: clientVersion },
      rootUri: uri,
      rootPath: workDir,
      workspaceFolders: [{ uri, name: 'lingma-relay' }],
      capabilities: { workspace: { workspaceFolders: true } },
      initializationOptions: {},
    });
    // `initialized` may be answered with "unknown method"; it is harmless (spec §3).
    this.notify('initialized', {});
    return result?.serverInfo ?? {};
  }

  close(): void {
    this.shutdown({ reason: 'local', detail: 'closed by the gateway' });
  }

  private send(msg: unknown): void {
    try {
      this.ws.send(encodeFrame(msg));
    } catch (e) {
      this.shutdown({ reason: 'error', detail: `send failed: ${(e as Error).message}` });
    }
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.cleanup?.();
    return p;
  }

  private onData(data: WebSocket.RawData): void {
    if (this.closedInfo) return;
    let messages: unknown[];
    try {
      messages = this.reader.push(data as Buffer | ArrayBuffer | Buffer[]);
    } catch (e) {
      const detail = e instanceof FramingError ? e.message : String(e);
      this.shutdown({ reason: 'protocol', detail });
      return;
    }
    for (const m of messages) this.dispatch(m);
  }

  private dispatch(raw: unknown): void {
    if (!raw || typeof raw !== 'object') return;
    const msg = raw as { id?: number | string | null; method?: unknown; params?: unknown; result?: unknown; error?: { code?: number; message?: string } };
    if (typeof msg.method === 'string') {
      const hasId = msg.id !== undefined && msg.id !== null;
      if (hasId) {
        // Answer first: the server times out waiting for it otherwise (spec §3).
        let result: unknown = null;
        const h = this.handlers.get(msg.method);
        if (h) {
          try {
            result = h(msg.params) ?? null;
          } catch {
            result = null;
          }
        }
        this.send({ jsonrpc: '2.0', id: msg.id, result });
      }
      this.emit('message', msg.method, msg.params, hasId ? (msg.id as number | string) : undefined);
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.settle(msg.id);
    if (!p) return;
    if (msg.error) {
      p.reject(new RpcError('remote', `${p.method}: ${msg.error.message ?? 'error'}`, p.method, msg.error.code));
    } else {
      p.resolve(msg.result);
    }
  }

  private shutdown(info: RpcCloseInfo): void {
    if (this.closedInfo) return;
    this.closedInfo = info;
    for (const id of [...this.pending.keys()]) {
      this.settle(id)?.reject(new RpcError(info.reason === 'protocol' ? 'protocol' : 'closed', `connection closed: ${info.detail}`));
    }
    try {
      if (info.reason === 'local') this.ws.close(1000);
      else this.ws.terminate();
    } catch {
      /* already gone */
    }
    this.ws.on('error', () => {});
    this.emit('close', info);
  }
}

export function pathToFileUri(p: string): string {
  const norm = p.replace(/\\/g, '/');
  return `file://${norm.startsWith('/') ? '' : '/'}${encodeURI(norm)}`;
}
