/**
 * The live-events WebSocket. The token rides in the subprotocol list (browsers cannot set
 * headers). Reconnects with capped exponential backoff; every (re)connect starts with a fresh
 * snapshot from the server, so nothing missed while offline stays stale.
 */
import { ADMIN_WS_PROTOCOL, ADMIN_WS_TOKEN_PREFIX, type AdminEvent } from '../../src-main/core/admin/api-types';
import { backoffDelay } from '../../src-main/core/backoff';
import type { AdminEndpoint } from './connection';

export type SocketStatus = 'connecting' | 'open' | 'reconnecting' | 'unauthorized' | 'closed';

export interface LiveSocketOptions {
  onEvent(e: AdminEvent): void;
  onStatus(s: SocketStatus, detail?: string): void;
  WebSocketImpl?: typeof WebSocket;
  minDelayMs?: number;
  maxDelayMs?: number;
}

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/admin/events`;
}

export class LiveSocket {
  private ws?: WebSocket;
  private attempt = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private stopped = false;

  constructor(private readonly endpoint: AdminEndpoint, private readonly opts: LiveSocketOptions) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close(1000, 'bye');
    this.ws = undefined;
    this.opts.onStatus('closed');
  }

  private connect(): void {
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    this.opts.onStatus(this.attempt === 0 ? 'connecting' : 'reconnecting');
    let ws: WebSocket;
    try {
      ws = new Impl(wsUrl(this.endpoint.url), [ADMIN_WS_PROTOCOL, `${ADMIN_WS_TOKEN_PREFIX}${this.endpoint.token}`]);
    } catch {
      this.schedule();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.opts.onStatus('open');
    };
    ws.onmessage = (m) => {
      try {
        this.opts.onEvent(JSON.parse(String(m.data)) as AdminEvent);
      } catch {
        // A malformed frame is ignored; the next snapshot repairs state.
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stopped) return;
      // A refused handshake with no open is most often a wrong token; the REST check confirms it.
      if (!opened && ev.code === 1006 && this.attempt >= 2) this.opts.onStatus('reconnecting', 'cannot connect');
      this.schedule();
    };
    ws.onerror = () => undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    // The relay's one backoff (core/backoff.ts), with jitter: dashboards that lost the same relay do not
    // all come back in the same millisecond.
    const delay = backoffDelay(this.attempt++, { baseMs: this.opts.minDelayMs ?? 500, maxMs: this.opts.maxDelayMs ?? 15_000, jitter: 0.5 });
    this.opts.onStatus('reconnecting');
    this.timer = setTimeout(() => this.connect(), delay);
  }
}
