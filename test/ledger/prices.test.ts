import { describe, expect, it } from 'vitest';
import { PriceTable } from '../../src-main/core/ledger/prices';

describe('price table', () => {
  const t = new PriceTable({
    '*': { input: 100, output: 100 },
    'openrouter/*': { input: 3, output: 15 },
    'openrouter/openai/*': { input: 2, output: 8, cachedInput: 0.5 },
    'gpt-5': { input: 1.25, output: 10 },
    'openrouter/openai/gpt-5': { input: 1, output: 9 },
    '*-mini': { input: 0.1, output: 0.4 },
  });

  it('most specific wins: exact name, then the most literal characters', () => {
    expect(t.lookup('openrouter', 'openai/gpt-5')?.input).toBe(1); // exact label
    expect(t.lookup('azure', 'gpt-5')?.input).toBe(1.25); // exact bare model beats patterns
    expect(t.lookup('openrouter', 'openai/o3')?.input).toBe(2); // longer pattern beats openrouter/*
    expect(t.lookup('openrouter', 'meta/llama')?.input).toBe(3);
    expect(t.lookup('ollama', 'qwen-mini')?.input).toBe(0.1); // '*-mini' (5 literal chars) beats '*'
    expect(t.lookup('ollama', 'qwen')?.input).toBe(100);
    expect(new PriceTable({}).lookup('x', 'y')).toBeNull();
  });

  it('cost: cached input priced separately, unknown → null (never 0)', () => {
    // 1000 prompt of which 400 cached, 100 completion, at 2 / 0.5 / 8 per million
    expect(t.cost({ provider: 'openrouter', model: 'openai/o3', promptTokens: 1000, cachedTokens: 400, completionTokens: 100 }))
      .toBeCloseTo((600 * 2 + 400 * 0.5 + 100 * 8) / 1e6, 12);
    // No cachedInput price: cached tokens cost the input price.
    expect(t.cost({ provider: 'openrouter', model: 'meta/llama', promptTokens: 1000, cachedTokens: 400, completionTokens: 0 })).toBeCloseTo(3000 / 1e6, 12);
    expect(t.cost({ provider: 'openrouter', model: 'meta/llama' })).toBeNull(); // no tokens known
    expect(new PriceTable({ 'lingma/*': { input: 0, output: 0 } }).cost({ provider: 'ollama', model: 'x', promptTokens: 5 })).toBeNull();
    expect(new PriceTable({ 'lingma/*': { input: 0, output: 0 } }).cost({ provider: 'lingma', model: 'x', promptTokens: 5 })).toBe(0);
    expect(t.cost({ model: undefined, promptTokens: 5 })).toBeNull(); // nothing resolved
  });
});
