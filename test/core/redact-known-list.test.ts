/**
 * redactSecrets reuses its compiled pattern for a fresh list with the same values, and builds a
 * new one as soon as a value changes (a key added or replaced between two captures); its fast
 * path (no pattern can match) leaves text alone and still masks every pattern it skips for.
 */
import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../src-main/core/redact';

describe('redactSecrets with lists built per call', () => {
  it('masks a secret added to a fresh list with the same earlier values', () => {
    const a = 'alphaHIDDENone';
    const b = 'betaHIDDENtwo';
    expect(redactSecrets(`x ${a} ${b}`, [a])).toBe(`x [redacted] ${b}`);
    expect(redactSecrets(`x ${a} ${b}`, [a])).toBe(`x [redacted] ${b}`);
    expect(redactSecrets(`x ${a} ${b}`, [a, b])).toBe('x [redacted] [redacted]');
    expect(redactSecrets(`x ${a} ${b}`, [b])).toBe(`x ${a} [redacted]`);
    expect(redactSecrets(`x ${a} ${b}`, [undefined, b])).toBe(`x ${a} [redacted]`);
  });

  it('leaves clean text as it is and masks each pattern kind', () => {
    const clean = 'Say hello, please: nothing secret here.';
    expect(redactSecrets(clean, ['unrelated-secret'])).toBe(clean);
    expect(redactSecrets('see https://x.example/cb?code=abc#frag')).toBe('see https://x.example/cb?[redacted]');
    expect(redactSecrets('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [redacted]');
    expect(redactSecrets('key sk-abcdef123456')).toBe('key [redacted]');
    expect(redactSecrets('password=hunter2')).toBe('password=[redacted]');
    expect(redactSecrets('\u001b[31mred\u001b[0m')).toBe('red');
  });
});
