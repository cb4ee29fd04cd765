/** `/v1/models` metadata: from provider `/models` answers, the config, the Lingma model list and its context usage; aliases inherit. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { parseModels } from '../../src-main/core/backends/lingma/models';
import { modelFromConfig, modelFromUpstream } from '../../src-main/core/backends/openai/models';
import type { ModelInfo, Provider } from '../../src-main/core/backends/types';
import { validateConfig } from '../../src-main/core/config/validate';
import { listModels } from '../../src-main/core/frontends/openai/models';
import { createResolver } from '../../src-main/core/routing/aliases';
import { createAliasSource } from '../../src-main/core/routing/reload';

function provider(name: string, models: ModelInfo[], caps = { tools: true, images: true, embeddings: true }): Provider {
  return {
    name, kind: 'openai', capabilities: caps, events: new EventEmitter(), instances: () => [], models: () => models,
    resolveModel: (n) => models.find((m) => m.id.toLowerCase() === n.toLowerCase())?.id, start: async () => undefined, stop: async () => undefined,
  } as Provider;
}

describe('model metadata', () => {
  it('reads what provider /models answers carry (OpenRouter, vLLM, LM Studio shapes)', () => {
    expect(modelFromUpstream({ id: 'openai/gpt-4o', context_length: 128000, top_provider: { max_completion_tokens: 16384 }, architecture: { input_modalities: ['text', 'image'] }, supported_parameters: ['tools', 'temperature'] }))
      .toEqual({ id: 'openai/gpt-4o', contextLength: 128000, maxOutputTokens: 16384, vision: true, tools: true, reasoning: false });
    expect(modelFromUpstream({ id: 'qwen', object: 'model', max_model_len: 32768 })).toEqual({ id: 'qwen', contextLength: 32768 });
    expect(modelFromUpstream({ id: 'local', max_context_length: 8192 })).toEqual({ id: 'local', contextLength: 8192 });
    expect(modelFromUpstream({ id: 'plain' })).toEqual({ id: 'plain' });
    expect(modelFromUpstream({ id: 'text-embedding-3' })).toEqual({ id: 'text-embedding-3', embedding: true });
    expect(modelFromUpstream({ id: 'bad', context_length: -5 })).toEqual({ id: 'bad' });
    expect(modelFromUpstream({})).toBeUndefined();
  });

  it('takes config model objects, and names a bad field', () => {
    expect(modelFromConfig({ id: 'm', contextLength: 1000, vision: false })).toEqual({ id: 'm', contextLength: 1000, vision: false });
    expect(modelFromConfig('m2')).toEqual({ id: 'm2' });
    const ok = validateConfig({ providers: [{ name: 'p', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1', models: ['a', { id: 'b', contextLength: 4096, tools: false }] }] });
    expect(ok.providers[0].models).toHaveLength(2);
    expect(() => validateConfig({ providers: [{ name: 'p', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1', models: [{ id: 'b', contextLenght: 4096 }] }] })).toThrow(/providers/);
  });

  it('reads isVl and isReasoning from the Lingma model list', () => {
    const [m] = parseModels({ chat: [{ key: 'qwq', displayName: 'QwQ', isReasoning: true, isVl: false }] });
    expect(m).toMatchObject({ id: 'qwq', reasoning: true, vision: false });
  });

  it('lists context_length, max_output_tokens and capabilities; an alias inherits from its first target', () => {
    const up = provider('up', [{ id: 'big', contextLength: 200000, maxOutputTokens: 8192, vision: true, reasoning: false }, { id: 'emb', embedding: true }]);
    const plain = provider('plain', [{ id: 'small' }], { tools: false, images: false, embeddings: false });
    const aliases = createAliasSource({ inline: { smart: { chain: ['up/big', 'plain/small'] }, weak: { chain: [{ target: 'plain/small', options: { toolEmulation: true } }] } }, watch: false });
    const resolver = createResolver({ providers: () => [up, plain], aliases });
    const list = listModels([up, plain], resolver);
    const byId = Object.fromEntries(list.map((e) => [e.id, e]));
    expect(byId['up/big']).toMatchObject({ context_length: 200000, max_output_tokens: 8192, capabilities: { vision: true, tools: 'native', reasoning: false } });
    expect(byId['up/emb'].capabilities).toBeUndefined();
    expect(byId['plain/small']).toMatchObject({ capabilities: { tools: false, vision: false } });
    expect(byId['plain/small'].context_length).toBeUndefined();
    expect(byId.smart).toMatchObject({ owned_by: 'relay-alias', context_length: 200000, max_output_tokens: 8192, capabilities: { vision: true, tools: 'native' } });
    expect(byId.weak).toMatchObject({ capabilities: { tools: 'emulated' } });
    aliases.close();
  });
});
