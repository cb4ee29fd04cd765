import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { errors } from '../../src-main/core/errors';
import { EventHub } from '../../src-main/core/events';
import { Metrics } from '../../src-main/core/gateway/metrics';
import { createResolver } from '../../src-main/core/routing/aliases';
import { createHealthCache } from '../../src-main/core/routing/health';
import { redact, routingRoutes } from '../../src-main/core/frontends/routing/routes';
import { observeHealth } from '../../src-main/core/routing/observe';
import type { HealthSnapshot } from '../../src-main/core/routing/types';
import { fakeInstance, fakeProvider } from '../dispatch/fakes';

describe('routing routes', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function build() {
    const lm = fakeProvider('lingma', { models: ['qwen'], instances: [fakeInstance('lingma-1', 'lingma'), fakeInstance('lingma-2', 'lingma')] });
    const ol = fakeProvider('ollama', { models: ['llama3'] });
    const providers = () => [lm, ol];
    const health = createHealthCache({ failureThreshold: 1, baseBackoffMs: 1000, maxBackoffMs: 1000 });
    const resolver = createResolver({ providers, aliases: { coder: { description: 'code', chain: ['lingma/qwen', 'llama3'] }, 'gpt-*': { chain: ['coder'] } } });
    app = Fastify();
    // Stand-in for the gateway's auth plugin.
    app.decorate('requireApiKey', async (req: { headers: Record<string, unknown> }) => {
      if (req.headers.authorization !== 'Bearer good-key') throw Object.assign(new Error('no'), { statusCode: 401 });
    });
    await app.register(routingRoutes, { resolver: () => resolver, health, providers, inFlight: (n: string) => (n === 'lingma-1' ? 2 : 0) });
    return { health, providers };
  }

  it('lists aliases with chains as written and expanded, behind the API key', async () => {
    await build();
    expect((await app!.inject({ url: '/v1/aliases' })).statusCode).toBe(401);
    const res = await app!.inject({ url: '/v1/aliases', headers: { authorization: 'Bearer good-key' } });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.data).toEqual([
      { name: 'coder', description: 'code', chain: ['lingma/qwen', 'llama3'], expanded: ['lingma/qwen', 'ollama/llama3'], pattern: false },
      { name: 'gpt-*', chain: ['coder'], expanded: ['lingma/qwen', 'ollama/llama3'], pattern: true },
    ]);
  });

  it('reports per-instance health without secrets', async () => {
    const { health } = await build();
    health.recordFailure('lingma-2', errors.unavailable('Login needed: open https://login.example/?token=abc123 (key sk-abcdef123456)'));
    const res = await app!.inject({ url: '/v1/health', headers: { authorization: 'Bearer good-key' } });
    const body = res.json();
    expect(body.total).toBe(3);
    expect(body.healthy).toBe(2);
    const l2 = body.data.find((d: { instance: string }) => d.instance === 'lingma-2');
    expect(l2).toMatchObject({ provider: 'lingma', state: 'ready', healthy: false, consecutiveFailures: 1, inFlight: 0 });
    expect(l2.unhealthyUntil).toBeGreaterThan(Date.now() - 1000);
    expect(l2.lastError).not.toContain('abc123');
    expect(l2.lastError).not.toContain('sk-abcdef');
    expect(body.data.find((d: { instance: string }) => d.instance === 'lingma-1').inFlight).toBe(2);
  });

  it('observeHealth feeds relay_backend_healthy and the hub on transitions', async () => {
    const { health, providers } = await build();
    const metrics = new Metrics();
    const hub = new EventHub();
    const seen: HealthSnapshot[] = [];
    hub.on('health', (s) => seen.push(s));
    const obs = observeHealth({ health, metrics, hub, providers });
    let text = await metrics.registry.getSingleMetricAsString('relay_backend_healthy');
    expect(text).toContain('backend="lingma-1"} 1');
    health.recordFailure('lingma-1', errors.upstream('down'));
    text = await metrics.registry.getSingleMetricAsString('relay_backend_healthy');
    expect(text).toContain('backend="lingma-1"} 0');
    health.recordSuccess('lingma-1');
    expect(seen.map((s) => s.healthy)).toEqual([false, true]);
    obs.stop();
    health.recordFailure('lingma-1', errors.upstream('down'));
    expect(seen).toHaveLength(2);
  });

  it('redacts URLs, bearer tokens and key-like strings', () => {
    expect(redact('go to https://x.test/login?nonce=1&state=abc now')).toBe('go to https://x.test/login?[redacted] now');
    expect(redact('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [redacted]');
    expect(redact('password=hunter2 ok')).toBe('password=[redacted] ok');
    expect(redact('upstream said 500')).toBe('upstream said 500');
  });
});
