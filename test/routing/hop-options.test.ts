/**
 * Alias hop options are checked against the options schema of the kind each hop targets, at every
 * load: the config's aliases (relay start), an aliases file reload, an admin save.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hopOptionKinds } from '../../src-main/core/backends/registry';
import { loadConfig } from '../../src-main/core/config/load';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createCore, type Relay } from '../../src-main/core/relay';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { AliasError, createResolver, parseAliases } from '../../src-main/core/routing/aliases';
import { createAliasSource, type AliasSource } from '../../src-main/core/routing/reload';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { fakeProvider } from '../dispatch/fakes';

const config = validateConfig({ providers: [{ name: 'ollama', type: 'openai', baseUrl: 'http://127.0.0.1:9/v1' }] });
const kinds = hopOptionKinds(config);
const OPENAI_KNOWN = 'known: firstByteTimeoutMs, toolEmulation, openaiExtraBody, sendTopK';
const LINGMA_KNOWN = 'known: firstByteTimeoutMs, toolEmulation, lingmaMode, lingmaModel';

function problem(raw: unknown): string {
  try {
    parseAliases(raw, kinds);
  } catch (e) {
    expect(e).toBeInstanceOf(AliasError);
    return (e as Error).message;
  }
  throw new Error('aliases were accepted');
}

describe('hop options against the target kind', () => {
  it('a typo in a hop option is refused, naming the key, the provider, its kind and the known keys', () => {
    const msg = problem({ coder: { chain: ['lingma/qwen3-coder', { target: 'ollama/qwen', options: { firstByteTimeotMs: 5000 } }] } });
    expect(msg).toBe(`aliases.coder.chain[1].options.firstByteTimeotMs: unknown option for provider 'ollama' (openai kind); ${OPENAI_KNOWN}`);
    expect(problem({ coder: { chain: [{ target: 'lingma/qwen3-coder', options: { lingmaMood: 'agent' } }] } })).toBe(
      `aliases.coder.chain[0].options.lingmaMood: unknown option for provider 'lingma' (lingma kind); ${LINGMA_KNOWN}`,
    );
  });

  it("another kind's option on a hop is refused", () => {
    expect(problem({ coder: { chain: [{ target: 'ollama/qwen', options: { lingmaMode: 'agent' } }] } })).toMatch(
      /^aliases\.coder\.chain\[0\]\.options\.lingmaMode: unknown option for provider 'ollama' \(openai kind\)/,
    );
  });

  it('a bad value is refused, naming the key and what it expects', () => {
    expect(problem({ coder: { chain: [{ target: 'ollama/qwen', options: { toolEmulation: 'yes' } }] } })).toBe(
      'aliases.coder.chain[0].options.toolEmulation: expected true or false, got "yes"',
    );
    expect(problem({ coder: { chain: [{ target: 'lingma/x', options: { lingmaMode: 'agnet' } }] } })).toMatch(
      /^aliases\.coder\.chain\[0\]\.options\.lingmaMode: expected one of "agent", "chat", got "agnet"$/,
    );
    expect(problem({ coder: { chain: [{ target: 'lingma/x', options: { firstByteTimeoutMs: 5 } }] } })).toMatch(
      /^aliases\.coder\.chain\[0\]\.options\.firstByteTimeoutMs: expected an integer >= 100, got 5$/,
    );
  });

  it('valid options of both kinds pass and reach the targets typed', () => {
    const parsed = parseAliases(
      {
        coder: {
          chain: [
            { target: 'lingma/qwen3-coder', options: { lingmaMode: 'agent', lingmaModel: 'Qwen3-Coder', toolEmulation: false } },
            { target: 'ollama/qwen', options: { toolEmulation: true, firstByteTimeoutMs: 4000, sendTopK: true, openaiExtraBody: { num_ctx: 8192 } } },
          ],
        },
      },
      kinds,
    );
    const src = { current: () => parsed, lastReload: () => undefined };
    const r = createResolver({ providers: () => [fakeProvider('lingma', { models: ['qwen3-coder'] }), fakeProvider('ollama', { models: ['qwen'] })], aliases: src });
    const [lingma, ollama] = r.resolve('coder').targets;
    expect(lingma.options).toEqual({ lingmaMode: 'agent', lingmaModel: 'Qwen3-Coder', toolEmulation: false });
    expect(lingma.firstByteTimeoutMs).toBeUndefined();
    // `firstByteTimeoutMs` among the options is the hop's first-byte timeout.
    expect(ollama.firstByteTimeoutMs).toBe(4000);
    expect(ollama.options?.toolEmulation).toBe(true);
  });

  it("alias-wide options and a hop naming another alias: a key one of the leaves' kinds knows passes", () => {
    const ok = { mixed: { chain: ['lingma/a', 'ollama/b'], options: { lingmaMode: 'agent', sendTopK: true } }, outer: { chain: [{ target: 'mixed', options: { lingmaModel: 'm' } }] } };
    expect(() => parseAliases(ok, kinds)).not.toThrow();
    expect(problem({ mixed: { chain: ['lingma/a', 'ollama/b'], options: { sendTopk: true } } })).toBe(
      "aliases.mixed.options.sendTopk: unknown option for the targets of alias 'mixed' (lingma, openai kinds); known: firstByteTimeoutMs, toolEmulation, lingmaMode, lingmaModel, openaiExtraBody, sendTopK",
    );
    expect(problem({ inner: 'ollama/b', outer: { chain: [{ target: 'inner', options: { lingmaModel: 'm' } }] } })).toMatch(
      /^aliases\.outer\.chain\[0\]\.options\.lingmaModel: unknown option for provider 'ollama' \(openai kind\)/,
    );
  });

  it('a bare model name may be served by any kind: a key of some kind passes, a key of none is refused', () => {
    expect(() => parseAliases({ fast: { chain: [{ target: 'qwen', options: { lingmaMode: 'chat' } }] } }, kinds)).not.toThrow();
    expect(problem({ fast: { chain: [{ target: 'qwen', options: { bogus: 1 } }] } })).toBe(
      "aliases.fast.chain[0].options.bogus: unknown option for 'qwen', which any kind may serve (lingma, openai kinds); known: firstByteTimeoutMs, toolEmulation, lingmaMode, lingmaModel, openaiExtraBody, sendTopK",
    );
  });

  it('every problem is reported, pattern names quoted', () => {
    const msg = problem({ 'claude-*': { chain: [{ target: 'ollama/a', options: { a: 1, toolEmulation: 2 } }] } });
    expect(msg).toContain('aliases["claude-*"].chain[0].options.a: unknown option');
    expect(msg).toContain('aliases["claude-*"].chain[0].options.toolEmulation: expected true or false, got 2');
  });
});

describe('checked at every load', () => {
  let src: AliasSource | undefined;
  let relay: Relay | undefined;
  afterEach(async () => {
    src?.close();
    src = undefined;
    await relay?.stop();
    relay = undefined;
    cleanupTempDirs();
  });

  const start = (cfg: ReturnType<typeof validateConfig>, dataDir = tempDir()) =>
    createCore({ config: cfg, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false, logger: createLogger({ level: 'silent' }) });

  it('config file: the relay refuses to start, naming the key', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      [
        'providers:',
        '  - { name: ollama, type: openai, baseUrl: "http://127.0.0.1:9/v1" }',
        'aliases:',
        '  coder:',
        '    chain:',
        '      - lingma/qwen3-coder',
        '      - { target: ollama/qwen, options: { firstByteTimeotMs: 5000 } }',
        '',
      ].join('\n'),
    );
    const loaded = loadConfig({ flags: { config: file, dataDir: join(dir, 'data') }, env: {} });
    await expect(start(loaded.config, loaded.dataDir)).rejects.toThrow(
      `aliases.coder.chain[1].options.firstByteTimeotMs: unknown option for provider 'ollama' (openai kind); ${OPENAI_KNOWN}`,
    );
    writeFileSync(file, readFileSync(file, 'utf8').replace('firstByteTimeotMs', 'firstByteTimeoutMs'));
    const fixed = loadConfig({ flags: { config: file, dataDir: join(dir, 'data') }, env: {} });
    relay = await start(fixed.config, fixed.dataDir);
    expect(relay.resolver.aliases().map((a) => a.name)).toEqual(['coder']);
  });

  it('aliases file reload: a typo is rejected naming the key, the old aliases stay', () => {
    const dir = tempDir();
    const file = join(dir, 'aliases.yaml');
    writeFileSync(file, 'coder: { chain: [{ target: ollama/a, options: { toolEmulation: true } }] }\n');
    src = createAliasSource({ file, watch: false, optionKinds: kinds });
    const r = createResolver({ providers: () => [fakeProvider('ollama', { models: ['a', 'b'] })], aliases: src });
    expect(r.resolve('coder').targets[0].options).toEqual({ toolEmulation: true });
    writeFileSync(file, 'coder: { chain: [{ target: ollama/b, options: { toolEmulaton: true } }] }\n');
    const out = src.reload();
    expect(out.ok).toBe(false);
    expect(out.error).toBe(`aliases.coder.chain[0].options.toolEmulaton: unknown option for provider 'ollama' (openai kind); ${OPENAI_KNOWN}`);
    expect(r.resolve('coder').targets[0].label).toBe('ollama/a');
    writeFileSync(file, 'coder: { chain: [{ target: ollama/b, options: { toolEmulation: false } }] }\n');
    expect(src.reload().ok).toBe(true);
    expect(r.resolve('coder').targets[0]).toMatchObject({ label: 'ollama/b', options: { toolEmulation: false } });
  });

  it('admin PUT /admin/aliases: 400 naming the key, nothing written; valid options are saved', async () => {
    const dataDir = tempDir();
    relay = await start(config, dataDir);
    const headers = { authorization: `Bearer ${relay.adminToken()}`, host: `127.0.0.1:${config.server.port}` };
    const before = readFileSync(join(dataDir, 'aliases.yaml'), 'utf8');
    const bad = await relay.app.inject({
      method: 'PUT', url: '/admin/aliases', headers,
      payload: { aliases: { coder: { chain: ['ollama/llama', { target: 'ollama/qwen', options: { firstByteTimeotMs: 5000 } }] } } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toContain(`aliases.coder.chain[1].options.firstByteTimeotMs: unknown option for provider 'ollama' (openai kind); ${OPENAI_KNOWN}`);
    expect(readFileSync(join(dataDir, 'aliases.yaml'), 'utf8')).toBe(before);
    const ok = await relay.app.inject({
      method: 'PUT', url: '/admin/aliases', headers,
      payload: { aliases: { coder: { chain: [{ target: 'ollama/qwen', options: { firstByteTimeoutMs: 5000, sendTopK: true } }] } } },
    });
    expect(ok.statusCode).toBe(200);
    expect(relay.resolver.aliases().map((a) => a.name)).toEqual(['coder']);
  });
});
