import { describe, expect, it } from 'vitest';
import type { ChatEvent, ChatMessage } from '../../src-main/core/chat/model';
import { errors, RelayError } from '../../src-main/core/errors';
import { responsesToChatRequest, type PreviousLookup } from '../../src-main/core/frontends/responses/request';
import { ResponsesEncoder, type ResponsesEvent } from '../../src-main/core/frontends/responses/response';
import { ResponseStore } from '../../src-main/core/frontends/responses/store';

const none: PreviousLookup = () => undefined;

function expectBad(body: unknown, param: string, lookup: PreviousLookup = none): RelayError {
  try {
    responsesToChatRequest(body, lookup);
  } catch (e) {
    expect(e).toBeInstanceOf(RelayError);
    const r = e as RelayError;
    expect(r.status).toBe(400);
    expect(r.param).toBe(param);
    return r;
  }
  throw new Error('expected a 400');
}

describe('Responses request → ChatRequest', () => {
  it('translates a string input with instructions and options', () => {
    const p = responsesToChatRequest(
      {
        model: 'gpt-5',
        input: 'hello',
        instructions: 'be terse',
        max_output_tokens: 50,
        temperature: 0.2,
        reasoning: { effort: 'high', summary: 'auto' },
        prompt_cache_key: 'sess-1',
        store: false,
        stream: true,
      },
      none,
    );
    expect(p.request).toEqual({
      model: 'gpt-5',
      stream: true,
      maxTokens: 50,
      temperature: 0.2,
      reasoning: { effort: 'high' },
      sessionKey: 'sess-1',
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'be terse' }] },
        { role: 'user', content: [{ type: 'text', text: 'hello' }] },
      ],
    });
    expect(p.store).toBe(false);
    expect(p.conversation).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hello' }] }]);
    expect(p.echo.reasoning).toEqual({ effort: 'high', summary: 'auto' });
  });

  it('translates items: roles, content parts, function calls and outputs, custom tools; drops hosted tools', () => {
    const p = responsesToChatRequest(
      {
        model: 'm',
        tools: [
          { type: 'function', name: 'shell', description: 'run', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } },
          { type: 'custom', name: 'apply_patch', description: 'patch files' },
          { type: 'web_search' },
        ],
        tool_choice: { type: 'function', name: 'shell' },
        input: [
          { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'dev rules' }] },
          { role: 'user', content: [{ type: 'input_text', text: 'look' }, { type: 'input_image', image_url: 'data:image/png;base64,AA', detail: 'low' }] },
          { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'xxx' },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'running' }] },
          { type: 'function_call', call_id: 'call_1', name: 'shell', arguments: '{"cmd":"ls"}' },
          { type: 'custom_tool_call', call_id: 'call_2', name: 'apply_patch', input: '*** Begin Patch' },
          { type: 'function_call_output', call_id: 'call_1', output: 'a.txt' },
          { type: 'custom_tool_call_output', call_id: 'call_2', output: 'ok' },
        ],
      },
      none,
    );
    expect(p.request.tools!.map((t) => t.name)).toEqual(['shell', 'apply_patch']);
    expect(p.customTools.has('apply_patch')).toBe(true);
    expect(p.request.toolChoice).toEqual({ name: 'shell' });
    expect(p.request.messages).toEqual<ChatMessage[]>([
      { role: 'system', content: [{ type: 'text', text: 'dev rules' }] },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', url: 'data:image/png;base64,AA', detail: 'low' }] },
      {
        role: 'assistant',
        content: [{ type: 'text', text: 'running' }],
        toolCalls: [
          { id: 'call_1', name: 'shell', arguments: '{"cmd":"ls"}' },
          { id: 'call_2', name: 'apply_patch', arguments: '{"input":"*** Begin Patch"}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_1', toolName: 'shell', content: [{ type: 'text', text: 'a.txt' }] },
      { role: 'tool', toolCallId: 'call_2', toolName: 'apply_patch', content: [{ type: 'text', text: 'ok' }] },
    ]);
  });

  it('prepends the stored conversation for previous_response_id; unknown id is a clear 400', () => {
    const history: ChatMessage[] = [
      { role: 'user', content: [{ type: 'text', text: 'q1' }] },
      { role: 'assistant', content: [], toolCalls: [{ id: 'call_9', name: 'f', arguments: '{}' }] },
    ];
    const lookup: PreviousLookup = (id) => (id === 'resp_known' ? history : undefined);
    const p = responsesToChatRequest(
      { model: 'm', previous_response_id: 'resp_known', input: [{ type: 'function_call_output', call_id: 'call_9', output: 'done' }] },
      lookup,
    );
    expect(p.request.messages).toEqual([...history, { role: 'tool', toolCallId: 'call_9', toolName: 'f', content: [{ type: 'text', text: 'done' }] }]);
    const e = expectBad({ model: 'm', previous_response_id: 'resp_nope', input: 'x' }, 'previous_response_id', lookup);
    expect(e.code).toBe('previous_response_not_found');
    expect(e.message).toContain('resp_nope');
  });

  it('rejects bad input naming the field', () => {
    expectBad({ input: 'x' }, 'model');
    expectBad({ model: 'm' }, 'input');
    expectBad({ model: 'm', input: [{ type: 'message', role: 'robot', content: 'x' }] }, 'input[0].role');
    expectBad({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] }, 'input[0].content[0].type');
    expectBad({ model: 'm', input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }] }, 'input[0].content[0].image_url');
    expectBad({ model: 'm', input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, 'input[0].call_id');
    expectBad({ model: 'm', input: 'x', tool_choice: 'sometimes' }, 'tool_choice');
    expectBad({ model: 'm', input: 'x', reasoning: { effort: 'extreme' } }, 'reasoning.effort');
    expectBad({ model: 'm', input: 'x', max_output_tokens: 0 }, 'max_output_tokens');
    expectBad({ model: 'm', input: [{ type: 'local_shell_call' }] }, 'input[0].type');
  });

  it('maps text.format json_schema to responseFormat', () => {
    const p = responsesToChatRequest(
      { model: 'm', input: 'x', text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } } },
      none,
    );
    expect(p.request.responseFormat).toEqual({ type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } });
  });
});

