/** Each backend folder exports one BackendKind; the registry maps config to kinds through them. */
import { Value } from '@sinclair/typebox/value';
import { afterAll, describe, expect, it } from 'vitest';
import { lingmaKind } from '../../src-main/core/backends/lingma/kind';
import { openaiKind } from '../../src-main/core/backends/openai/kind';
import { createProviders, hopOptionKinds, KINDS } from '../../src-main/core/backends/registry';
import type { BackendKind } from '../../src-main/core/backends/types';
import { HopOptionsSchema } from '../../src-main/core/config/schema';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { MemorySecrets } from '../lingma/helpers';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(cleanupTempDirs);

const config = validateConfig({
  providers: [
    { name: 'ollama', type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' },
    { name: 'router', type: 'openai', baseUrl: 'http://127.0.0.1:9/api/v1' },
  ],
});
const log = createLogger({ level: 'silent' });

describe('backend kinds', () => {
  it('the registry lists one kind per backend folder', () => {
    expect(KINDS.map((k) => k.name)).toEqual(['lingma', 'openai']);
    expect(KINDS).toContain(lingmaKind);
    expect(KINDS).toContain(openaiKind);
  });

  it.each([lingmaKind, openaiKind] as BackendKind[])('$name: its options schema extends the shared hop options and refuses unknown keys', (kind) => {
    const own = Object.keys(kind.optionsSchema.properties);
    expect(own.slice(0, 2)).toEqual(Object.keys(HopOptionsSchema.properties));
    expect(Value.Check(kind.optionsSchema, { firstByteTimeoutMs: 1000, toolEmulation: true })).toBe(true);
    expect(Value.Check(kind.optionsSchema, { firstByteTimeotMs: 1000 })).toBe(false);
    expect(Value.Check(kind.optionsSchema, { toolEmulation: 'yes' })).toBe(false);
  });

  it('each kind takes its own options only', () => {
    expect(Value.Check(lingmaKind.optionsSchema, { lingmaMode: 'agent', lingmaModel: 'Qwen3-Coder' })).toBe(true);
    expect(Value.Check(lingmaKind.optionsSchema, { lingmaMode: 'agnet' })).toBe(false);
    expect(Value.Check(lingmaKind.optionsSchema, { sendTopK: true })).toBe(false);
    expect(Value.Check(openaiKind.optionsSchema, { sendTopK: true, openaiExtraBody: { num_ctx: 8192 } })).toBe(true);
    expect(Value.Check(openaiKind.optionsSchema, { lingmaMode: 'agent' })).toBe(false);
  });

  it('config schemas: each kind accepts its own config entry', () => {
    expect(Value.Check(openaiKind.configSchema, config.providers[0])).toBe(true);
    expect(Value.Check(openaiKind.configSchema, { ...config.providers[0], type: 'anthropic' })).toBe(false);
    expect(Value.Check(lingmaKind.configSchema, config.lingma)).toBe(true);
    expect(Value.Check(lingmaKind.configSchema, { ...config.lingma, protocol: 'carrier-pigeon' })).toBe(false);
    expect(openaiKind.entries(config).map((e) => e.provider)).toEqual(['ollama', 'router']);
    expect(lingmaKind.entries(config)).toEqual([{ provider: 'lingma', entry: config.lingma }]);
  });

  it('createProviders builds one provider per wanted entry, of its kind', () => {
    const dataDir = tempDir();
    const base = { config, dataDir, secrets: new MemorySecrets(), log, env: {} };
    const without = createProviders({ ...base, lingma: 'never' });
    expect(without.map((p) => [p.name, p.kind])).toEqual([['ollama', 'openai'], ['router', 'openai']]);
    const withLingma = createProviders({ ...base, lingma: 'always' });
    expect(withLingma.map((p) => [p.name, p.kind])).toEqual([['lingma', 'lingma'], ['ollama', 'openai'], ['router', 'openai']]);
  });

  it("hop options are checked against the schema of the provider's kind", () => {
    const kinds = hopOptionKinds(config);
    expect(kinds.forProvider('ollama')).toEqual({ kind: 'openai', schema: openaiKind.optionsSchema });
    expect(kinds.forProvider('router')?.schema).toBe(openaiKind.optionsSchema);
    // Lingma's provider name is known whether or not the pool runs.
    expect(kinds.forProvider('lingma')?.schema).toBe(lingmaKind.optionsSchema);
    expect(kinds.forProvider('nope')).toBeUndefined();
    expect(kinds.all().map((k) => k.kind)).toEqual(['lingma', 'openai']);
  });
});
