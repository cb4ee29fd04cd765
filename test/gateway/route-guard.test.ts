/**
 * SECURITY (issue 11, "keep it true"): a route under /admin outside the admin scope, or a /v1 route
 * outside an API-key scope, stops the gateway from starting. Checked against the relay's real
 * route table, and by registering offending routes the ways a future change might.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { guardScope } from '../../src-main/core/gateway/plugins/auth';
import { requiredGuard, routeTable } from '../../src-main/core/gateway/plugins/route-guard';
import { createCore, type Relay } from '../../src-main/core/relay';
import { startTestGateway, TEST_ADMIN, TEST_KEY, type TestGateway } from '../helpers/gateway';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

let gw: TestGateway | undefined;
let relay: Relay | undefined;

afterEach(async () => {
  await gw?.close();
  gw = undefined;
  await relay?.stop();
  relay = undefined;
  cleanupTempDirs();
});

const start = (...extraPlugins: FastifyPluginAsync[]) => startTestGateway({ listen: false, deps: { extraPlugins } });

describe('route guard', () => {
  it('every route of the real relay under /admin is in the admin scope, every /v1 route in an API-key scope', async () => {
    const dataDir = tempDir();
    relay = await createCore({
      config: validateConfig({}), dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false,
      logger: createLogger({ level: 'silent' }),
    });
    const table = routeTable(relay.app);
    const admin = table.filter((r) => requiredGuard(r.url) === 'admin');
    const v1 = table.filter((r) => requiredGuard(r.url) === 'apiKey');
    expect(admin.length).toBeGreaterThan(15);
    expect(v1.length).toBeGreaterThan(8);
    expect(admin.filter((r) => r.guard !== 'admin')).toEqual([]);
    expect(v1.filter((r) => r.guard !== 'apiKey')).toEqual([]);
    // The dashboard's files and the health check stay outside both.
    expect(table.find((r) => r.url === '/ui/*')?.guard).toBeUndefined();
    expect(table.find((r) => r.url === '/healthz')?.guard).toBeUndefined();
  });

  it('a new /admin route outside the admin scope stops the relay from starting', async () => {
    const dataDir = tempDir();
    const sneaky = async (app: FastifyInstance) => {
      app.get('/admin/sneaky', async () => ({ secret: true }));
    };
    await expect(createCore({
      config: validateConfig({}), dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false,
      logger: createLogger({ level: 'silent' }), extraPlugins: [sneaky],
    })).rejects.toThrow(/GET \/admin\/sneaky is registered without a guard; routes under \/admin must be registered inside the admin scope/);
  });

  it.each([
    ['an /admin route with no hook', async (app: FastifyInstance) => {
      app.get('/admin/x', async () => 'open');
    }, /GET \/admin\/x is registered without a guard/],
    ['an /admin route with requireAdmin added by hand (not the admin scope)', async (app: FastifyInstance) => {
      app.addHook('onRequest', app.requireAdmin);
      app.post('/admin/x', async () => 'open');
    }, /POST \/admin\/x is registered without a guard/],
    ['an /admin route under a prefix', async (app: FastifyInstance) => {
      await app.register(async (s) => {
        s.get('/x', async () => 'open');
      }, { prefix: '/admin' });
    }, /GET \/admin\/x is registered without a guard/],
    ['an /ADMIN route (case)', async (app: FastifyInstance) => {
      app.get('/ADMIN/x', async () => 'open');
    }, /\/ADMIN\/x is registered without a guard/],
    ['an /admin route in an API-key scope', async (app: FastifyInstance) => {
      guardScope(app, 'apiKey');
      app.get('/admin/x', async () => 'open');
    }, /\/admin\/x is registered in a 'apiKey' scope/],
    ['a /v1 route with no key check', async (app: FastifyInstance) => {
      app.post('/v1/new-thing', async () => 'open');
    }, /POST \/v1\/new-thing is registered without a guard; routes under \/v1 must be registered in an API-key scope/],
    ['a /v1 route in the admin scope', async (app: FastifyInstance) => {
      guardScope(app, 'admin');
      app.get('/v1/x', async () => 'open');
    }, /\/v1\/x is registered in a 'admin' scope/],
    ['a /cluster route with no guard (team mode, node to node)', async (app: FastifyInstance) => {
      app.post('/cluster/v1/chat', async () => 'open');
    }, /POST \/cluster\/v1\/chat is registered without a guard; routes under \/cluster must be registered in the cluster scope/],
    ['a /cluster route in an API-key scope', async (app: FastifyInstance) => {
      guardScope(app, 'apiKey');
      app.post('/Cluster/v1/chat', async () => 'open');
    }, /\/Cluster\/v1\/chat is registered in a 'apiKey' scope/],
    ['a route registered before guardScope in the same scope', async (app: FastifyInstance) => {
      app.get('/admin/early', async () => 'open');
      guardScope(app, 'admin');
    }, /\/admin\/early is registered without a guard/],
  ])('refuses %s', async (_name, plugin, message) => {
    await expect(start(plugin)).rejects.toThrow(message);
  });

  it('accepts routes in their guarded scopes, children included, and they need their credential', async () => {
    gw = await start(
      async (app) => {
        guardScope(app, 'admin');
        app.get('/admin/ok', async () => ({ ok: 'admin' }));
        await app.register(async (child) => {
          child.get('/admin/child', async () => ({ ok: 'child' }));
        });
      },
      async (app) => {
        guardScope(app, 'apiKey');
        app.get('/v1/ok', async () => ({ ok: 'key' }));
      },
    );
    const table = routeTable(gw.app);
    expect(table.filter((r) => ['/admin/ok', '/admin/child', '/v1/ok'].includes(r.url)).map((r) => `${r.method} ${r.url} ${r.guard}`)).toEqual(
      expect.arrayContaining(['GET /admin/ok admin', 'GET /admin/child admin', 'GET /v1/ok apiKey']),
    );
    for (const url of ['/admin/ok', '/admin/child', '/%61dmin/child']) {
      expect((await gw.app.inject({ url })).statusCode, url).toBe(401);
      expect((await gw.app.inject({ url, headers: { authorization: `Bearer ${TEST_KEY}` } })).statusCode, url).toBe(401);
      expect((await gw.app.inject({ url, headers: { authorization: `Bearer ${TEST_ADMIN}` } })).statusCode, url).toBe(200);
    }
    expect((await gw.app.inject({ url: '/%76%31/ok' })).statusCode).toBe(401);
    expect((await gw.app.inject({ url: '/v1/ok', headers: { authorization: `Bearer ${TEST_ADMIN}` } })).statusCode).toBe(401);
    expect((await gw.app.inject({ url: '/v1/ok', headers: { authorization: `Bearer ${TEST_KEY}` } })).statusCode).toBe(200);
  });

  it('guardScope refuses a scope without the gateway auth plugin', async () => {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    await expect(app.register(async (s) => guardScope(s, 'admin')).ready()).rejects.toThrow(/requireAdmin is not decorated/);
    await app.close();
  });
});
