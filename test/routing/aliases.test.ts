import { describe, expect, it } from 'vitest';
import { AliasError, createResolver, parseAliases } from '../../src-main/core/routing/aliases';
import { RelayError } from '../../src-main/core/errors';
import { fakeProvider } from '../dispatch/fakes';

const lingma = fakeProvider('lingma', { models: [{ id: 'dashscope_qwen3_coder', displayName: 'Qwen3-Coder' }, 'dashscope_qwen_max'] });
const ollama = fakeProvider('ollama', { models: ['qwen2.5-coder', 'llama3', 'shared-model'] });
const other = fakeProvider('other', { models: ['shared-model', 'meta/llama-4'] });
const providers = () => [lingma, ollama, other];

function catchErr(fn: () => unknown): RelayError {
  try {
    fn();
  } catch (e) {
    return e as RelayError;
  }
  throw new Error('expected a throw');
}

describe('parseAliases', () => {
  it('accepts shorthand, objects, patterns and nested aliases', () => {
    const p = parseAliases({
      default: 'coder',
      coder: { description: 'main', chain: ['lingma/dashscope_qwen3_coder', { target: 'ollama/qwen2.5-coder', firstByteTimeoutMs: 500 }] },
      'claude-*': { chain: ['coder'], options: { toolEmulation: true } },
    });
    expect(p.defs.size).toBe(3);
    expect(p.patterns.map((d) => d.name)).toEqual(['claude-*']);
    expect(p.expanded.get('claude-*')).toEqual([
      { ref: 'lingma/dashscope_qwen3_coder', options: { toolEmulation: true } },
      { ref: 'ollama/qwen2.5-coder', firstByteTimeoutMs: 500, options: { toolEmulation: true } },
    ]);
    expect(p.expanded.get('default')!.map((l) => l.ref)).toEqual(['lingma/dashscope_qwen3_coder', 'ollama/qwen2.5-coder']);
  });

  it('rejects a cycle and names it', () => {
    expect(() => parseAliases({ a: 'b', b: { chain: ['c'] }, c: 'a' })).toThrow(/cycle a -> b -> c -> a/);
    expect(() => parseAliases({ me: 'me' })).toThrow(/cycle me -> me/);
  });

  it('names the alias and the problem for bad shapes', () => {
    expect(() => parseAliases({ coder: { chian: ['x'] } })).toThrow(/alias 'coder': unknown key 'chian'/);
    expect(() => parseAliases({ coder: { chain: [] } })).toThrow(/alias 'coder': chain must be a non-empty list/);
    expect(() => parseAliases({ coder: { chain: [{ target: 'a/b', firstByteTimeoutMs: 5 }] } })).toThrow(/alias 'coder': chain\[0\]\.firstByteTimeoutMs must be an integer of at least 100/);
    expect(() => parseAliases({ coder: { chain: [42] } })).toThrow(/alias 'coder': chain\[0\] must be a model name/);
    expect(() => parseAliases({ coder: { chain: ['x'], options: 'no' } })).toThrow(/alias 'coder': options must be a mapping/);
    expect(() => parseAliases(['x'])).toThrow(AliasError);
    expect(() => parseAliases({ 'bad name': 'x' })).toThrow(/no spaces/);
  });
});

