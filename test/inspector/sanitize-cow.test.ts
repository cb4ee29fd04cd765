/**
 * The capture's sanitizer copies on write: clean plain values are kept as they are (no copies on
 * the request path), anything that needs a change is rebuilt and the original is never touched.
 */
import { describe, expect, it } from 'vitest';
import { sanitize, TRUNCATED } from '../../src-main/core/inspector/capture';

const cut = () => ({ truncated: false, chars: 0 });
const SECRET = 'provider-key-0123456789';

describe('inspector sanitize (copy on write)', () => {
  it('returns a clean body as it is', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hello' }], stream: true, n: 1, x: null };
    expect(sanitize(body, [SECRET], 1000, cut())).toBe(body);
  });

  it('rebuilds only what holds a secret, deep in arrays and objects, and leaves the original alone', () => {
    const clean = { role: 'system', content: 'be brief' };
    const body = { model: 'm', messages: [clean, { role: 'user', content: `my key is ${SECRET}` }], api_key: 'abc', extra: undefined };
    const before = JSON.stringify(body);
    const out = sanitize(body, [SECRET], 1000, cut()) as typeof body;
    expect(JSON.stringify(body)).toBe(before);
    expect(out).not.toBe(body);
    expect(out.messages[1].content).toBe('my key is [redacted]');
    expect(out.api_key).toBe('[redacted]');
    expect('extra' in out).toBe(false);
    expect(out.messages[0]).toBe(clean);
    expect(JSON.stringify(out)).not.toContain(SECRET);
  });

  it('drops undefined and function fields as before, and turns non-plain objects into plain ones', () => {
    class Thing {
      a = 1;
    }
    const v = { a: 1, b: undefined, f: () => 1, t: new Thing(), big: 10n };
    const out = sanitize(v, [], 1000, cut()) as Record<string, unknown>;
    expect(Object.keys(out)).toEqual(['a', 't', 'big']);
    expect(Object.getPrototypeOf(out.t)).toBe(Object.prototype);
    expect(out.t).toEqual({ a: 1 });
    expect(out.big).toBe('10');
  });

  it('cuts long strings inside an otherwise clean array', () => {
    const arr = ['short', 'x'.repeat(50)];
    const c = cut();
    const out = sanitize(arr, [], 10, c) as string[];
    expect(out).not.toBe(arr);
    expect(out[0]).toBe('short');
    expect(out[1]).toBe(`xxxxxxxxxx${TRUNCATED}`);
    expect(c.truncated).toBe(true);
  });
});
