/**
 * Long waits and broken clients on the Anthropic and Responses streams: keep-alives before the
 * first event, `ping` events between slow chunks, errors after the stream was committed, and
 * cancellation when the client goes away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { KEY, startHarness, type Harness } from './harness';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ keepAliveMs: 100 });
});
afterAll(async () => {
  await h?.close();
});

const post = (path: string, body: unknown, signal?: AbortSignal) =>
  fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify(body),
    signal,
  });

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Anthropic stream under slow upstreams', () => {
  it('keeps the connection alive before the first event, then pings between slow chunks', async () => {
    h.fake.setOptions({ chunkDelayMs: 350 });
    try {
      h.fake.enqueue({ delayFirstByteMs: 400 });
      const r = await post('/v1/messages', { model: 'claude-x', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'slow one' }] });
      expect(r.status).toBe(200);
      const text = await r.text();
      const start = text.indexOf('event: message_start');
      expect(text.slice(0, start)).toContain(': keep-alive');
      const after = text.slice(start);
      expect(after).toContain('event: ping\ndata: {"type":"ping"}');
      expect(after).toContain('event: message_stop');
      const deltas = [...after.matchAll(/"text_delta","text":"([^"]*)"/g)].map((m) => m[1]).join('');
      expect(deltas).toBe('Echo: slow one');
    } finally {
      h.fake.setOptions({ chunkDelayMs: 0 });
    }
  });

  it('reports a failure after the keep-alive commit as an Anthropic error event', async () => {
    h.fake.enqueue({ delayFirstByteMs: 400, status: 400, message: 'bad upstream request' });
    const r = await post('/v1/messages', { model: 'claude-x', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'x' }] });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain(': keep-alive');
    const m = /event: error\ndata: (.*)\n/.exec(text);
    expect(m).not.toBeNull();
    expect(JSON.parse(m![1])).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
  });

  it('cancels the upstream call when the client goes away', async () => {
    h.fake.setOptions({ chunkDelayMs: 300, chunks: 20 });
    const aborted = h.fake.aborted();
    try {
      const ac = new AbortController();
      const r = await post('/v1/messages', { model: 'claude-x', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'a long answer please' }] }, ac.signal);
      const reader = r.body!.getReader();
      await reader.read();
      ac.abort();
      await until(() => h.fake.aborted() > aborted && h.idle());
    } finally {
      h.fake.setOptions({ chunkDelayMs: 0, chunks: 4 });
    }
  });
});

describe('Responses stream under slow upstreams', () => {
  it('sends keep-alive comments, then response.created + response.failed for a failure after the commit', async () => {
    h.fake.enqueue({ delayFirstByteMs: 400, status: 400, message: 'bad upstream request' });
    const r = await post('/v1/responses', { model: 'gpt-5', input: 'x', stream: true });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text.startsWith(': keep-alive')).toBe(true);
    const types = [...text.matchAll(/^event: (.*)$/gm)].map((m) => m[1]);
    expect(types).toEqual(['response.created', 'response.in_progress', 'response.failed']);
  });

  it('sends keep-alive comments between slow chunks and completes', async () => {
    h.fake.setOptions({ chunkDelayMs: 350 });
    try {
      const r = await post('/v1/responses', { model: 'gpt-5', input: 'slow', stream: true });
      const text = await r.text();
      const created = text.indexOf('event: response.created');
      expect(text.slice(created)).toContain(': keep-alive');
      expect(text).toContain('event: response.completed');
    } finally {
      h.fake.setOptions({ chunkDelayMs: 0 });
    }
  });

  it('cancels the WebSocket turn (and frees its slot) when the socket closes mid-answer', async () => {
    h.fake.setOptions({ chunkDelayMs: 300, chunks: 20 });
    const aborted = h.fake.aborted();
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${h.port}/v1/responses`, { headers: { 'x-api-key': KEY } });
      await new Promise((resolve, reject) => {
        ws.on('open', resolve);
        ws.on('error', reject);
      });
      const delta = new Promise<void>((resolve) => ws.on('message', (d) => JSON.parse(d.toString()).type === 'response.output_text.delta' && resolve()));
      ws.send(JSON.stringify({ type: 'response.create', model: 'gpt-5', input: 'long answer' }));
      await delta;
      ws.terminate();
      await until(() => h.fake.aborted() > aborted && h.idle());
    } finally {
      h.fake.setOptions({ chunkDelayMs: 0, chunks: 4 });
    }
  });
});
