import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimatePromptTokens } from '../../src-main/core/chat/tokens';
import { fakeUsage } from '../fakes/openai-upstream';
import { KEY, startHarness, type Harness } from './harness';

let h: Harness;
const json = (r: Response): Promise<any> => r.json();
let client: Anthropic;

beforeAll(async () => {
  h = await startHarness();
  client = new Anthropic({ baseURL: h.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => {
  await h?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = { 'x-api-key': KEY }) =>
  fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Parse an SSE body into [event, data] pairs. */
function parseSse(text: string): Array<{ event: string; data: any }> {
  const out: Array<{ event: string; data: any }> = [];
  for (const block of text.split('\n\n')) {
    let event = '';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (event) out.push({ event, data: data ? JSON.parse(data) : undefined });
  }
  return out;
}

describe('Anthropic Messages with @anthropic-ai/sdk', () => {
  it('answers a text message; claude-* resolves through the alias pattern', async () => {
    const { data, response } = await client.messages
      .create({ model: 'claude-sonnet-4-5', max_tokens: 100, system: 'be brief', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(data.type).toBe('message');
    expect(data.id).toMatch(/^msg_/);
    expect(data.model).toBe('fake/fake-model');
    expect(data.content).toEqual([{ type: 'text', text: 'Echo: hello there' }]);
    expect(data.stop_reason).toBe('end_turn');
    expect(response.headers.get('x-relay-resolved')).toBe('fake/fake-model');
    const up = h.fake.requests.at(-1);
    // The upstream's own figures, as it reported them for what it got.
    const usage = fakeUsage(up.messages, 'Echo: hello there');
    expect(data.usage).toMatchObject({ input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens });
    expect(up.model).toBe('fake-model');
    expect(up.max_tokens ?? up.max_completion_tokens).toBe(100);
    expect(up.messages[0]).toMatchObject({ role: 'system' });
  });

  it('streams with the SDK helper and accumulates the final message', async () => {
    const stream = client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'stream please' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const final = await stream.finalMessage();
    expect(text).toBe('Echo: stream please');
    expect(final.content).toEqual([{ type: 'text', text: 'Echo: stream please' }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.model).toBe('fake/fake-model');
  });

  it('sends events in Anthropic order on the wire, also with ?beta=true', async () => {
    const r = await post('/v1/messages?beta=true', { model: 'claude-x', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'order' }] }, {
      authorization: `Bearer ${KEY}`,
      'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14',
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    const events = parseSse(await r.text());
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('message_start');
    expect(names[1]).toBe('content_block_start');
    expect(names.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(events[0].data.message.model).toBe('fake/fake-model');
    expect(events.at(-2)!.data).toMatchObject({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: expect.any(Number) } });
  });

  it('round-trips tool use: upstream tool calls → tool_use blocks → tool results reach the upstream as tool messages', async () => {
    h.fake.enqueue({ toolCalls: [{ name: 'get_weather', arguments: '{"city":"Paris"}' }] });
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];
    const first = await client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 100, tools, messages: [{ role: 'user', content: 'Weather in Paris?' }] }).finalMessage();
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Paris' } });
    const upFirst = h.fake.requests.at(-1);
    expect(upFirst.tools[0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });

    h.fake.enqueue({ reply: 'It is sunny in Paris.' });
    const second = await client.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content as Anthropic.ContentBlockParam[] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: (use as Anthropic.ToolUseBlock).id, content: 'sunny, 21C' }] },
      ],
    });
    expect(second.content).toEqual([{ type: 'text', text: 'It is sunny in Paris.' }]);
    const up = h.fake.requests.at(-1);
    const assistant = up.messages.find((m: any) => m.role === 'assistant');
    expect(assistant.tool_calls[0]).toMatchObject({ id: (use as Anthropic.ToolUseBlock).id, function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    const tool = up.messages.find((m: any) => m.role === 'tool');
    expect(tool).toMatchObject({ tool_call_id: (use as Anthropic.ToolUseBlock).id });
    expect(JSON.stringify(tool.content)).toContain('sunny, 21C');
  });

  it('streams thinking before text when the upstream reasons', async () => {
    h.fake.enqueue({ reasoning: 'let me think', reply: 'done' });
    const final = await client.messages
      .stream({ model: 'claude-opus-4-1', max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: 'q' }] })
      .finalMessage();
    expect(final.content.map((b) => b.type)).toEqual(['thinking', 'text']);
    expect(final.content[0]).toMatchObject({ type: 'thinking', thinking: 'let me think' });
  });

  it('counts tokens: the estimate of the prompt as the backend would get it', async () => {
    const r = await client.messages.countTokens({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'count these words please' }] });
    expect(r.input_tokens).toBe(estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'count these words please' }] }] }));
  });

  it('count_tokens 404s an unknown model in the Anthropic shape and counts a known one', async () => {
    const body = (model: string) => ({ model, messages: [{ role: 'user', content: 'hello there' }] });
    const bad = await post('/v1/messages/count_tokens', body('no-such-model'));
    expect(bad.status).toBe(404);
    const e = await json(bad);
    expect(e.type).toBe('error');
    expect(e.error.type).toBe('not_found_error');
    expect(e.error.message).toMatch(/no-such-model/);
    const ok = await post('/v1/messages/count_tokens', body('claude-x'));
    expect(ok.status).toBe(200);
    expect((await json(ok)).input_tokens).toBe(estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hello there' }] }] }));
  });

  it('answers errors in Anthropic shape with the right status', async () => {
    const noKey = await post('/v1/messages', { model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, {});
    expect(noKey.status).toBe(401);
    expect(await json(noKey)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });

    const bad = await post('/v1/messages', { model: 'claude-x', messages: [{ role: 'user', content: 'x' }] });
    expect(bad.status).toBe(400);
    const badBody = await json(bad);
    expect(badBody).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect(badBody.error.message).toContain('max_tokens');

    const badJson = await post('/v1/messages', '{not json');
    expect(badJson.status).toBe(400);
    expect(await json(badJson)).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });

    await expect(client.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 404,
      error: { type: 'error', error: { type: 'not_found_error' } },
    });

    h.fake.enqueue({ status: 400, message: 'upstream says no' });
    const up = await post('/v1/messages', { model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    expect(up.status).toBeGreaterThanOrEqual(400);
    expect((await json(up)).type).toBe('error');
  });

  it('passes images to a backend that accepts them', async () => {
    const msg = await client.messages.create({
      model: 'claude-x',
      max_tokens: 20,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'text', text: 'describe' }] }],
    });
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    const user = h.fake.requests.at(-1).messages.find((m: any) => m.role === 'user');
    expect(user.content).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'image_url', image_url: expect.objectContaining({ url: 'data:image/png;base64,iVBORw0KGgo=' }) })]));
  });

  it('refuses images for a text-only backend with a clear 400', async () => {
    const r = await post('/v1/messages', {
      model: 'textonly',
      max_tokens: 5,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'text', text: 'what?' }] }],
    });
    expect(r.status).toBe(400);
    const body = await json(r);
    expect(body.type).toBe('error');
    expect(body.error.message.toLowerCase()).toContain('image');
  });

  it('refuses tools for a text-only backend without emulation, with a clear 400', async () => {
    const r = await post('/v1/messages', {
      model: 'textonly',
      max_tokens: 5,
      tools: [{ name: 't', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(r.status).toBe(400);
    expect((await json(r)).error.message.toLowerCase()).toContain('tool');
  });

  it('sends an in-stream error event when the upstream fails mid-stream', async () => {
    h.fake.enqueue({ errorAfterChunks: 1 });
    const r = await post('/v1/messages', { model: 'claude-x', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'break' }] });
    expect(r.status).toBe(200);
    const events = parseSse(await r.text());
    expect(events[0].event).toBe('message_start');
    const last = events.at(-1)!;
    expect(last.event).toBe('error');
    expect(last.data).toMatchObject({ type: 'error', error: { type: expect.any(String), message: expect.any(String) } });
  });

  it('emulates tools on a text-only backend when the alias turns it on', async () => {
    h.plain.enqueue({ reply: 'Checking.\n<tool_call>\n{"name":"get_weather","arguments":{"city":"Oslo"}}\n</tool_call>' });
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
    const msg = await client.messages.stream({ model: 'emu', max_tokens: 100, tools, messages: [{ role: 'user', content: 'Weather in Oslo?' }] }).finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content[0]).toEqual({ type: 'text', text: 'Checking.' });
    expect(msg.content[1]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Oslo' } });
    const up = h.plain.requests.at(-1);
    expect(up.tools).toBeUndefined();
    expect(JSON.stringify(up.messages[0])).toContain('<tool_call>');

    // The follow-up: history rendered as text for the text-only backend.
    h.plain.enqueue({ reply: 'Cold in Oslo.' });
    const use = msg.content[1] as Anthropic.ToolUseBlock;
    const next = await client.messages.create({
      model: 'emu',
      max_tokens: 100,
      tools,
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: msg.content as Anthropic.ContentBlockParam[] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '-3C' }] },
      ],
    });
    expect(next.content).toEqual([{ type: 'text', text: 'Cold in Oslo.' }]);
    const up2 = h.plain.requests.at(-1);
    expect(up2.messages.some((m: any) => m.role === 'tool' || m.tool_calls)).toBe(false);
    expect(JSON.stringify(up2.messages)).toContain('<tool_result name=\\"get_weather\\"');
  });
});
