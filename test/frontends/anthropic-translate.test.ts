import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src-main/core/chat/model';
import { errors, RelayError } from '../../src-main/core/errors';
import { anthropicErrorType, toAnthropicError } from '../../src-main/core/frontends/anthropic/errors';
import { anthropicToChatRequest } from '../../src-main/core/frontends/anthropic/request';
import { AnthropicEncoder, type SseEvent } from '../../src-main/core/frontends/anthropic/response';
import { estimatePromptTokens } from '../../src-main/core/chat/tokens';

const base = { model: 'claude-sonnet-4-5', max_tokens: 100 };

function expectBad(body: unknown, param: string, fragment?: string): void {
  try {
    anthropicToChatRequest(body);
  } catch (e) {
    expect(e).toBeInstanceOf(RelayError);
    const r = e as RelayError;
    expect(r.status).toBe(400);
    expect(r.param).toBe(param);
    expect(r.message).toContain(param);
    if (fragment) expect(r.message).toContain(fragment);
    return;
  }
  throw new Error('expected a 400');
}

describe('Anthropic request → ChatRequest', () => {
  it('translates a plain text request with system string and sampling fields', () => {
    const req = anthropicToChatRequest({
      ...base,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.3,
      top_p: 0.9,
      top_k: 40,
      stop_sequences: ['END'],
      stream: true,
      metadata: { user_id: 'user_abc_session_1' },
    });
    expect(req).toEqual({
      model: 'claude-sonnet-4-5',
      stream: true,
      maxTokens: 100,
      temperature: 0.3,
      topP: 0.9,
      topK: 40,
      stop: ['END'],
      user: 'user_abc_session_1',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be brief' }] },
        { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      ],
    });
  });

  it('keeps mid-conversation system messages (Claude Code sends them to non-Claude models)', () => {
    const req = anthropicToChatRequest({
      ...base,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'system', content: 'reminder' },
        { role: 'system', content: [{ type: 'text', text: 'more' }] },
      ],
    });
    expect(req.messages.map((m) => m.role)).toEqual(['user', 'system', 'system']);
    expect(req.messages[2].content).toEqual([{ type: 'text', text: 'more' }]);
  });

  it('joins system blocks and ignores cache_control', () => {
    const req = anthropicToChatRequest({
      ...base,
      system: [
        { type: 'text', text: 'one', cache_control: { type: 'ephemeral' } },
        { type: 'text', text: 'two' },
      ],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'q', cache_control: { type: 'ephemeral' } }] }],
    });
    expect(req.messages[0]).toEqual({ role: 'system', content: [{ type: 'text', text: 'one\n\ntwo' }] });
  });

  it('maps images (base64 and url) to image parts', () => {
    const req = anthropicToChatRequest({
      ...base,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } },
            { type: 'text', text: 'what is this' },
          ],
        },
      ],
    });
    expect(req.messages[0].content).toEqual([
      { type: 'image', url: 'data:image/png;base64,AAAA', mediaType: 'image/png' },
      { type: 'image', url: 'https://example.com/a.jpg' },
      { type: 'text', text: 'what is this' },
    ]);
  });

  it('maps a tool round trip: tool_use → toolCalls, tool_result → tool messages (string, blocks, is_error)', () => {
    const req = anthropicToChatRequest({
      ...base,
      tools: [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: 'weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'I should call the tool', signature: 'sig' },
            { type: 'text', text: 'Let me check.' },
            { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'city not found' }], is_error: true },
            { type: 'text', text: 'thanks' },
          ],
        },
      ],
    });
    expect(req.tools).toEqual([{ name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }]);
    expect(req.toolChoice).toBe('auto');
    expect(req.parallelToolCalls).toBe(false);
    expect(req.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'Let me check.' }],
        reasoning: 'I should call the tool',
        toolCalls: [
          { id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'toolu_2', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'tool', toolCallId: 'toolu_1', toolName: 'get_weather', content: [{ type: 'text', text: 'sunny' }] },
      { role: 'tool', toolCallId: 'toolu_2', toolName: 'get_weather', isError: true, content: [{ type: 'text', text: 'city not found' }] },
      { role: 'user', content: [{ type: 'text', text: 'thanks' }] },
    ]);
  });

  it('maps tool_choice any/tool/none and thinking', () => {
    const tools = [{ name: 't', input_schema: { type: 'object' } }];
    const msgs = [{ role: 'user', content: 'x' }];
    expect(anthropicToChatRequest({ ...base, tools, messages: msgs, tool_choice: { type: 'any' } }).toolChoice).toBe('required');
    expect(anthropicToChatRequest({ ...base, tools, messages: msgs, tool_choice: { type: 'tool', name: 't' } }).toolChoice).toEqual({ name: 't' });
    expect(anthropicToChatRequest({ ...base, tools, messages: msgs, tool_choice: { type: 'none' } }).toolChoice).toBe('none');
    expect(anthropicToChatRequest({ ...base, messages: msgs, thinking: { type: 'enabled', budget_tokens: 2048 } }).reasoning).toEqual({ budgetTokens: 2048 });
    expect(anthropicToChatRequest({ ...base, messages: msgs, thinking: { type: 'disabled' } }).reasoning).toBeUndefined();
    expect(anthropicToChatRequest({ ...base, messages: msgs, thinking: { type: 'adaptive' }, output_config: { effort: 'max' } }).reasoning).toEqual({ effort: 'high' });
    expect(anthropicToChatRequest({ ...base, messages: msgs, thinking: { type: 'adaptive' } }).reasoning).toEqual({ effort: 'medium' });
  });

  it('rejects bad input with errors naming the field', () => {
    expectBad({ messages: [{ role: 'user', content: 'x' }], max_tokens: 5 }, 'model');
    expectBad({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, 'max_tokens');
    expectBad({ ...base, messages: [] }, 'messages', 'at least one');
    expectBad({ ...base, messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role');
    expectBad({ ...base, messages: [{ role: 'system', content: [{ type: 'image' }] }] }, 'messages[0].content[0].type');
    expectBad({ ...base, messages: [{ role: 'user', content: [{ type: 'video' }] }] }, 'messages[0].content[0].type', 'video');
    expectBad({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] }, 'messages[0].content[0].source.type');
    expectBad({ ...base, messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'tools[0].type');
    expectBad({ ...base, messages: [{ role: 'user', content: 'x' }], tool_choice: { type: 'tool', name: 'nope' } }, 'tool_choice.name');
    expectBad({ ...base, messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }, 'temperature');
    expectBad({ ...base, messages: [{ role: 'user', content: 'x' }], thinking: { type: 'enabled' } }, 'thinking.budget_tokens');
    expectBad({ ...base, messages: [{ role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'b', input: 'str' }] }] }, 'messages[0].content[0].input');
  });

  it('count_tokens bodies need no max_tokens and estimate grows with content', () => {
    const small = anthropicToChatRequest({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }, { forCountTokens: true });
    const big = anthropicToChatRequest({ model: 'm', messages: [{ role: 'user', content: 'hello world '.repeat(200) }] }, { forCountTokens: true });
    expect(estimatePromptTokens(small)).toBe(estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }));
    // 400 words: ~400 tokens with the tokenizer, ~600 with the approximation.
    expect(estimatePromptTokens(big)).toBeGreaterThan(estimatePromptTokens(small) + 350);
  });
});

