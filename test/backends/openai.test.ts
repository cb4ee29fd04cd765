import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { createServer } from 'node:net';
import type { ChatEvent, ChatRequest } from '../../src-main/core/chat/model';
import { createOpenAIProvider, type OpenAIProvider } from '../../src-main/core/backends/openai';
import { readSseData } from '../../src-main/core/backends/openai/sse-reader';
import { ChunkReader, parseRetryAfter } from '../../src-main/core/backends/openai/translate';
import type { CallContext, Instance } from '../../src-main/core/backends/types';
import { RelayError } from '../../src-main/core/errors';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';

const log = pino({ level: 'silent' });

function ctx(signal = new AbortController().signal): CallContext {
  return { requestId: 'req-test', apiKeyId: 'key1', signal, log, meta: {} };
}

const req = (over: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'm1',
  stream: true,
  messages: [
    { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
    { role: 'user', content: [{ type: 'text', text: 'hello there' }] },
  ],
  ...over,
});

async function collect(it: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

async function failure(p: Promise<unknown>): Promise<RelayError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RelayError);
    return e as RelayError;
  }
  throw new Error('expected a failure');
}

let up: FakeUpstream;
let provider: OpenAIProvider;
let inst: Instance;

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1', 'Text-Embed-3'], apiKey: 'sk-upstream-secret' });
  provider = createOpenAIProvider({ name: 'fake', type: 'openai', baseUrl: up.url, apiKey: 'sk-upstream-secret' }, { log });
  await provider.start();
  await provider.refreshModels();
  inst = provider.instances()[0];
});

afterAll(async () => {
  await provider.stop();
  await up.close();
});

afterEach(() => {
  up.requests.length = 0;
  up.setOptions({ reply: undefined, chunks: 4, chunkDelayMs: 0, autoToolCall: false });
});

