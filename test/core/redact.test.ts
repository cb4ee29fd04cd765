import { describe, expect, it } from 'vitest';
import { redactSecrets, safeErrorText } from '../../src-main/core/redact';

describe('redactSecrets', () => {
  it('keeps a URL origin and path, drops its query and fragment', () => {
    expect(redactSecrets('navigating to "https://lingma.alibabacloud.com/lingma/login?nonce=1&state=2&port=3" failed')).toBe(
      'navigating to "https://lingma.alibabacloud.com/lingma/login?[redacted]" failed',
    );
    expect(redactSecrets('see http://127.0.0.1:4000/auth/callback#token=x')).toBe('see http://127.0.0.1:4000/auth/callback?[redacted]');
    expect(redactSecrets('plain http://example.com/path stays')).toBe('plain http://example.com/path stays');
  });

  it('masks known secrets wherever they appear, and key-shaped strings', () => {
    expect(redactSecrets('Incorrect API key provided: abcdefgh1234', ['abcdefgh1234'])).toBe('Incorrect API key provided: [redacted]');
    expect(redactSecrets('boom sk-provider-SECRET-123')).toBe('boom [redacted]');
    expect(redactSecrets('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [redacted]');
    expect(redactSecrets('password=hunter2 ok; api_key: zzz9')).toBe('password=[redacted] ok; api_key=[redacted]');
    // Short "secrets" would mask ordinary words: not treated as secrets.
    expect(redactSecrets('the pw is fine', ['pw'])).toBe('the pw is fine');
    expect(redactSecrets('upstream said 500')).toBe('upstream said 500');
  });

  it('strips ANSI colour codes', () => {
    expect(redactSecrets('\u001b[2m  - navigating\u001b[22m')).toBe('  - navigating');
  });

  it('safeErrorText keeps the first lines of an error, scrubbed', () => {
    const e = new Error('page.goto: net::ERR_NAME_NOT_RESOLVED at https://h.test/login?nonce=9\nCall log:\n\u001b[2m  - navigating to "https://h.test/login?nonce=9"\u001b[22m\nmore\nand more');
    const t = safeErrorText(e);
    expect(t).not.toContain('nonce');
    expect(t).not.toContain('\u001b');
    expect(t.split(' | ')).toHaveLength(3);
  });
});
