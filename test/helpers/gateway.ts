/**
 * Start `buildGateway` on 127.0.0.1:0 with a FakeChat, for front-end and plugin tests. The front
 * ends are registered as the relay registers them (`frontendPlugins`), before `deps.extraPlugins`.
 */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { validateConfig } from '../../src-main/core/config/validate';
import { buildGateway, type GatewayDeps } from '../../src-main/core/gateway/build';
import { frontendPlugins } from '../../src-main/core/frontends/index';
import { createLogger } from '../../src-main/core/gateway/logging';
import { Metrics } from '../../src-main/core/gateway/metrics';
import { keyIdOf } from '../../src-main/core/config/keys';
import type { Caller } from '../../src-main/core/dispatch/types';
import { FakeChat, fakeProvider } from './fake-chat';

export const TEST_KEY = 'sk-relay-test-key-0001';
export const TEST_ADMIN = 'relay-admin-test-token-0001';
export const TEST_METRICS = 'metrics-test-token';

export interface TestGateway {
  app: FastifyInstance;
  url: string;
  port: number;
  chat: FakeChat;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function startTestGateway(opts: { config?: Record<string, unknown>; deps?: Partial<GatewayDeps>; listen?: boolean } = {}): Promise<TestGateway> {
  const config = validateConfig({ ...opts.config, server: { metricsToken: TEST_METRICS, ...((opts.config?.server as object) ?? {}) } });
  const chat = new FakeChat();
  const metrics = new Metrics();
  const provider = fakeProvider();
  const keys = {
    verify: (k: string | undefined): Caller | undefined => (k === TEST_KEY ? { keyId: keyIdOf(TEST_KEY), keyName: 'test' } : undefined),
  };
  const frontends = frontendPlugins({ chat: opts.deps?.chat ?? chat, providers: () => [provider], limits: () => config.limits, maxBodyBytes: config.limits.maxBodyBytes });
  const app = await buildGateway({
    config,
    keys,
    adminToken: TEST_ADMIN,
    metrics,
    chat,
    providers: () => [provider],
    logger: createLogger({ level: process.env.TEST_LOG ? 'debug' : 'silent' }),
    ...opts.deps,
    extraPlugins: [...frontends, ...(opts.deps?.extraPlugins ?? [])],
  });
  let port = 0;
  if (opts.listen !== false) {
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  } else {
    await app.ready();
  }
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    port,
    chat,
    metrics,
    close: () => app.close(),
  };
}