describe('OpenAI-compatible backend', () => {
  it('lists models and resolves names case-insensitively', () => {
    expect(provider.models().map((m) => m.id)).toEqual(['m1', 'Text-Embed-3']);
    expect(provider.resolveModel('M1')).toBe('m1');
    expect(provider.resolveModel('text-embed-3')).toBe('Text-Embed-3');
    expect(provider.resolveModel('nope')).toBeUndefined();
    expect(inst.state()).toBe('ready');
  });

  it('streams text deltas, then usage, then finish', async () => {
    const events = await collect(inst.chat(req(), ctx()));
    const text = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text).join('');
    expect(text).toBe('Echo: hello there');
    expect(events.filter((e) => e.type === 'text').length).toBeGreaterThan(1);
    expect(events.at(-2)).toMatchObject({ type: 'usage', usage: { estimated: false } });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    // The upstream got a streamed request with usage, our key, and the messages as sent.
    expect(up.requests[0]).toMatchObject({ model: 'm1', stream: true, stream_options: { include_usage: true } });
    expect(up.requests[0].messages).toEqual([
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'hello there' },
    ]);
    expect(up.headers.at(-1)?.authorization).toBe('Bearer sk-upstream-secret');
  });

  it('reuses one keep-alive connection across sequential streamed answers', async () => {
    await collect(inst.chat(req(), ctx()));
    const before = up.connections();
    for (let i = 0; i < 5; i++) {
      const events = await collect(inst.chat(req(), ctx()));
      expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
    }
    expect(up.connections()).toBe(before);
  });

  it('translates tools, tool calls, tool results and images to the wire format', async () => {
    const events = await collect(
      inst.chat(
        req({
          tools: [{ name: 'lookup', description: 'find', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
          toolChoice: { name: 'lookup' },
          messages: [
            { role: 'user', content: [{ type: 'text', text: 'see' }, { type: 'image', url: 'data:image/png;base64,AAAA' }] },
            { role: 'assistant', content: [], toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"x"}' }] },
            { role: 'tool', toolCallId: 'call_1', content: [{ type: 'text', text: 'result' }] },
          ],
        }),
        ctx(),
      ),
    );
    const body = up.requests[0];
    expect(body.tools[0]).toEqual({ type: 'function', function: { name: 'lookup', description: 'find', parameters: { type: 'object', properties: { q: { type: 'string' } } } } });
    expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'lookup' } });
    expect(body.messages[0].content).toEqual([{ type: 'text', text: 'see' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }]);
    expect(body.messages[1]).toEqual({ role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }] });
    expect(body.messages[2]).toEqual({ role: 'tool', tool_call_id: 'call_1', content: 'result' });
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('reads streamed tool calls and reasoning', async () => {
    up.enqueue({ toolCalls: [{ name: 'lookup', arguments: '{"q":"weather"}' }], reasoning: 'thinking hard' });
    const events = await collect(inst.chat(req({ tools: [{ name: 'lookup' }] }), ctx()));
    const reasoning = events.filter((e) => e.type === 'reasoning').map((e) => (e as { text: string }).text).join('');
    expect(reasoning).toBe('thinking hard');
    const calls = events.filter((e) => e.type === 'tool_call') as Extract<ChatEvent, { type: 'tool_call' }>[];
    expect(calls[0]).toMatchObject({ index: 0, name: 'lookup' });
    expect(calls[0].id).toMatch(/^call_/);
    expect(calls.map((c) => c.argumentsDelta).join('')).toBe('{"q":"weather"}');
    expect(events.at(-1)).toEqual({ type: 'finish', reason: 'tool_calls' });
  });

  it('maps upstream 5xx to a retryable 502', async () => {
    up.enqueue({ status: 500, message: 'boom' });
    const e = await failure(collect(inst.chat(req(), ctx())));
    expect(e).toMatchObject({ status: 502, type: 'upstream_error', retryable: true, upstreamStatus: 500 });
    expect(e.message).toContain('boom');
  });

  it('masks the provider key when an upstream echoes it in an error', async () => {
    up.enqueue({ status: 500, message: 'boom, key sk-upstream-secret was rejected' });
    const e = await failure(collect(inst.chat(req(), ctx())));
    expect(e.message).toContain('boom');
    expect(JSON.stringify({ m: e.message, d: e.detail })).not.toContain('sk-upstream-secret');
  });

  it('passes 429 on with its Retry-After', async () => {
    up.enqueue({ status: 429, retryAfter: 7, message: 'slow down' });
    const e = await failure(collect(inst.chat(req(), ctx())));
    expect(e).toMatchObject({ status: 429, type: 'rate_limit_error', retryAfter: 7, retryable: true });
  });

  it('treats context-length errors as final', async () => {
    up.enqueue({ status: 400, code: 'context_length_exceeded', message: "This model's maximum context length is 8192 tokens" });
    const e = await failure(collect(inst.chat(req(), ctx())));
    expect(e).toMatchObject({ status: 400, code: 'context_length_exceeded', retryable: false });
  });

  it('reports refused provider credentials without revealing them', async () => {
    const bad = createOpenAIProvider({ name: 'badkey', type: 'openai', baseUrl: up.url, apiKey: 'sk-wrong-key-123' }, { log });
    await bad.start();
    const e = await failure(collect(bad.instances()[0].chat(req(), ctx())));
    expect(e).toMatchObject({ status: 502, code: 'upstream_auth_failed', retryable: true });
    expect(JSON.stringify({ m: e.message, d: e.detail })).not.toContain('sk-wrong-key-123');
    await bad.stop();
  });

  it('reports an unreachable provider as retryable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const gone = createOpenAIProvider({ name: 'gone', type: 'openai', baseUrl: `http://127.0.0.1:${port}/v1` }, { log });
    await gone.start();
    const e = await failure(collect(gone.instances()[0].chat(req(), ctx())));
    expect(e).toMatchObject({ status: 502, code: 'upstream_unreachable', retryable: true });
    await expect(gone.instances()[0].probe(new AbortController().signal)).rejects.toBeInstanceOf(RelayError);
    await gone.stop();
  });

  it('fails cleanly when the upstream drops mid-stream', async () => {
    up.setOptions({ chunks: 6 });
    up.enqueue({ dropAfterChunks: 2 });
    const seen: ChatEvent[] = [];
    const e = await failure(
      (async () => {
        for await (const ev of inst.chat(req(), ctx())) seen.push(ev);
      })(),
    );
    expect(seen.some((x) => x.type === 'text')).toBe(true);
    expect(e).toMatchObject({ status: 502, code: 'upstream_stream_closed' });
  });

  it('surfaces an in-stream error event', async () => {
    up.setOptions({ chunks: 6 });
    up.enqueue({ errorAfterChunks: 1 });
    const e = await failure(collect(inst.chat(req(), ctx())));
    expect(e.status).toBe(502);
    expect(e.message).toContain('fake mid-stream failure');
  });

  it('names the provider in a mid-stream upstream error', async () => {
    up.setOptions({ chunks: 6 });
    up.enqueue({ errorAfterChunks: 1 });
    const e = await failure(collect(inst.chat(req(), ctx())));
    expect(e.message).toMatch(/^fake: fake mid-stream failure/);
    expect(e.message).not.toMatch(/the provider:/);
  });

  it('names the provider in an error chunk, without the upstream key', () => {
    const r = new ChunkReader('ollama', ['sk-secret-123456789']);
    expect(() => r.read({ error: { message: 'fake mid-stream failure with sk-secret-123456789' } }, [])).toThrow(/^ollama: fake mid-stream failure/);
    try {
      r.read({ error: { message: 'bad sk-secret-123456789' } }, []);
    } catch (e) {
      expect((e as Error).message).not.toContain('sk-secret-123456789');
    }
  });

  it('cancels the upstream request when the caller aborts', async () => {
    up.setOptions({ chunks: 50, chunkDelayMs: 20 });
    const ac = new AbortController();
    const before = up.aborted();
    let n = 0;
    const e = await failure(
      (async () => {
        for await (const ev of inst.chat(req(), ctx(ac.signal))) {
          if (ev.type === 'text' && ++n === 2) ac.abort();
        }
      })(),
    );
    expect(e.code).toBe('client_closed');
    await expect.poll(() => up.aborted(), { timeout: 5000 }).toBe(before + 1);
    await expect.poll(() => up.open(), { timeout: 5000 }).toBe(0);
  });

  it('stops reading when the consumer stops early (return)', async () => {
    up.setOptions({ chunks: 50, chunkDelayMs: 20 });
    const before = up.aborted();
    for await (const ev of inst.chat(req(), ctx())) {
      if (ev.type === 'text') break;
    }
    await expect.poll(() => up.aborted(), { timeout: 5000 }).toBe(before + 1);
  });

  it('computes embeddings in input order', async () => {
    const r = await inst.embed!({ model: 'Text-Embed-3', input: ['a', 'bb'], dimensions: 4 }, ctx());
    expect(r.data).toHaveLength(2);
    expect((r.data[0] as number[]).length).toBe(4);
    // The fake reports three tokens per input.
    expect(r.usage.promptTokens).toBe(2 * 3);
  });
});

