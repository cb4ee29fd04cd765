import { describe, expect, it } from 'vitest';
import { snippets } from '../../src-renderer/lib/snippets';
import { validateAccount, validateAlias, validateKeyName } from '../../src-renderer/lib/validate';
import { NAME_RULE } from '../../src-main/core/names';
import { wsUrl } from '../../src-renderer/api/socket';
import { filterLogs } from '../../src-renderer/screens/Logs';
import { toSeries, bucketsFor } from '../../src-renderer/screens/Usage';
import { applyDraft } from '../../src-renderer/screens/Aliases';

describe('setup snippets', () => {
  const list = snippets('http://127.0.0.1:8420/v1', 'sk-relay-abc', 'coder');
  const by = (id: string) => list.find((s) => s.id === id)!.code;
  it('cover every client with the real URL and key', () => {
    expect(list.map((s) => s.id)).toEqual(['openai-sdk', 'curl', 'claude-code', 'codex', 'cursor', 'continue', 'cline', 'qwen-code']);
    for (const s of list) expect(s.code).toContain('sk-relay-abc');
  });
  it('Claude Code gets the root URL (no /v1) and the auth token variable', () => {
    expect(by('claude-code')).toContain('ANTHROPIC_BASE_URL="http://127.0.0.1:8420"');
    expect(by('claude-code')).toContain('ANTHROPIC_AUTH_TOKEN="sk-relay-abc"');
  });
  it('Codex CLI uses a model_providers entry with the responses wire API', () => {
    expect(by('codex')).toContain('[model_providers.lingma-relay]');
    expect(by('codex')).toContain('base_url = "http://127.0.0.1:8420/v1"');
    expect(by('codex')).toContain('wire_api = "responses"');
  });
});

describe('form validation', () => {
  it('accounts: required fields, names, domains', () => {
    expect(validateAccount({ username: '', password: '' }, true)).toMatchObject({ username: expect.any(String), password: expect.any(String) });
    expect(validateAccount({ username: 'a b', password: 'x' }, true).username).toMatch(/spaces/);
    expect(validateAccount({ username: 'a', password: '', name: 'bad name' }, false)).toEqual({ name: expect.stringMatching(/letters/) });
    expect(validateAccount({ username: 'a', dedicatedDomain: 'nope' }, false).dedicatedDomain).toMatch(/full URL/);
    expect(validateAccount({ username: 'a', password: 'p', dedicatedDomain: 'https://x.example' }, true)).toEqual({});
    expect(validateAccount({ username: 'a', password: 'p', dedicatedDomain: 'http://x.example' }, true).dedicatedDomain).toBe('Must start with https://');
  });
  it('names follow the engine\'s one rule (core/names.ts): path tricks refused, naming the rule', () => {
    for (const name of ['..', '.', '.x', 'a/b', 'a\\b', '%2e%2e', 'x'.repeat(65)]) {
      expect(validateAccount({ username: 'a', name }, false).name, name).toBe(`Use ${NAME_RULE}.`);
      expect(validateKeyName(name), name).toBe(`Use ${NAME_RULE}.`);
    }
    for (const name of ['acct-1', 'a..b', 'x'.repeat(64)]) {
      expect(validateAccount({ username: 'a', name }, false), name).toEqual({});
      expect(validateKeyName(name), name).toBeUndefined();
    }
    for (const name of ['..', '.hidden', '/etc', 'a\\b']) expect(validateAlias({ name, description: '', chain: 'x/y' }, []).name, name).toMatch(/names must be/);
  });
  it('aliases: name, duplicates, self reference', () => {
    expect(validateAlias({ name: '', description: '', chain: '' }, [])).toMatchObject({ name: expect.any(String), chain: expect.any(String) });
    expect(validateAlias({ name: 'coder', description: '', chain: 'x/y' }, ['coder']).name).toMatch(/exists/);
    expect(validateAlias({ name: 'a', description: '', chain: 'a' }, []).chain).toMatch(/itself/);
    expect(validateAlias({ name: 'claude-*', description: '', chain: 'coder\nlingma/x' }, [])).toEqual({});
  });
  it('alias drafts keep per-target options and rename cleanly', () => {
    const raw = { old: { description: 'd', chain: [{ target: 'lingma/a', firstByteTimeoutMs: 500 }, 'lingma/b'] }, other: 'lingma/c' };
    const next = applyDraft(raw, 'old', { name: 'new', description: '', chain: 'lingma/a\nlingma/z' });
    expect(next).toEqual({ other: 'lingma/c', new: { chain: [{ target: 'lingma/a', firstByteTimeoutMs: 500 }, 'lingma/z'] } });
  });
});

describe('live socket helpers', () => {
  it('derives the ws URL', () => {
    expect(wsUrl('http://127.0.0.1:8420')).toBe('ws://127.0.0.1:8420/admin/events');
  });
});

describe('log filter', () => {
  const lines = [
    { time: 1, level: 'debug' as const, msg: 'noise' },
    { time: 2, level: 'info' as const, msg: 'request', requestId: 'req-1', fields: { url: '/v1/chat/completions' } },
    { time: 3, level: 'info' as const, msg: 'request', requestId: 'req-2', fields: { url: '/admin/state' } },
    { time: 4, level: 'warn' as const, msg: 'backend switch', instance: 'alice', requestId: 'req-1' },
  ];
  it('filters by level, instance, request id and text, hiding dashboard calls unless asked', () => {
    expect(filterLogs(lines, { level: 'info', instance: '', requestId: '', text: '' }).map((l) => l.time)).toEqual([2, 4]);
    expect(filterLogs(lines, { level: 'info', instance: '', requestId: '', text: '', admin: true }).map((l) => l.time)).toEqual([2, 3, 4]);
    expect(filterLogs(lines, { level: 'trace', instance: 'alice', requestId: '', text: '' }).map((l) => l.time)).toEqual([4]);
    expect(filterLogs(lines, { level: 'trace', instance: '', requestId: 'req-1', text: '' }).map((l) => l.time)).toEqual([2, 4]);
    expect(filterLogs(lines, { level: 'trace', instance: '', requestId: '', text: 'SWITCH' }).map((l) => l.time)).toEqual([4]);
  });
});

describe('usage series', () => {
  it('buckets a range and ranks series keys, folding the tail into "other"', () => {
    const H = 3_600_000;
    expect(bucketsFor(0, 3 * H, 'hour')).toEqual([0, H, 2 * H]);
    // Local days (UTC+5:30): bucket starts sit at local midnight, i.e. 18:30 UTC the day before.
    const D = 24 * H;
    const off = 330;
    expect(bucketsFor(D, 2 * D, 'day', off)).toEqual([D - off * 60_000, 2 * D - off * 60_000]);
    const agg = { errors: 0, promptTokens: 1, completionTokens: 2, reasoningTokens: 0, cachedTokens: 0, costUsd: null, avgTotalMs: null };
    const points = ['a', 'b', 'c'].flatMap((k, i) => [{ t: 0, key: k, requests: 10 - i, ...agg }]);
    const { series, keys } = toSeries({ from: 0, to: H, bucket: 'hour', group: 'model', tzOffsetMinutes: 0, points }, 'requests', 2);
    expect(keys).toEqual(['a', 'b', 'other']);
    expect(series[2].points).toEqual([{ t: 0, v: 8 }]);
    expect(toSeries({ from: 0, to: H, bucket: 'hour', group: 'model', tzOffsetMinutes: 0, points }, 'tokens').series[0].points[0].v).toBe(3);
  });
});