function encode(events: ChatEvent[], custom: string[] = []): { wire: ResponsesEvent[]; enc: ResponsesEncoder } {
  const p = responsesToChatRequest({ model: 'm', input: 'x' }, none);
  const enc = new ResponsesEncoder('openai/gpt-x', p.echo, new Set(custom), () => 7, { id: 'resp_test' });
  const wire = [...enc.start()];
  for (const e of events) wire.push(...enc.push(e));
  wire.push(...enc.end());
  return { wire, enc };
}

describe('Responses stream encoder', () => {
  it('emits text events in order with increasing sequence numbers', () => {
    const { wire, enc } = encode([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      { type: 'usage', usage: { promptTokens: 9, completionTokens: 2, estimated: false } },
      { type: 'finish', reason: 'stop' },
    ]);
    expect(wire.map((w) => w.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(wire.map((w) => w.sequence_number)).toEqual(wire.map((_, i) => i));
    expect(wire[0].response).toMatchObject({ id: 'resp_test', object: 'response', status: 'in_progress', model: 'openai/gpt-x', output: [] });
    const itemId = (wire[2].item as { id: string }).id;
    expect(wire[4]).toMatchObject({ item_id: itemId, output_index: 0, content_index: 0, delta: 'Hel' });
    expect(wire[6]).toMatchObject({ text: 'Hello' });
    const done = wire[9].response as Record<string, unknown>;
    expect(done).toMatchObject({
      status: 'completed',
      output: [{ id: itemId, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hello', annotations: [] }] }],
      usage: { input_tokens: 9, output_tokens: 2, total_tokens: 11 },
    });
    expect(enc.assistantMessage()).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'Hello' }] });
  });

  it('emits reasoning summary and function call items', () => {
    const { wire, enc } = encode([
      { type: 'reasoning', text: 'think' },
      { type: 'tool_call', index: 0, id: 'call_x', name: 'shell', argumentsDelta: '{"cmd"' },
      { type: 'tool_call', index: 0, argumentsDelta: ':"ls"}' },
      { type: 'finish', reason: 'tool_calls' },
    ]);
    expect(wire.map((w) => w.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(wire[8].item).toMatchObject({ type: 'function_call', call_id: 'call_x', name: 'shell', arguments: '', status: 'in_progress' });
    expect(wire[11]).toMatchObject({ arguments: '{"cmd":"ls"}', name: 'shell', output_index: 1 });
    expect(wire[12].item).toMatchObject({ type: 'function_call', call_id: 'call_x', arguments: '{"cmd":"ls"}', status: 'completed' });
    expect(enc.assistantMessage()).toEqual({ role: 'assistant', content: [], reasoning: 'think', toolCalls: [{ id: 'call_x', name: 'shell', arguments: '{"cmd":"ls"}' }] });
  });

  it('turns calls of custom tools into custom_tool_call items with the raw input', () => {
    const { wire } = encode([{ type: 'tool_call', index: 0, id: 'call_p', name: 'apply_patch', argumentsDelta: '{"input":"*** Begin Patch"}' }, { type: 'finish', reason: 'tool_calls' }], ['apply_patch']);
    expect(wire.map((w) => w.type).slice(2)).toEqual([
      'response.output_item.added',
      'response.custom_tool_call_input.delta',
      'response.custom_tool_call_input.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(wire[5].item).toMatchObject({ type: 'custom_tool_call', call_id: 'call_p', name: 'apply_patch', input: '*** Begin Patch' });
  });

  it('ends incomplete on length, and fails with response.failed', () => {
    const { wire } = encode([{ type: 'text', text: 'cut' }, { type: 'finish', reason: 'length' }]);
    const last = wire[wire.length - 1];
    expect(last.type).toBe('response.incomplete');
    expect(last.response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });

    const p = responsesToChatRequest({ model: 'm', input: 'x' }, none);
    const enc = new ResponsesEncoder('m', p.echo, new Set(), () => 1);
    enc.start();
    enc.push({ type: 'text', text: 'part' });
    const failed = enc.fail(errors.upstream('backend died'));
    expect(failed.map((f) => f.type)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.failed']);
    expect(failed[3].response).toMatchObject({ status: 'failed', error: { code: 'server_error', message: 'backend died' } });
  });
});

describe('ResponseStore', () => {
  const msg = (t: string): ChatMessage[] => [{ role: 'user', content: [{ type: 'text', text: t }] }];
  it('is bounded (LRU) and scoped to the owning key', () => {
    const s = new ResponseStore({ maxEntries: 2 });
    s.put('a', 'k1', msg('a'));
    s.put('b', 'k1', msg('b'));
    expect(s.get('a', 'k1')).toEqual(msg('a')); // a is now most recent
    s.put('c', 'k1', msg('c'));
    expect(s.get('b', 'k1')).toBeUndefined();
    expect(s.get('a', 'k1')).toBeDefined();
    expect(s.get('c', 'k2')).toBeUndefined();
    expect(s.size).toBe(2);
  });
  it('bounds by bytes too', () => {
    const s = new ResponseStore({ maxEntries: 100, maxBytes: 200 });
    s.put('a', 'k', msg('x'.repeat(120)));
    s.put('b', 'k', msg('y'.repeat(120)));
    expect(s.get('a', 'k')).toBeUndefined();
    expect(s.get('b', 'k')).toBeDefined();
  });
});