describe('upstream SSE reader', () => {
  async function* chunks(parts: (string | Buffer)[]) {
    for (const p of parts) yield typeof p === 'string' ? Buffer.from(p) : p;
  }
  async function all(parts: (string | Buffer)[]): Promise<string[]> {
    const out: string[] = [];
    for await (const d of readSseData(chunks(parts))) out.push(d);
    return out;
  }

  it('joins events split across chunks and handles CRLF and comments', async () => {
    expect(await all(['data: {"a"', ':1}\n', '\n: keep-alive\n\ndata: x\r\n\r\n', 'data: [DONE]\n\n'])).toEqual(['{"a":1}', 'x', '[DONE]']);
  });

  it('keeps a multibyte character split across chunks intact', async () => {
    const bytes = Buffer.from('data: 你好\n\n');
    expect(await all([bytes.subarray(0, 8), bytes.subarray(8)])).toEqual(['你好']);
  });

  it('joins multi-line data and flushes a final event without a blank line', async () => {
    expect(await all(['data: a\ndata: b\n\ndata: tail'])).toEqual(['a\nb', 'tail']);
  });

  it('ends lines on a bare CR as the SSE spec allows', async () => {
    expect(await all(['data: a\r\rdata: b\r\r', 'data: [DONE]\r\r'])).toEqual(['a', 'b', '[DONE]']);
    // A bare CR at the end of a chunk: the next chunk may or may not start with its LF.
    expect(await all(['data: {"x":1}\r', '\r', 'data: y\r', '\n\r\n'])).toEqual(['{"x":1}', 'y']);
  });

  it('handles CRLF, multi-line data and comments in one stream', async () => {
    const stream = ': hello\r\nevent: ignored\r\nid: 7\r\ndata: line 1\r\ndata: line 2\r\n\r\n:ping\n\ndata:no-space\n\n';
    expect(await all([stream])).toEqual(['line 1\nline 2', 'no-space']);
  });

  it('gives the same events whatever the chunk boundaries, inside lines and line endings', async () => {
    const stream = 'data: {"a":"é"}\r\n\r\n: c\rdata: one\rdata: two\r\rdata: x\n\ndata: [DONE]\n\n';
    const expected = ['{"a":"é"}', 'one\ntwo', 'x', '[DONE]'];
    const bytes = Buffer.from(stream);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await all([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(expected);
    }
    // One byte at a time.
    expect(await all([...bytes].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  it('delivers a last event ended by a bare CR at the end of the body', async () => {
    expect(await all(['data: a\r\rdata: last\r'])).toEqual(['a', 'last']);
  });

  it('parses Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('12')).toBe(12);
    expect(parseRetryAfter(new Date(Date.now() + 30_000).toUTCString())).toBeGreaterThanOrEqual(29);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
