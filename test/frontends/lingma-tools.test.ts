/**
 * Tools through the Lingma backend (no native tools, no images), end to end: createCore with the
 * Lingma pool over the simulator, the Anthropic SDK and the openai SDK (Responses) in front.
 * - An alias with `toolEmulation: true`: tools described in the prompt, calls parsed back from the
 *   simulator's text, results rendered as text on the next turn.
 * - Without emulation: a clear 400 naming the reason; images: a clear 400.
 */
import Anthropic from '@anthropic-ai/sdk';
import { rmSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LingmaProvider } from '../../src-main/core/backends/lingma';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { MemorySecrets, SIM_BIN, silentLog, sim, simSpawner, tmpDir, waitFor } from '../lingma/helpers';

const KEY = 'sk-relay-lingma-tools-0001';
const MODEL = 'lingma/dashscope_qwen3_coder';

let relay: Relay;
let dataDir: string;
let lingma: LingmaProvider;
let anthropic: Anthropic;
let openai: OpenAI;

const control = async (body: Record<string, unknown>) => {
  for (const i of lingma.lingmaInstances()) await sim(i, body);
};
const lastAsk = async () => {
  const stats = await sim(lingma.lingmaInstances()[0]);
  return stats.asks.at(-1)!;
};

beforeAll(async () => {
  dataDir = tmpDir('lingma-tools-');
  const config = validateConfig({
    server: { apiKeys: [KEY], adminToken: 'admin-token-lingma-tools-0001' },
    lingma: { binary: SIM_BIN, accounts: [{ username: 'solo', name: 'solo' }], answerIdleTimeoutMs: 5000 },
    ledger: { enabled: false },
    aliases: {
      'claude-*': { chain: [{ target: MODEL, options: { toolEmulation: true } }] },
      'gpt-*': { chain: [{ target: MODEL, options: { toolEmulation: true } }] },
      bare: { chain: [MODEL] },
    },
  });
  relay = await createCore({
    config,
    dataDir,
    secrets: new MemorySecrets(),
    spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'tools-user' }),
    logger: silentLog(),
    processMetrics: false,
    env: { ...process.env, LINGMA_BIN: '', LINGMA_SIM_LOGGED_IN_AS: 'tools-user' },
  });
  await relay.start();
  const url = await relay.listen({ host: '127.0.0.1', port: 0 });
  lingma = relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
  await lingma.whenStarted();
  await waitFor(() => lingma.lingmaInstances().every((i) => i.state() === 'ready' && i.loginState().state === 'logged_in'), 'pool ready', 30_000);
  anthropic = new Anthropic({ apiKey: KEY, baseURL: url, maxRetries: 0 });
  openai = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  await relay?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

const tools: Anthropic.Tool[] = [{ name: 'read_file', description: 'Read a file', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } }];

describe('tools through the Lingma backend', () => {
  it('emulates a tool_use round trip for Claude-style clients', async () => {
    await control({ reset: true, reply: { mode: 'fixed', text: 'Let me read it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "README.md"}}\n</tool_call>', deltas: 5 } });
    const first = await anthropic.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 500, tools, messages: [{ role: 'user', content: 'What is in README.md?' }] }).finalMessage();
    expect(first.model).toBe(MODEL);
    expect(first.stop_reason).toBe('tool_use');
    expect(first.content[0]).toEqual({ type: 'text', text: 'Let me read it.' });
    const use = first.content[1] as Anthropic.ToolUseBlock;
    expect(use).toMatchObject({ type: 'tool_use', name: 'read_file', input: { path: 'README.md' } });
    const ask1 = await lastAsk();
    expect(ask1.text).toContain('<tool_call>');
    expect(ask1.text).toContain('read_file');

    await control({ reply: { mode: 'fixed', text: 'The README says hello.', deltas: 2 } });
    const second = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 500,
      tools,
      messages: [
        { role: 'user', content: 'What is in README.md?' },
        { role: 'assistant', content: first.content as Anthropic.ContentBlockParam[] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '# Hello' }] },
      ],
    });
    expect(second.content).toEqual([{ type: 'text', text: 'The README says hello.' }]);
    expect(second.stop_reason).toBe('end_turn');
    const ask2 = await lastAsk();
    expect(ask2.text).toContain('# Hello');
  });

  it('answers malformed emulated calls as plain text', async () => {
    await control({ reply: { mode: 'fixed', text: 'Maybe <tool_call>{"name": "read_file", "arguments": </tool_call> later.', deltas: 3 } });
    const msg = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 100, tools, messages: [{ role: 'user', content: 'x' }] });
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.content).toHaveLength(1);
    expect((msg.content[0] as Anthropic.TextBlock).text).toContain('<tool_call>');
  });

  it('emulates function calls for Responses clients', async () => {
    await control({ reply: { mode: 'fixed', text: '<tool_call>{"name":"shell","arguments":{"cmd":"ls"}}</tool_call>', deltas: 4 } });
    const r = await openai.responses.create({ model: 'gpt-5', input: 'list files', tools: [{ type: 'function', name: 'shell', parameters: { type: 'object', properties: { cmd: { type: 'string' } } }, strict: false }] });
    expect(r.output).toHaveLength(1);
    expect(r.output[0]).toMatchObject({ type: 'function_call', name: 'shell', arguments: '{"cmd":"ls"}' });
  });

  it('refuses tools without emulation, and images, with clear 400s', async () => {
    await expect(anthropic.messages.create({ model: 'bare', max_tokens: 10, tools, messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 400,
      error: { type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/tool/i) } },
    });
    await expect(
      anthropic.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 10,
        messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }] }],
      }),
    ).rejects.toMatchObject({ status: 400, error: { error: { message: expect.stringMatching(/image/i) } } });
  });
});
