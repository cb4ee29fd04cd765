import { describe, expect, it } from 'vitest';
import type { ChatEvent, ChatRequest } from '../../src-main/core/chat/model';
import { applyToolEmulation, requestUsesTools, ToolCallParser } from '../../src-main/core/chat/tool-emulation';

const tools = [{ name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];

function req(extra: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: 'lingma/qwen',
    stream: true,
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'You are helpful.' }] },
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
    ],
    tools,
    ...extra,
  };
}

async function* from(events: ChatEvent[]): AsyncIterable<ChatEvent> {
  for (const e of events) yield e;
}

async function collect(it: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** Split a string into chunks of `n` characters, the way a backend streams. */
function chunks(s: string, n: number): ChatEvent[] {
  const out: ChatEvent[] = [];
  for (let i = 0; i < s.length; i += n) out.push({ type: 'text', text: s.slice(i, i + n) });
  return out;
}

function textOf(events: ChatEvent[]): string {
  return events.filter((e): e is Extract<ChatEvent, { type: 'text' }> => e.type === 'text').map((e) => e.text).join('');
}

describe('tool emulation: request', () => {
  it('describes tools in the system prompt and removes native tool fields', () => {
    const { request } = applyToolEmulation(req({ toolChoice: 'required', parallelToolCalls: true }));
    expect(request.tools).toBeUndefined();
    expect(request.toolChoice).toBeUndefined();
    expect(request.parallelToolCalls).toBeUndefined();
    const sys = request.messages[0];
    expect(sys.role).toBe('system');
    const text = (sys.content[0] as { text: string }).text;
    expect(text.startsWith('You are helpful.')).toBe(true);
    expect(text).toContain('<tool_call>');
    expect(text).toContain('### get_weather');
    expect(text).toContain('"city"');
    expect(text).toContain('MUST call at least one tool');
  });

  it('adds a system message when there is none, and renders history as text', () => {
    const { request } = applyToolEmulation({
      model: 'm',
      stream: false,
      tools,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'Checking.' }],
          toolCalls: [
            { id: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { id: 'c2', name: 'get_weather', arguments: '{"city":"Rome"}' },
          ],
        },
        { role: 'tool', toolCallId: 'c1', toolName: 'get_weather', content: [{ type: 'text', text: 'sunny' }] },
        { role: 'tool', toolCallId: 'c2', toolName: 'get_weather', isError: true, content: [{ type: 'text', text: 'unknown city' }] },
      ],
    });
    expect(request.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(request.messages.some((m) => m.toolCalls || m.role === 'tool')).toBe(false);
    const assistant = (request.messages[2].content[0] as { text: string }).text;
    expect(assistant).toBe(
      'Checking.\n<tool_call>\n{"name":"get_weather","arguments":{"city":"Paris"}}\n</tool_call>\n<tool_call>\n{"name":"get_weather","arguments":{"city":"Rome"}}\n</tool_call>',
    );
    const results = (request.messages[3].content[0] as { text: string }).text;
    expect(results).toContain('<tool_result name="get_weather" id="c1">\nsunny\n</tool_result>');
    expect(results).toContain('<tool_result name="get_weather" id="c2" status="error">\nunknown city\n</tool_result>');
  });

  it('tool_choice none: no tools described, but history still rendered', () => {
    const { request } = applyToolEmulation(req({ toolChoice: 'none' }));
    expect((request.messages[0].content[0] as { text: string }).text).toBe('You are helpful.');
  });

  it('requestUsesTools sees definitions and history', () => {
    expect(requestUsesTools(req())).toBe(true);
    expect(requestUsesTools(req({ tools: undefined }))).toBe(false);
    expect(requestUsesTools({ model: 'm', stream: false, messages: [{ role: 'tool', toolCallId: 'x', content: [] }] })).toBe(true);
  });
});

