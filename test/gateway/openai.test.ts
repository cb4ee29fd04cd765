import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimatePromptTokens, estimateTokens } from '../../src-main/core/chat/tokens';
import { startTestGateway, TEST_KEY, type TestGateway } from '../helpers/gateway';

let gw: TestGateway;
const jsonOf = (r: Response): Promise<any> => r.json();
let client: OpenAI;

beforeAll(async () => {
  gw = await startTestGateway();
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: TEST_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await gw?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('chat completions with the openai SDK', () => {
  it('answers non-streaming with usage and x-relay-resolved', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'fake/echo', messages: [{ role: 'user', content: 'hello' }] })
      .withResponse();
    expect(data.choices[0].message.content).toBe('echo: hello');
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.model).toBe('fake/echo');
    expect(data.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
    expect(response.headers.get('x-relay-resolved')).toBe('fake/echo');
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('streams chunks with the resolved model and a final usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'echo',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'stream me' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: unknown;
    const models = new Set<string>();
    for await (const chunk of stream) {
      models.add(chunk.model);
      if (chunk.usage) usage = chunk.usage;
      const c = chunk.choices[0];
      if (c?.delta?.content) text += c.delta.content;
      if (c?.finish_reason) finish = c.finish_reason;
    }
    expect(text).toBe('echo: stream me');
    expect(finish).toBe('stop');
    expect(models).toEqual(new Set(['fake/echo']));
    expect(usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3 });
    expect(gw.chat.active).toBe(0);
  });

  it('streams tool call deltas and reasoning_content', async () => {
    const stream = await client.chat.completions.create({
      model: 'fake/tools',
      messages: [{ role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      stream: true,
    });
    let args = '';
    let name = '';
    let id = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      const tc = chunk.choices[0]?.delta?.tool_calls?.[0];
      if (tc?.function?.arguments) args += tc.function.arguments;
      if (tc?.function?.name) name = tc.function.name;
      if (tc?.id) id = tc.id;
      if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
    }
    expect({ id, name, args, finish }).toEqual({ id: 'call_1', name: 'get_weather', args: '{"city":"Paris"}', finish: 'tool_calls' });
    expect(gw.chat.lastRequest?.toolChoice).toEqual({ name: 'get_weather' });

    const whole = await client.chat.completions.create({ model: 'fake/tools', messages: [{ role: 'user', content: 'x' }] });
    expect(whole.choices[0].message.tool_calls?.[0]).toMatchObject({ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(whole.choices[0].message.content).toBeNull();

    const r = await post('/v1/chat/completions', { model: 'fake/reason', messages: [{ role: 'user', content: 'x' }] });
    const body = await jsonOf(r);
    expect(body.choices[0].message).toMatchObject({ content: 'answer', reasoning_content: 'thinking...' });
  });

  it('translates every message form and request field into the neutral model', async () => {
    await client.chat.completions.create({
      model: 'fake/echo',
      messages: [
        { role: 'developer', content: 'dev rules' },
        { role: 'user', content: [{ type: 'text', text: 'look ' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'result' },
        { role: 'function', name: 'legacy', content: 'old result' } as any,
        { role: 'user', content: 'go' },
      ],
      temperature: 0.5,
      top_p: 0.9,
      max_completion_tokens: 100,
      stop: 'END',
      seed: 42,
      user: 'u-1',
      response_format: { type: 'json_object' },
      reasoning_effort: 'low',
      parallel_tool_calls: false,
      tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object' } } }],
      n: 1,
    });
    const req = gw.chat.lastRequest!;
    expect(req.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'user']);
    expect(req.messages[1].content).toEqual([
      { type: 'text', text: 'look ' },
      { type: 'image', url: 'data:image/png;base64,AAAA', mediaType: 'image/png', detail: 'low' },
    ]);
    expect(req.messages[2]).toMatchObject({ content: [], toolCalls: [{ id: 'c1', name: 'f', arguments: '{}' }] });
    expect(req.messages[3]).toMatchObject({ toolCallId: 'c1' });
    expect(req.messages[4]).toMatchObject({ toolCallId: 'legacy', toolName: 'legacy' });
    expect(req).toMatchObject({
      temperature: 0.5, topP: 0.9, maxTokens: 100, stop: ['END'], seed: 42, user: 'u-1',
      responseFormat: { type: 'json_object' }, reasoning: { effort: 'low' }, parallelToolCalls: false, stream: false,
    });
    expect(gw.chat.lastContext).toMatchObject({ protocol: 'openai-chat', endpoint: '/v1/chat/completions', caller: { keyName: 'test' } });
  });

  it('takes the session key from x-session-id or prompt_cache_key', async () => {
    await post('/v1/chat/completions', { model: 'fake/echo', messages: [{ role: 'user', content: 'x' }], prompt_cache_key: 'pck' });
    expect(gw.chat.lastRequest?.sessionKey).toBe('pck');
    await post('/v1/chat/completions', { model: 'fake/echo', messages: [{ role: 'user', content: 'x' }] }, { 'x-session-id': 'hdr' });
    expect(gw.chat.lastRequest?.sessionKey).toBe('hdr');
  });

  it('estimates usage when the backend reports none', async () => {
    const r = await client.chat.completions.create({ model: 'fake/nousage', messages: [{ role: 'user', content: 'count me' }] });
    // The one estimate: the prompt as the backend got it, and the answer's text ("echo: count me").
    expect(r.usage!.prompt_tokens).toBe(estimatePromptTokens(gw.chat.lastRequest!));
    expect(r.usage!.prompt_tokens).toBe(estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'count me' }] }] }));
    expect(r.usage!.completion_tokens).toBe(estimateTokens('echo: count me'));
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it('gives every answer its own id even when the client reuses x-request-id, which stays the correlation id', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await post('/v1/chat/completions', { model: 'fake/echo', messages: [{ role: 'user', content: 'hi' }] }, { 'x-request-id': 'myreq1' });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-request-id')).toBe('myreq1');
      ids.push((await jsonOf(r)).id);
    }
    expect(ids[0]).toMatch(/^chatcmpl-[0-9a-f]{24}$/);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[0]).not.toContain('myreq1');
  });
});

