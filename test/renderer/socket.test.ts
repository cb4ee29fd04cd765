import { afterEach, describe, expect, it, vi } from 'vitest';
import { LiveSocket, type SocketStatus } from '../../src-renderer/api/socket';
import type { AdminEvent } from '../../src-main/core/admin/api-types';

class FakeWS {
  static all: FakeWS[] = [];
  onopen?: () => void;
  onmessage?: (m: { data: string }) => void;
  onclose?: (e: { code: number }) => void;
  onerror?: () => void;
  closed = false;
  constructor(readonly url: string, readonly protocols: string[]) {
    FakeWS.all.push(this);
  }
  open() { this.onopen?.(); }
  send(ev: AdminEvent) { this.onmessage?.({ data: JSON.stringify(ev) }); }
  drop() { this.onclose?.({ code: 1006 }); }
  close() { this.closed = true; }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LiveSocket', () => {
  it('reconnects with backoff after a drop and takes the fresh snapshot; stop ends it', () => {
    vi.useFakeTimers();
    FakeWS.all = [];
    const events: AdminEvent[] = [];
    const statuses: SocketStatus[] = [];
    const s = new LiveSocket({ url: 'http://127.0.0.1:1', token: 't0k' }, {
      onEvent: (e) => events.push(e),
      onStatus: (x) => statuses.push(x),
      WebSocketImpl: FakeWS as unknown as typeof WebSocket,
      minDelayMs: 5,
      maxDelayMs: 20,
    });
    s.start();
    expect(FakeWS.all[0].protocols).toEqual(['relay-admin', 'bearer.t0k']);
    FakeWS.all[0].open();
    FakeWS.all[0].send({ type: 'config', what: 'x' });
    FakeWS.all[0].drop();
    expect(statuses.at(-1)).toBe('reconnecting');
    vi.advanceTimersByTime(1);
    expect(FakeWS.all).toHaveLength(1); // not at once: after a backoff
    vi.advanceTimersByTime(20); // maxDelayMs
    expect(FakeWS.all).toHaveLength(2);
    FakeWS.all[1].drop();
    vi.advanceTimersByTime(20);
    expect(FakeWS.all).toHaveLength(3);
    FakeWS.all[2].open();
    expect(statuses.at(-1)).toBe('open');
    FakeWS.all[2].send({ type: 'tick', counters: { time: 1, rps: 1, errors: 0, inFlight: 0, queued: 0 } });
    expect(events.map((e) => e.type)).toEqual(['config', 'tick']);
    s.stop();
    expect(FakeWS.all[2].closed).toBe(true);
    expect(statuses.at(-1)).toBe('closed');
    FakeWS.all[2].drop();
    expect(vi.getTimerCount()).toBe(0); // no reconnect armed
    vi.advanceTimersByTime(60_000);
    expect(FakeWS.all).toHaveLength(3);
  });
});
