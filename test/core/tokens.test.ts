/**
 * The one token estimate (core/chat/tokens.ts). Stated error, measured here against exact o200k
 * counts: the tokenizer-grade estimate is exact up to EXACT_LIMIT characters and within 3% past
 * it (sampled); the stand-in approximation (used before the tokenizer loads) is within 40% on
 * English, code, JSON and Chinese. The Lingma simulator's `context_usage` does not tokenize
 * (it reports 100 + prompt bytes + answer characters), so the error against Lingma's own counts
 * cannot be stated from it; real `context_usage` figures replace the estimate whenever a runtime
 * sends them (usage `estimated: false`, test/lingma/session-dialect.test.ts).
 */
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { approximateTokens, estimatePromptTokens, estimateTokens, EXACT_LIMIT, loadTokenizer, TextTally, tokenizerReady } from '../../src-main/core/chat/tokens';

const exact = (createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as { countTokens(t: string): number }).countTokens;

const CORPUS: Record<string, string> = {
  prose: 'The relay keeps a short record of every request so that a person can see what was sent, what came back and why it went where it went. '.repeat(20),
  code: 'export function add(a: number, b: number): number {\n  // adds two numbers\n  return a + b;\n}\nconst xs = [1, 2, 3].map((x) => add(x, 40));\n'.repeat(20),
  json: JSON.stringify({ model: 'qwen3-coder', messages: [{ role: 'user', content: 'Refactor the parser.' }], tools: [{ name: 'read_file', parameters: { type: 'object', properties: { path: { type: 'string' } } } }] }).repeat(10),
  chinese: '请把这个函数改写成异步的版本，并且保留原来的错误处理逻辑。'.repeat(20),
};

describe('token estimate', () => {
  beforeAll(async () => {
    await loadTokenizer();
  });

  it('loads the tokenizer and counts exactly what o200k counts', () => {
    expect(tokenizerReady()).toBe(true);
    for (const text of Object.values(CORPUS)) expect(estimateTokens(text)).toBe(exact(text));
    expect(estimateTokens('')).toBe(0);
  });

  it('counts long texts on samples within 3%', () => {
    const long = (CORPUS.code + CORPUS.prose).repeat(Math.ceil((EXACT_LIMIT * 3) / (CORPUS.code.length + CORPUS.prose.length)));
    expect(long.length).toBeGreaterThan(EXACT_LIMIT);
    const err = Math.abs(estimateTokens(long) - exact(long)) / exact(long);
    expect(err).toBeLessThan(0.03);
  });

  it('a streamed answer: the same figure in any pieces as whole, holding a bounded part of it', () => {
    let seed = 7;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const texts = [
      CORPUS.prose, // short: exact
      (CORPUS.code + CORPUS.chinese + CORPUS.json).repeat(60), // ~400 K characters, multi-byte included
      'x'.repeat(EXACT_LIMIT), // exactly at the limit
      'y'.repeat(EXACT_LIMIT + 1),
    ];
    for (const text of texts) {
      const tally = new TextTally();
      let maxHeld = 0;
      for (let i = 0; i < text.length; ) {
        const n = 1 + rand(i % 3 === 0 ? 5000 : 300);
        tally.add(text.slice(i, i + n));
        i += n;
        maxHeld = Math.max(maxHeld, tally.held);
      }
      expect(tally.length).toBe(text.length);
      expect(tally.count()).toBe(estimateTokens(text));
      // Never more than the exact limit, or 4 samples + the last block and a half (8,000 characters each) and one piece.
      expect(maxHeld).toBeLessThanOrEqual(Math.max(EXACT_LIMIT, 6.5 * 8000 + 5000));
      if (text.length <= EXACT_LIMIT) expect(tally.count()).toBe(exact(text));
      else expect(Math.abs(tally.count() - exact(text)) / exact(text)).toBeLessThan(0.03);
    }
    expect(new TextTally().count()).toBe(0);
  });

  it('states the stand-in approximation error: within 40% of the tokenizer', () => {
    for (const [kind, text] of Object.entries(CORPUS)) {
      const err = Math.abs(approximateTokens(text) - exact(text)) / exact(text);
      expect(err, `${kind}: ${(err * 100).toFixed(1)}%`).toBeLessThan(0.4);
    }
  });

  it('a request adds its per-message overhead and tool definitions', () => {
    const base = estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }] });
    expect(base).toBe(3 + 4 + exact('hello'));
    const withTool = estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }], tools: [{ name: 'read_file', description: 'Read a file' }] });
    expect(withTool).toBe(base + exact('read_file') + exact('Read a file'));
  });
});