describe('errors', () => {
  const bad = async (body: unknown, status = 400) => {
    const r = await post('/v1/chat/completions', body);
    const j = await jsonOf(r);
    expect(r.status).toBe(status);
    expect(r.headers.get('x-request-id')).toBeTruthy();
    expect(j.error).toHaveProperty('type');
    expect(j.error).toHaveProperty('message');
    expect(j.error).toHaveProperty('code');
    expect(j.error).toHaveProperty('param');
    return j.error as { message: string; type: string; code: string; param: string | null };
  };

  it('rejects every bad input with a clear OpenAI-shaped 400', async () => {
    expect((await bad('{"model": "x", ')).message).toMatch(/^Malformed JSON body/);
    expect(await bad({ messages: [{ role: 'user', content: 'x' }] })).toMatchObject({ param: 'model', message: 'model: required' });
    expect(await bad({ model: 'fake/echo' })).toMatchObject({ param: 'messages', message: 'messages: required' });
    expect(await bad({ model: 'fake/echo', messages: [] })).toMatchObject({ param: 'messages', message: 'messages: must not be empty' });
    expect(await bad({ model: 42, messages: [{ role: 'user', content: 'x' }] })).toMatchObject({ param: 'model' });
    expect(await bad({ model: 'fake/echo', messages: [{ role: 'robot', content: 'x' }] })).toMatchObject({ param: 'messages[0].role' });
    expect(await bad({ model: 'fake/echo', messages: [{ role: 'user', content: 5 }] })).toMatchObject({ param: 'messages[0].content' });
    expect(await bad({ model: 'fake/echo', messages: 'hi' })).toMatchObject({ param: 'messages' });
    expect(await bad({ model: 'fake/echo', messages: [{ role: 'user', content: 'x' }], temperature: 'hot' })).toMatchObject({ param: 'temperature' });
    expect(await bad({ model: 'fake/echo', messages: [{ role: 'user', content: 'x' }], n: 2 })).toMatchObject({ param: 'n', message: 'n: only n=1 is supported' });
    expect(await bad({ model: 'fake/echo', messages: [{ role: 'tool', content: 'x' }] })).toMatchObject({ param: 'messages[0].tool_call_id' });
    expect(await bad({ model: 'fake/echo', messages: [{ role: 'user', content: [{ type: 'input_audio' }] }] })).toMatchObject({ param: 'messages[0].content[0].type' });
    expect(await bad([1, 2])).toMatchObject({ message: 'Request body must be a JSON object.' });
    expect(await bad({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }, 404)).toMatchObject({ code: 'model_not_found', param: 'model' });
  });

  it('explains embeddings input and content elements', async () => {
    const emb = (await jsonOf(await post('/v1/embeddings', { model: 'fake/embed', input: {} }))).error.message;
    expect(emb).toMatch(/^input must be a string, an array of strings, .*token arrays/);
    expect((await bad({ model: 'fake/echo', messages: [{ role: 'user', content: [null] }] })).message).toMatch(/^messages\[0\]\.content\[0\] must be a content part object/);
  });

  it('maps upstream failures and passes Retry-After on 429', async () => {
    const r = await post('/v1/chat/completions', { model: 'fake/busy', messages: [{ role: 'user', content: 'x' }] });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('7');
    expect((await jsonOf(r)).error.type).toBe('rate_limit_error');
    const sdkErr = await client.chat.completions.create({ model: 'fake/fail', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(sdkErr).toBeInstanceOf(OpenAI.APIError);
    expect(sdkErr.status).toBe(502);
    // before the first event a streaming request also gets a plain HTTP error
    const s = await post('/v1/chat/completions', { model: 'fake/fail', stream: true, messages: [{ role: 'user', content: 'x' }] });
    expect(s.status).toBe(502);
  });

  it('sends a failure after the stream started as one error event then [DONE]', async () => {
    const r = await post('/v1/chat/completions', { model: 'fake/midfail', stream: true, messages: [{ role: 'user', content: 'x' }] });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(r.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(r.headers.get('x-accel-buffering')).toBe('no');
    expect(r.headers.get('x-request-id')).toBeTruthy();
    const text = await r.text();
    const frames = text.split('\n\n').filter(Boolean);
    expect(frames[0]).toMatch(/"content":"partial"/);
    expect(JSON.parse(frames[1].slice(6))).toEqual({ error: { message: 'fake upstream dropped the stream', type: 'upstream_error', code: 'upstream_error', param: null } });
    expect(frames[2]).toBe('data: [DONE]');
    expect(frames).toHaveLength(3);
  });

  it('returns 413 for an oversized body and 404 for unknown routes, OpenAI-shaped', async () => {
    const small = await startTestGateway({ config: { limits: { maxBodyBytes: 2048 } } });
    try {
      const r = await fetch(`${small.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fake/echo', messages: [{ role: 'user', content: 'x'.repeat(5000) }] }),
      });
      expect(r.status).toBe(413);
      expect((await jsonOf(r)).error).toMatchObject({ type: 'request_too_large', code: 'request_too_large' });
    } finally {
      await small.close();
    }
    const nf = await fetch(`${gw.url}/v1/nothing-here`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
    expect(nf.status).toBe(404);
    expect((await jsonOf(nf)).error.code).toBe('unknown_route');
    const media = await post('/v1/chat/completions', 'model=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(media.status).toBe(415);
  });
});

describe('embeddings and models', () => {
  it('serves embeddings through the SDK', async () => {
    const r = await client.embeddings.create({ model: 'fake/embed', input: ['a', 'b'], encoding_format: 'float' });
    expect(r.data).toHaveLength(2);
    expect(r.data[1]).toMatchObject({ index: 1, embedding: [1, 0.5, 1] });
    expect(r.model).toBe('fake/embed');
    const bad = await post('/v1/embeddings', { model: 'fake/embed', input: 5 });
    expect(bad.status).toBe(400);
    expect((await jsonOf(bad)).error.param).toBe('input');
  });

  it('lists models and finds ids with slashes', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toContain('fake/echo');
    const one = await client.models.retrieve('fake/echo');
    expect(one.id).toBe('fake/echo');
    const r = await fetch(`${gw.url}/v1/models/fake/nope`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
    expect(r.status).toBe(404);
    expect((await jsonOf(r)).error.code).toBe('model_not_found');
  });
});
