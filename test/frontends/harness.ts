/**
 * A real gateway on loopback for protocol tests: buildGateway + the real dispatcher, pool,
 * admission, health cache and alias resolver, over two fake OpenAI-compatible upstreams:
 * - `fake`: native tools and images;
 * - `plain`: a text-only backend (`tools: false, images: false`), like the Lingma backend.
 * The front ends are registered through `extraPlugins` with `frontendPlugins`, as relay.ts does.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { createOpenAIProvider } from '../../src-main/core/backends/openai/index';
import { keyIdOf } from '../../src-main/core/config/keys';
import { validateConfig } from '../../src-main/core/config/validate';
import { frontendPlugins } from '../../src-main/core/frontends/index';
import { ResponseStore } from '../../src-main/core/frontends/responses/store';
import { createAdmission } from '../../src-main/core/dispatch/admission';
import { buildGateway } from '../../src-main/core/gateway/build';
import { createDispatcher } from '../../src-main/core/dispatch/dispatcher';
import { createLogger } from '../../src-main/core/gateway/logging';
import { Metrics, requestMetrics } from '../../src-main/core/gateway/metrics';
import type { Caller } from '../../src-main/core/dispatch/types';
import { createPool } from '../../src-main/core/pool/pool';
import { createResolver } from '../../src-main/core/routing/aliases';
import { createHealthCache } from '../../src-main/core/routing/health';
import { startFakeOpenAI, type FakeOptions, type FakeUpstream } from '../fakes/openai-upstream';

export const KEY = 'sk-relay-frontends-0001';
export const OTHER_KEY = 'sk-relay-frontends-0002';

export interface Harness {
  app: FastifyInstance;
  url: string;
  port: number;
  fake: FakeUpstream;
  plain: FakeUpstream;
  store: ResponseStore;
  dispatcher: ReturnType<typeof createDispatcher>;
  close(): Promise<void>;
}

export async function startHarness(opts: { fake?: FakeOptions; plain?: FakeOptions; keepAliveMs?: number } = {}): Promise<Harness> {
  const fake = await startFakeOpenAI({ models: ['fake-model'], ...opts.fake });
  const plain = await startFakeOpenAI({ models: ['plain-model'], ...opts.plain });
  const log = createLogger({ level: process.env.TEST_LOG ? 'debug' : 'silent' });
  const aliases = {
    'claude-*': { chain: ['fake/fake-model'] },
    'gpt-*': { chain: ['fake/fake-model'] },
    emu: { chain: [{ target: 'plain/plain-model', options: { toolEmulation: true } }] },
    textonly: { chain: ['plain/plain-model'] },
  };
  const config = validateConfig({
    providers: [
      { name: 'fake', type: 'openai', baseUrl: fake.url, models: ['fake-model'] },
      { name: 'plain', type: 'openai', baseUrl: plain.url, models: ['plain-model'], tools: false, images: false },
    ],
    aliases,
    limits: { keepAliveMs: opts.keepAliveMs ?? 5000 },
  });
  const providers = config.providers.map((p) => createOpenAIProvider(p, { log }));
  for (const p of providers) await p.start();
  const metrics = new Metrics();
  const health = createHealthCache({ failureThreshold: 3, baseBackoffMs: 1000, maxBackoffMs: 1000 });
  const pool = createPool({ health, metrics });
  const admission = createAdmission({ maxInFlight: 16, queueTimeoutMs: 10_000, perKeyConcurrency: 8, perKeyQueue: 16 }, metrics);
  const dispatcher = createDispatcher({
    resolver: createResolver({ providers: () => providers, aliases: config.aliases }),
    providers: () => providers,
    pool,
    admission,
    health,
    observers: [requestMetrics(metrics)],
    limits: { maxSwitches: 2, firstByteTimeoutMs: 20_000, queueTimeoutMs: 10_000 },
    log,
  });
  const keys = {
    verify: (k: string | undefined): Caller | undefined =>
      k === KEY ? { keyId: keyIdOf(KEY), keyName: 'one' } : k === OTHER_KEY ? { keyId: keyIdOf(OTHER_KEY), keyName: 'two' } : undefined,
  };
  const store = new ResponseStore({ maxEntries: 50 });
  const app = await buildGateway({
    config,
    keys,
    adminToken: 'relay-admin-frontends-token',
    metrics,
    chat: dispatcher,
    providers: () => providers,
    logger: log,
    extraPlugins: frontendPlugins({
      chat: dispatcher,
      providers: () => providers,
      limits: () => config.limits,
      maxBodyBytes: config.limits.maxBodyBytes,
      store,
    }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    port,
    fake,
    plain,
    store,
    dispatcher,
    async close() {
      await app.close();
      for (const p of providers) await p.stop();
      await fake.close();
      await plain.close();
    },
  };
}