describe('tool emulation: parsing the answer', () => {
  const answer = 'Let me look that up.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n<tool_call>{"name":"get_weather","arguments":{"city":"Rome"}}</tool_call>\n';

  for (const size of [1, 3, 7, 1000]) {
    it(`parses calls streamed in chunks of ${size}`, async () => {
      const { transform } = applyToolEmulation(req());
      const out = await collect(transform(from([...chunks(answer, size), { type: 'finish', reason: 'stop' }])));
      expect(textOf(out)).toBe('Let me look that up.');
      const calls = out.filter((e) => e.type === 'tool_call');
      expect(calls).toHaveLength(2);
      expect(calls[0]).toMatchObject({ type: 'tool_call', index: 0, name: 'get_weather', argumentsDelta: '{"city":"Paris"}' });
      expect(calls[1]).toMatchObject({ index: 1, argumentsDelta: '{"city":"Rome"}' });
      expect((calls[0] as { id: string }).id).toMatch(/^call_/);
      expect(out[out.length - 1]).toEqual({ type: 'finish', reason: 'tool_calls' });
    });
  }

  for (const size of [1, 2, 5, 1000]) {
    it(`strips a code fence around a call block and accepts batched calls (chunks of ${size})`, async () => {
      const { transform } = applyToolEmulation(req());
      const answer = 'Sure:\n```xml\n<tool_call>\n[{"name":"get_weather","arguments":{"city":"A"}},{"name":"get_weather","arguments":{"city":"B"}}]\n</tool_call>\n```\n';
      const out = await collect(transform(from([...chunks(answer, size), { type: 'finish', reason: 'stop' }])));
      expect(textOf(out)).toBe('Sure:');
      const calls = out.filter((e) => e.type === 'tool_call');
      expect(calls.map((c) => (c as { argumentsDelta: string }).argumentsDelta)).toEqual(['{"city":"A"}', '{"city":"B"}']);
      expect(calls.map((c) => (c as { index: number }).index)).toEqual([0, 1]);
    });
  }

  it('keeps code fences that are not around a call', async () => {
    const { transform } = applyToolEmulation(req());
    const text = 'Example:\n```js\nconsole.log(1)\n```\nDone.';
    const out = await collect(transform(from([...chunks(text, 3), { type: 'finish', reason: 'stop' }])));
    expect(textOf(out)).toBe(text);
  });

  it('passes plain answers through unchanged (including a lone "<")', async () => {
    const { transform } = applyToolEmulation(req());
    const text = 'x < y and <b>bold</b> and <tool_ but not a call';
    const out = await collect(transform(from([...chunks(text, 2), { type: 'finish', reason: 'stop' }])));
    expect(textOf(out)).toBe(text);
    expect(out[out.length - 1]).toEqual({ type: 'finish', reason: 'stop' });
  });

  it('answers malformed blocks as text, never an error', async () => {
    const { transform } = applyToolEmulation(req());
    const bad = 'Here: <tool_call>{"name": "get_weather", "arguments": {broken</tool_call> done';
    const out = await collect(transform(from([...chunks(bad, 4), { type: 'finish', reason: 'stop' }])));
    expect(out.some((e) => e.type === 'tool_call')).toBe(false);
    expect(textOf(out)).toBe('Here: <tool_call>{"name": "get_weather", "arguments": {broken</tool_call> done');
  });

  it('treats calls of undeclared tools as text', async () => {
    const { transform } = applyToolEmulation(req());
    const out = await collect(transform(from([{ type: 'text', text: '<tool_call>{"name":"rm_rf","arguments":{}}</tool_call>' }, { type: 'finish', reason: 'stop' }])));
    expect(out.some((e) => e.type === 'tool_call')).toBe(false);
    expect(textOf(out)).toContain('rm_rf');
  });

  it('accepts an unterminated final block and fenced JSON inside a block', () => {
    const p = new ToolCallParser(new Set(['get_weather']));
    const ev = [...p.feed('<tool_call>\n```json\n{"name":"get_weather","arguments":"{\\"city\\":\\"Oslo\\"}"}\n```'), ...p.end()];
    expect(ev).toEqual([expect.objectContaining({ type: 'tool_call', name: 'get_weather', argumentsDelta: '{"city":"Oslo"}' })]);
    // A batch with one bad element is not a call at all: it stays text.
    const q = new ToolCallParser(new Set(['get_weather']));
    const bad = [...q.feed('<tool_call>[{"name":"get_weather","arguments":{}},{"name":"nope","arguments":{}}]</tool_call>'), ...q.end()];
    expect(bad.every((e) => e.type === 'text')).toBe(true);
  });

  it('signals the first byte with one empty text event when the answer opens with a call', async () => {
    const { transform } = applyToolEmulation(req());
    const out = await collect(transform(from([...chunks('<tool_call>{"name":"get_weather","arguments":{"city":"Rome"}}</tool_call>', 5), { type: 'finish', reason: 'stop' }])));
    expect(out[0]).toEqual({ type: 'text', text: '' });
    expect(out.filter((e) => e.type === 'text')).toHaveLength(1);
    expect(out[1]).toMatchObject({ type: 'tool_call', name: 'get_weather', argumentsDelta: '{"city":"Rome"}' });
    expect(out[2]).toEqual({ type: 'finish', reason: 'tool_calls' });
  });

  it('keeps reasoning and usage events and flushes held text before them', async () => {
    const { transform } = applyToolEmulation(req());
    const out = await collect(
      transform(
        from([
          { type: 'reasoning', text: 'thinking' },
          { type: 'text', text: 'answer <tool' },
          { type: 'usage', usage: { promptTokens: 1, completionTokens: 2, estimated: false } },
          { type: 'finish', reason: 'length' },
        ]),
      ),
    );
    expect(out).toEqual([
      { type: 'reasoning', text: 'thinking' },
      { type: 'text', text: 'answer' },
      { type: 'text', text: ' <tool' },
      { type: 'usage', usage: { promptTokens: 1, completionTokens: 2, estimated: false } },
      { type: 'finish', reason: 'length' },
    ]);
  });
});
