/**
 * The whole relay on loopback for protocol tests (`startCore`: the production wiring with its
 * dispatcher, pool, admission, health cache, alias resolver, error rules, budgets, ledger and live
 * hub), over two fake OpenAI-compatible upstreams:
 * - `fake`: native tools and images;
 * - `plain`: a text-only backend (`tools: false, images: false`), like the Lingma backend.
 */
import type { FastifyInstance } from 'fastify';
import type { Relay } from '../../src-main/core/relay';
import { startCore } from '../helpers/core';
import { startFakeOpenAI, type FakeOptions, type FakeUpstream } from '../fakes/openai-upstream';

export const KEY = 'sk-relay-frontends-0001';
export const OTHER_KEY = 'sk-relay-frontends-0002';

export interface Harness {
  app: FastifyInstance;
  url: string;
  port: number;
  fake: FakeUpstream;
  plain: FakeUpstream;
  relay: Relay;
  /** No request holds an admission permit or a pool slot. */
  idle(): boolean;
  close(): Promise<void>;
}

export async function startHarness(opts: { fake?: FakeOptions; plain?: FakeOptions; keepAliveMs?: number } = {}): Promise<Harness> {
  const fake = await startFakeOpenAI({ models: ['fake-model'], ...opts.fake });
  const plain = await startFakeOpenAI({ models: ['plain-model'], ...opts.plain });
  const core = await startCore({
    config: {
      server: { apiKeys: [{ key: KEY, name: 'one' }, { key: OTHER_KEY, name: 'two' }] },
      providers: [
        { name: 'fake', type: 'openai', baseUrl: fake.url, models: ['fake-model'] },
        { name: 'plain', type: 'openai', baseUrl: plain.url, models: ['plain-model'], tools: false, images: false },
      ],
      aliases: {
        'claude-*': { chain: ['fake/fake-model'] },
        'gpt-*': { chain: ['fake/fake-model'] },
        emu: { chain: [{ target: 'plain/plain-model', options: { toolEmulation: true } }] },
        textonly: { chain: ['plain/plain-model'] },
      },
      limits: { keepAliveMs: opts.keepAliveMs ?? 5000, maxSwitches: 2, firstByteTimeoutMs: 20_000, queueTimeoutMs: 10_000 },
      health: { failureThreshold: 3, baseBackoffMs: 1000, maxBackoffMs: 1000 },
    },
  });
  const { relay } = core;
  return {
    app: relay.app,
    url: core.url,
    port: core.port,
    fake,
    plain,
    relay,
    idle: () => relay.admission.stats().inFlight === 0 && relay.pool.totalInFlight() === 0,
    async close() {
      await core.close();
      await fake.close();
      await plain.close();
    },
  };
}
