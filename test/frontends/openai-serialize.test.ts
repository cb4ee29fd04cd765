/**
 * The precompiled `chat.completion` serializer writes exactly what `JSON.stringify` writes for
 * every body shape `completionBody` makes (text, empty, tool calls, reasoning, usage details,
 * escapes), so switching the non-streamed answer to it changes no byte on the wire.
 */
import { describe, expect, it } from 'vitest';
import type { ChatResult, Usage } from '../../src-main/core/chat/model';
import { serializeCompletion } from '../../src-main/core/frontends/openai/serialize';
import { completionBody } from '../../src-main/core/frontends/openai/translate';

const result = (r: Partial<ChatResult>): ChatResult => ({ text: '', reasoning: '', toolCalls: [], finishReason: 'stop', ...r });
const usage: Usage = { promptTokens: 12, completionTokens: 7, estimated: false };

const cases: Array<[string, ChatResult, Usage]> = [
  ['plain text', result({ text: 'Hello there.' }), usage],
  ['empty answer', result({}), usage],
  ['escapes and unicode', result({ text: 'line 1\nline "2"\t\\ \u0001 é 😀 </script>' }), usage],
  ['reasoning', result({ text: 'ok', reasoning: 'thinking…' }), usage],
  ['tool calls, no text', result({ toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }, { id: 'call_2', name: 'x', arguments: '' }], finishReason: 'tool_calls' }), usage],
  ['tool calls and text', result({ text: 'calling', toolCalls: [{ id: 'c', name: 'n', arguments: '{}' }], finishReason: 'tool_calls' }), usage],
  ['length', result({ text: 'cut', finishReason: 'length' }), { ...usage, estimated: true }],
  ['usage details', result({ text: 'x' }), { promptTokens: 100, completionTokens: 50, cachedTokens: 80, reasoningTokens: 20, estimated: false }],
  ['zero usage', result({ text: 'x' }), { promptTokens: 0, completionTokens: 0, estimated: true }],
];

describe('chat.completion serializer', () => {
  for (const [name, r, u] of cases) {
    it(`matches JSON.stringify: ${name}`, () => {
      const body = completionBody('chatcmpl-0123456789abcdef01234567', 1700000000, 'prov/"quoted" model', r, u);
      expect(serializeCompletion(body)).toBe(JSON.stringify(body));
    });
  }
});