describe('resolver', () => {
  const aliases = {
    coder: { description: 'coding', chain: ['lingma/dashscope_qwen3_coder', 'ollama/qwen2.5-coder'], options: { lingmaMode: 'agent' } },
    'claude-*': { chain: ['coder'] },
    'claude-3-*': 'ollama/llama3',
    'gpt-*': 'lingma/dashscope_qwen_max',
    'gpt-4o': 'ollama/llama3',
    fast: { chain: [{ target: 'coder', firstByteTimeoutMs: 1000, options: { lingmaMode: 'chat' } }] },
  };
  const r = createResolver({ providers, aliases });

  it('exact alias beats pattern; longer pattern beats shorter', () => {
    expect(r.resolve('gpt-4o').targets.map((t) => t.label)).toEqual(['ollama/llama3']);
    expect(r.resolve('gpt-4.1-mini').targets.map((t) => t.label)).toEqual(['lingma/dashscope_qwen_max']);
    expect(r.resolve('gpt-4.1-mini').alias).toBe('gpt-*');
    expect(r.resolve('claude-3-opus').targets.map((t) => t.label)).toEqual(['ollama/llama3']);
    const sonnet = r.resolve('claude-sonnet-4-5');
    expect(sonnet.alias).toBe('claude-*');
    expect(sonnet.targets.map((t) => t.label)).toEqual(['lingma/dashscope_qwen3_coder', 'ollama/qwen2.5-coder']);
    expect(sonnet.targets[0].options).toEqual({ lingmaMode: 'agent' });
  });

  it('patterns and alias names are case-insensitive', () => {
    expect(r.resolve('Claude-Sonnet').alias).toBe('claude-*');
    expect(r.resolve('CODER').alias).toBe('coder');
  });

  it('outer hop options and timeouts override the inner alias', () => {
    const t = r.resolve('fast').targets;
    expect(t.map((x) => x.firstByteTimeoutMs)).toEqual([1000, 1000]);
    expect(t[0].options).toEqual({ lingmaMode: 'chat' });
  });

  it('resolves provider/model, display names and bare names', () => {
    expect(r.resolve('lingma/Qwen3-Coder').targets[0]).toMatchObject({ provider: 'lingma', model: 'dashscope_qwen3_coder', label: 'lingma/dashscope_qwen3_coder' });
    expect(r.resolve('qwen3-coder').targets[0].label).toBe('lingma/dashscope_qwen3_coder');
    expect(r.resolve('LLAMA3').targets[0].label).toBe('ollama/llama3');
    expect(r.resolve('meta/llama-4').targets[0].label).toBe('other/meta/llama-4');
    expect(r.resolve('other/meta/llama-4').targets[0].label).toBe('other/meta/llama-4');
  });

  it('a provider that lists no models yet accepts any id', () => {
    const empty = fakeProvider('lingma', { models: [] });
    const r2 = createResolver({ providers: () => [empty], aliases: undefined });
    expect(r2.resolve('lingma/anything').targets[0].label).toBe('lingma/anything');
  });

  it('ambiguous bare names are a 400 naming the candidates', () => {
    const e = catchErr(() => r.resolve('shared-model'));
    expect(e.status).toBe(400);
    expect(e.message).toContain('ollama/shared-model');
    expect(e.message).toContain('other/shared-model');
  });

  it('unknown names are a 404 with suggestions when no default is configured', () => {
    const e = catchErr(() => r.resolve('qwen-nothing'));
    expect(e.status).toBe(404);
    expect(e.code).toBe('model_not_found');
    expect(e.message).toMatch(/Try one of: /);
    const e2 = catchErr(() => r.resolve('ollama/missing'));
    expect(e2.status).toBe(404);
  });

  it('the default alias serves names that match nothing, only when configured', () => {
    const r2 = createResolver({ providers, aliases: { ...aliases, default: 'coder' } });
    const res = r2.resolve('some-random-model');
    expect(res.alias).toBe('default');
    expect(res.requested).toBe('some-random-model');
    expect(res.targets.map((t) => t.label)).toEqual(['lingma/dashscope_qwen3_coder', 'ollama/qwen2.5-coder']);
    // Explicit provider/model of a known provider is not swallowed by the default.
    expect(catchErr(() => r2.resolve('ollama/missing')).status).toBe(404);
  });

  it('skips unroutable chain entries and fails clearly when none is left', () => {
    const r2 = createResolver({ providers, aliases: { a: { chain: ['nope/x', 'ollama/llama3'] }, b: { chain: ['nope/x', 'ollama/zzz'] } } });
    expect(r2.resolve('a').targets.map((t) => t.label)).toEqual(['ollama/llama3']);
    const e = catchErr(() => r2.resolve('b'));
    expect(e.status).toBe(404);
    expect(e.message).toContain("alias 'b'");
    expect(e.message).toContain("provider 'ollama' has no model 'zzz'");
  });

  it('lists aliases with chain as written and expanded', () => {
    const info = r.aliases().find((a) => a.name === 'claude-*')!;
    expect(info).toEqual({ name: 'claude-*', chain: ['coder'], expanded: ['lingma/dashscope_qwen3_coder', 'ollama/qwen2.5-coder'], pattern: true });
    expect(r.aliases().find((a) => a.name === 'coder')!.description).toBe('coding');
  });

  it('rejects an empty model', () => {
    expect(catchErr(() => r.resolve('')).status).toBe(400);
  });
});