describe('Anthropic errors', () => {
  it('maps every RelayError type to an Anthropic error type in one place', () => {
    expect(anthropicErrorType(errors.invalid('x'))).toBe('invalid_request_error');
    expect(anthropicErrorType(errors.unauthorized())).toBe('authentication_error');
    expect(anthropicErrorType(errors.forbidden('x'))).toBe('permission_error');
    expect(anthropicErrorType(errors.modelNotFound('m'))).toBe('not_found_error');
    expect(anthropicErrorType(errors.tooLarge(10))).toBe('request_too_large');
    expect(anthropicErrorType(errors.rateLimited('x', 3))).toBe('rate_limit_error');
    expect(anthropicErrorType(errors.upstream('x'))).toBe('api_error');
    expect(anthropicErrorType(errors.unavailable('x'))).toBe('overloaded_error');
    expect(anthropicErrorType(errors.timeout('x'))).toBe('timeout_error');
    expect(toAnthropicError(errors.invalid('bad thing'), 'req_1')).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'bad thing' },
      request_id: 'req_1',
    });
  });
});

function run(events: ChatEvent[]): { wire: SseEvent[]; enc: AnthropicEncoder } {
  const enc = new AnthropicEncoder('openai/gpt-x', 12, 'msg_test');
  const wire = [...enc.start()];
  for (const e of events) wire.push(...enc.push(e));
  wire.push(...enc.end());
  return { wire, enc };
}

