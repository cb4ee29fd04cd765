/**
 * Log lines are parsed for the dashboard (the hub's `log` event) only while a dashboard listens:
 * without one the admin plugin holds no `log` listener (the gateway's logger then skips the
 * JSON.parse per line), the first socket adds it, the last one leaving removes it, and lines
 * still reach a socket that connects later.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AdminEvent } from '../../src-main/core/admin/api-types';
import { ADMIN_TOKEN } from './fakes';
import { adminHarness, type AdminHarness } from '../helpers/admin';

const harnesses: AdminHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

function nextEvent(ws: WebSocket, pred: (e: AdminEvent) => boolean): Promise<AdminEvent> {
  return new Promise((resolve) => {
    const on = (data: WebSocket.RawData) => {
      const e = JSON.parse(String(data)) as AdminEvent;
      if (pred(e)) {
        ws.off('message', on);
        resolve(e);
      }
    };
    ws.on('message', on);
  });
}

async function connect(port: number): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/admin/events`, ['relay-admin', `bearer.${ADMIN_TOKEN}`]);
  const snap = nextEvent(ws, (e) => e.type === 'snapshot');
  await snap;
  return ws;
}

describe('admin log listener', () => {
  it('listens to the hub log only while a dashboard is connected', async () => {
    const relay = adminHarness();
    harnesses.push(relay);
    const app = await relay.build();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const base = relay.hub.listenerCount('log');

    const a = await connect(port);
    expect(relay.hub.listenerCount('log')).toBe(base + 1);
    const b = await connect(port);
    expect(relay.hub.listenerCount('log')).toBe(base + 1);

    const got = nextEvent(b, (e) => e.type === 'log');
    relay.hub.emit('log', { time: Date.now(), level: 'info', msg: 'to the dashboard' });
    expect(await got).toMatchObject({ type: 'log', line: { msg: 'to the dashboard' } });

    const closed = (ws: WebSocket) => new Promise((r) => ws.once('close', r));
    const aGone = closed(a);
    a.close();
    await aGone;
    // The server sees the close after the client: wait for its side, by the count itself.
    await expect.poll(() => relay.hub.listenerCount('log')).toBe(base + 1);
    const bGone = closed(b);
    b.close();
    await bGone;
    await expect.poll(() => relay.hub.listenerCount('log')).toBe(base);

    const c = await connect(port);
    expect(relay.hub.listenerCount('log')).toBe(base + 1);
    const again = nextEvent(c, (e) => e.type === 'log');
    relay.hub.emit('log', { time: Date.now(), level: 'info', msg: 'after a reconnect' });
    expect(await again).toMatchObject({ type: 'log', line: { msg: 'after a reconnect' } });
    c.terminate();
  });
});
