/**
 * End to end: createCore with the Lingma pool over the simulator, the OpenAI SDK against
 * /v1/chat/completions.
 */
import { rmSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import type { LingmaProvider } from '../../src-main/core/backends/lingma';
import { estimatePromptTokens, estimateTokens } from '../../src-main/core/chat/tokens';
import { MemorySecrets, SIM_BIN, silentLog, sim, simSpawner, tmpDir, waitFor } from './helpers';

const KEY = 'sk-relay-e2e-lingma-0001';

describe('Lingma pool through the OpenAI endpoint', () => {
  let relay: Relay;
  let dataDir: string;
  let client: OpenAI;
  let lingma: LingmaProvider;

  beforeAll(async () => {
    dataDir = tmpDir('lingma-e2e-');
    const config = validateConfig({
      server: { apiKeys: [KEY], adminToken: 'admin-token-lingma-e2e-0001' },
      lingma: { binary: SIM_BIN, accounts: [{ username: 'east', name: 'east' }, { username: 'west', name: 'west' }], answerIdleTimeoutMs: 5000 },
      ledger: { enabled: false },
      limits: { maxSwitches: 2 },
    });
    relay = await createCore({
      config,
      dataDir,
      secrets: new MemorySecrets(),
      spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'e2e-user' }),
      logger: silentLog(),
      processMetrics: false,
      env: { ...process.env, LINGMA_BIN: '', LINGMA_SIM_LOGGED_IN_AS: 'e2e-user' },
    });
    await relay.start();
    const url = await relay.listen({ host: '127.0.0.1', port: 0 });
    lingma = relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
    await lingma.whenStarted();
    await waitFor(() => lingma.lingmaInstances().every((i) => i.state() === 'ready' && i.loginState().state === 'logged_in'), 'pool ready', 30_000);
    client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
  }, 60_000);

  afterAll(async () => {
    await relay?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const askAll = async (body: Record<string, unknown>) => {
    for (const i of lingma.lingmaInstances()) await sim(i, body);
  };

  it('lists the Lingma models', async () => {
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['lingma/dashscope_qwen3_coder']));
  });

  it('a non-streaming answer may take longer than the first-byte timeout', async () => {
    // 5 deltas 500 ms apart: the whole answer takes ~2 s, past the 1.5 s timeout; the first delta comes at once.
    relay.config.limits.firstByteTimeoutMs = 1500;
    try {
      await askAll({ reset: true, reply: { mode: 'fixed', text: 'slow but steady answer', deltas: 5, delayMs: 500 } });
      const r = await client.chat.completions.create({ model: 'lingma/dashscope_qwen3_coder', messages: [{ role: 'user', content: 'take your time' }] });
      expect(r.choices[0].message.content).toBe('slow but steady answer');
    } finally {
      relay.config.limits.firstByteTimeoutMs = 60_000;
    }
  });

  it('answers non-streaming and streaming requests', async () => {
    await askAll({ reset: true, reply: { mode: 'echo', deltas: 4 } });
    const r = await client.chat.completions.create({ model: 'lingma/dashscope_qwen3_coder', messages: [{ role: 'user', content: 'ping' }] });
    expect(r.choices[0].message.content).toBe('echo: ping');
    expect(r.choices[0].finish_reason).toBe('stop');
    // The simulator reports no usage (chat dialect, no usage sync): the dispatcher's one estimate.
    expect(r.usage).toMatchObject({
      prompt_tokens: estimatePromptTokens({ messages: [{ role: 'user', content: [{ type: 'text', text: 'ping' }] }] }),
      completion_tokens: estimateTokens('echo: ping'),
    });

    const stream = await client.chat.completions.create({ model: 'Qwen3-Coder', messages: [{ role: 'user', content: 'stream me' }], stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.choices.length) expect(chunk.model).toBe('lingma/dashscope_qwen3_coder');
    }
    expect(text).toBe('echo: stream me');
    expect(finish).toBe('stop');
  });

  it('reuses the upstream session across turns and sticks to its instance', async () => {
    await askAll({ reset: true, reply: { mode: 'echo', deltas: 2 } });
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [{ role: 'system', content: 'be short' }, { role: 'user', content: 'turn 1' }];
    const r1 = await client.chat.completions.create({ model: 'dashscope_qwen3_coder', messages });
    messages.push({ role: 'assistant', content: r1.choices[0].message.content ?? '' }, { role: 'user', content: 'turn 2' });
    const r2 = await client.chat.completions.create({ model: 'dashscope_qwen3_coder', messages });
    expect(r2.choices[0].message.content).toBe('echo: turn 2');
    const stats = await Promise.all(lingma.lingmaInstances().map((i) => sim(i)));
    const asks = stats.flatMap((s) => s.asks);
    expect(asks).toHaveLength(2);
    const owner = stats.find((s) => s.asks.length === 2);
    expect(owner, 'both turns on one instance').toBeTruthy();
    expect(owner!.asks[1]).toMatchObject({ isReply: true, text: 'turn 2' });
    expect(lingma.sessionCacheStats().hits).toBeGreaterThanOrEqual(1);
  });

  it('a process killed mid-stream ends the stream with a clean error; the pool serves again', async () => {
    await askAll({ reset: true, crashAfterDeltas: 2, reply: { mode: 'fixed', text: 'abcdefghijkl', deltas: 6, delayMs: 30 } });
    const stream = await client.chat.completions.create({ model: 'dashscope_qwen3_coder', messages: [{ role: 'user', content: 'crash please' }], stream: true });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    })().catch((e) => e);
    expect(text).toBe('abcd');
    expect(err).toBeTruthy();
    expect(String(err.message)).not.toMatch(/127\.0\.0\.1|ws:|socket/);
    await waitFor(() => lingma.lingmaInstances().every((i) => i.state() === 'ready'), 'pool back', 30_000);
    await askAll({ crashAfterDeltas: null, reply: { mode: 'fixed', text: 'recovered' } });
    const r = await client.chat.completions.create({ model: 'dashscope_qwen3_coder', messages: [{ role: 'user', content: 'again' }] });
    expect(r.choices[0].message.content).toBe('recovered');
  }, 60_000);

  it('a client that goes away mid-stream makes chat/stop reach the process and frees the slot', async () => {
    await askAll({ reset: true, reply: { mode: 'fixed', text: 'z'.repeat(300), deltas: 60, delayMs: 40 } });
    const ac = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'dashscope_qwen3_coder', messages: [{ role: 'user', content: 'long answer' }], stream: true },
      { signal: ac.signal },
    );
    let n = 0;
    await (async () => {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content && ++n === 2) ac.abort();
      }
    })().catch(() => undefined);
    const stopped = await waitFor(async () => {
      const all = await Promise.all(lingma.lingmaInstances().map((i) => sim(i)));
      return all.find((s) => s.stops.length > 0);
    }, 'chat/stop at the simulator');
    expect(stopped.stops).toEqual([stopped.asks[0].requestId]);
    await waitFor(() => lingma.lingmaInstances().every((i) => i.snapshot().extra?.inFlight === 0), 'slots free');
    await waitFor(() => lingma.lingmaInstances().every((i) => relay.pool.inFlight(i.name) === 0), 'pool slots free');
  }, 30_000);

  it("Anthropic's message_start announces the input tokens the final usage counts (Lingma reports no real figures)", async () => {
    await askAll({ reset: true, reply: { mode: 'echo', deltas: 2 } });
    const prompts: Array<Record<string, unknown>> = [
      { system: 'You are terse.', messages: [{ role: 'user', content: 'Say hi.' }] },
      { system: 'You review code and answer in one line, never more than that.', messages: [{ role: 'user', content: 'Is `let x = 1` fine?' }] },
      { messages: [{ role: 'user', content: 'first question' }, { role: 'assistant', content: 'first answer' }, { role: 'user', content: 'second question, a longer one this time' }] },
      { system: [{ type: 'text', text: '用中文回答。' }], messages: [{ role: 'user', content: [{ type: 'text', text: '你好，世界' }] }] },
    ];
    for (const [i, p] of prompts.entries()) {
      const r = await fetch(`${relay.url()}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': KEY, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'lingma/dashscope_qwen3_coder', max_tokens: 100, stream: true, ...p }),
      });
      expect(r.status).toBe(200);
      const events = (await r.text()).split('\n\n').flatMap((block) => {
        const data = block.split('\n').find((l) => l.startsWith('data: '));
        return data ? [JSON.parse(data.slice(6)) as Record<string, any>] : [];
      });
      const start = events.find((e) => e.type === 'message_start')!.message.usage;
      const final = events.find((e) => e.type === 'message_delta')!.usage;
      expect({ prompt: i, input: final.input_tokens, cached: final.cache_read_input_tokens }).toEqual({ prompt: i, input: start.input_tokens, cached: 0 });
      const answer = events.filter((e) => e.type === 'content_block_delta' && e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
      expect(answer).not.toBe('');
      expect(final.output_tokens).toBe(estimateTokens(answer));
    }
  }, 30_000);

  it('healthz reports every Lingma instance', async () => {
    const r = await fetch(`${relay.url()}/healthz`);
    const body = (await r.json()) as { ok: boolean; instances: Array<{ name: string; state: string }> };
    expect(r.status).toBe(200);
    expect(body.instances.filter((i) => ['east', 'west'].includes(i.name)).map((i) => i.state)).toEqual(['ready', 'ready']);
  });
});