describe('Anthropic stream encoder', () => {
  it('emits the exact event order for thinking + text', () => {
    const { wire, enc } = run([
      { type: 'reasoning', text: 'hmm' },
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      { type: 'usage', usage: { promptTokens: 20, completionTokens: 5, cachedTokens: 4, estimated: false } },
      { type: 'finish', reason: 'stop' },
    ]);
    expect(wire.map((w) => w.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(wire[0].data).toMatchObject({ type: 'message_start', message: { id: 'msg_test', model: 'openai/gpt-x', role: 'assistant', content: [], stop_reason: null } });
    expect(wire[1].data).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } });
    expect(wire[2].data).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } });
    expect(wire[4].data).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } });
    expect(wire[5].data).toEqual({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Hel' } });
    expect(wire[8].data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 16, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 4 },
    });
    expect(enc.message()).toMatchObject({
      id: 'msg_test',
      content: [
        { type: 'thinking', thinking: 'hmm' },
        { type: 'text', text: 'Hello' },
      ],
      stop_reason: 'end_turn',
    });
  });

  it('emits tool_use blocks with input_json_delta, one block per call, and stop_reason tool_use', () => {
    const { wire, enc } = run([
      { type: 'text', text: 'Checking.' },
      { type: 'tool_call', index: 0, id: 'call_a', name: 'get_weather', argumentsDelta: '{"city":' },
      { type: 'tool_call', index: 0, argumentsDelta: '"Paris"}' },
      { type: 'tool_call', index: 1, id: 'call_b', name: 'get_time', argumentsDelta: '{}' },
      { type: 'finish', reason: 'tool_calls' },
    ]);
    const starts = wire.filter((w) => w.event === 'content_block_start').map((w) => w.data.content_block);
    expect(starts).toEqual([
      { type: 'text', text: '' },
      { type: 'tool_use', id: 'call_a', name: 'get_weather', input: {} },
      { type: 'tool_use', id: 'call_b', name: 'get_time', input: {} },
    ]);
    const deltas = wire.filter((w) => w.event === 'content_block_delta' && (w.data.delta as { type: string }).type === 'input_json_delta');
    expect(deltas.map((d) => d.data.index)).toEqual([1, 1, 2]);
    // Every block is closed before the next opens.
    let open = -1;
    for (const w of wire) {
      if (w.event === 'content_block_start') {
        expect(open).toBe(-1);
        open = w.data.index as number;
      }
      if (w.event === 'content_block_stop') {
        expect(w.data.index).toBe(open);
        open = -1;
      }
    }
    expect(enc.message().content[1]).toEqual({ type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris' } });
    expect(enc.message().stop_reason).toBe('tool_use');
  });

  it('maps finish reasons: length → max_tokens, content_filter → refusal, stop with calls → tool_use', () => {
    expect(run([{ type: 'text', text: 'a' }, { type: 'finish', reason: 'length' }]).enc.stopReason()).toBe('max_tokens');
    expect(run([{ type: 'finish', reason: 'content_filter' }]).enc.stopReason()).toBe('refusal');
    expect(run([{ type: 'tool_call', index: 0, id: 'c', name: 'n', argumentsDelta: '{}' }, { type: 'finish', reason: 'stop' }]).enc.stopReason()).toBe('tool_use');
  });

  it('estimates nothing itself (usage is the dispatcher\'s usage event), and builds an error event', () => {
    const { enc } = run([{ type: 'text', text: 'x'.repeat(40) }, { type: 'finish', reason: 'stop' }]);
    // Without a usage event: what message_start announced, and no output counted.
    expect(enc.message().usage).toEqual({ input_tokens: 12, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(enc.error(errors.unavailable('busy'))).toEqual([{ event: 'error', data: { type: 'error', error: { type: 'overloaded_error', message: 'busy' } } }]);
  });
});
