import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { redactLogObject } from '../../src-main/core/gateway/log-redact';
import { createLogger, REDACT_PATHS } from '../../src-main/core/gateway/logging';

/** The lines a logger writes, parsed, without `time`. */
function sink(): { lines: Record<string, unknown>[]; write(s: string): void } {
  const lines: Record<string, unknown>[] = [];
  return {
    lines,
    write(s: string) {
      const o = JSON.parse(s) as Record<string, unknown>;
      delete o.time;
      lines.push(o);
    },
  };
}

const CASES: Record<string, unknown>[] = [
  { method: 'POST', url: '/v1/chat/completions', status: 200, ms: 1.2, model: 'm' },
  { authorization: 'Bearer sk-top', password: 'p', apiKey: 'k', token: 't', adminToken: 'a', metricsToken: 'mt', other: 'kept' },
  { password: { nested: 'object censored whole' }, token: 42 },
  { provider: { name: 'x', apiKey: 'sk-1', password: 'p1', token: 't1', adminToken: 'a1', metricsToken: 'm1', keep: 1 } },
  { outer: { inner: { password: 'p2', apiKey: 'k2', token: 't2', adminToken: 'kept at depth 2', keep: true } } },
  { list: [{ apiKey: 'sk-in-array', keep: 'x' }, 'plain'] },
  { headers: { authorization: 'Bearer h', 'x-api-key': 'k', 'x-admin-token': 'a', cookie: 'kept here', accept: '*/*' } },
  { req: { method: 'GET', headers: { authorization: 'Bearer r', 'x-api-key': 'k', 'x-admin-token': 'a', cookie: 'c=1', accept: '*/*' } } },
  { deep: { a: { b: { password: 'depth 3 is beyond the paths' } } } },
];

describe('log redaction', () => {
  it('masks what pino redact with REDACT_PATHS masked, line by line and in child bindings', () => {
    const ref = sink();
    const refLogger = pino({ level: 'info', base: undefined, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, ref);
    const ours = sink();
    const logger = createLogger({ level: 'info', destination: ours });
    for (const c of CASES) {
      refLogger.info(c, 'line');
      logger.info(c, 'line');
      refLogger.child(c).info('child');
      logger.child(c).info('child');
      refLogger.child({ reqId: 'r1' }).child(c).info('grandchild');
      logger.child({ reqId: 'r1' }).child(c).info('grandchild');
    }
    expect(ours.lines).toHaveLength(CASES.length * 3);
    expect(ours.lines).toEqual(ref.lines);
    const text = JSON.stringify(ours.lines);
    for (const secret of ['sk-top', 'sk-1', 'sk-in-array', 'Bearer h', 'Bearer r', 'c=1', 'p1', 't2']) expect(text).not.toContain(secret);
    expect(text).toContain('depth 3 is beyond the paths');
  });

  it('returns a line without credentials as it is, and never changes the caller’s object', () => {
    const clean = { method: 'POST', url: '/v1/x', status: 200, nested: { a: 1, b: { c: 'd' } } };
    expect(redactLogObject(clean)).toBe(clean);
    const dirty = { provider: { apiKey: 'sk-x', name: 'n' }, keep: 1 };
    const out = redactLogObject(dirty);
    expect(out).not.toBe(dirty);
    expect(out).toEqual({ provider: { apiKey: '[redacted]', name: 'n' }, keep: 1 });
    expect(dirty.provider.apiKey).toBe('sk-x');
  });

  it('keeps an error an error (message, stack, prototype) when one of its fields is masked', () => {
    const err = Object.assign(new Error('boom'), { token: 'tok-secret' });
    const out = redactLogObject({ err });
    expect(out.err).toBeInstanceOf(Error);
    expect(out.err.message).toBe('boom');
    expect(out.err.stack).toBe(err.stack);
    expect((out.err as unknown as { token: string }).token).toBe('[redacted]');
    expect(err.token).toBe('tok-secret');
  });
});
