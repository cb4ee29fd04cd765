/**
 * The admin API as it runs: `adminPlugin` inside `buildGateway`, over real parts (KeyStore, alias
 * source and resolver, health cache, availability model, pool, admission, ledger) in a temp data
 * folder. Only the backend is a test double (`FakeLingmaProvider`: fake instances, a typed
 * accounts API), unless `providers`/`accounts` say otherwise.
 */
import type { FastifyInstance } from 'fastify';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminPlugin, type AdminDeps, type AdminOptions } from '../../src-main/core/admin/index';
import type { Provider } from '../../src-main/core/backends/types';
import { createConfiguredProvider } from '../../src-main/core/backends/registry';
import { providerManager } from '../../src-main/core/relay/providers';
import type { ProviderConfig } from '../../src-main/core/config/schema';
import { applyLiveSettings } from '../../src-main/core/config/live-settings';
import { KeyStore } from '../../src-main/core/config/keys';
import type { Config } from '../../src-main/core/config/schema';
import { EventHub } from '../../src-main/core/events';
import { createAdmission } from '../../src-main/core/dispatch/admission';
import { createDiscovery } from '../../src-main/core/backends/discovery';
import { buildGateway } from '../../src-main/core/gateway/build';
import { createLogger } from '../../src-main/core/gateway/logging';
import { Metrics } from '../../src-main/core/gateway/metrics';
import { createLedger } from '../../src-main/core/ledger/index';
import { keyUsage } from '../../src-main/core/ledger/key-usage';
import { createAvailability } from '../../src-main/core/pool/availability-model';
import { createPool } from '../../src-main/core/pool/pool';
import { createResolver } from '../../src-main/core/routing/aliases';
import { createHealthCache } from '../../src-main/core/routing/health';
import { createAliasSource } from '../../src-main/core/routing/reload';
import { createInspector } from '../../src-main/core/inspector/index';
import { testBackend } from '../../src-main/core/dispatch/backend-test';
import { ADMIN_TOKEN, FakeLingmaProvider, testConfig } from '../e2e/fakes';
import { FakeChat } from './fake-chat';

export const FIRST_KEY = 'sk-relay-firstkey000000000000000';

export interface AdminHarness {
  deps: AdminDeps;
  hub: EventHub;
  config: Config;
  dataDir: string;
  lingma: FakeLingmaProvider;
  /** Settings applied through `deps.applySettings`. */
  applied: unknown[];
  build(opts?: AdminOptions): Promise<FastifyInstance>;
  close(): Promise<void>;
}

export interface AdminHarnessOptions {
  /** Other providers (default: one FakeLingmaProvider with accounts alice and bob). */
  providers?: (hub: EventHub) => Provider[];
  /** The accounts API (default: the fake provider's); `null`: no Lingma backend. */
  accounts?: AdminDeps['accounts'];
  rendererDir?: string;
  ledgerEnabled?: boolean;
  /** The gateway's base URL as the admin API reports it (default: not listening). */
  url?: string;
}

export function adminHarness(o: AdminHarnessOptions = {}): AdminHarness {
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-admin-'));
  const base = testConfig();
  const config: Config = {
    ...base,
    server: { ...base.server, adminToken: ADMIN_TOKEN, apiKeys: [FIRST_KEY] },
    ledger: { ...base.ledger, enabled: o.ledgerEnabled ?? false },
  };
  const hub = new EventHub();
  const log = createLogger({ level: 'silent' });
  const lingma = new FakeLingmaProvider(hub);
  void lingma.accounts.add({ username: 'alice', password: 'alice-secret-pw', name: 'alice' });
  void lingma.accounts.add({ username: 'bob', password: 'bob-secret-pw', name: 'bob' });
  lingma.list[1].login_ = { state: 'needs_manual', url: 'http://127.0.0.1:1/login?x=1', reason: 'captcha' };
  const providers = o.providers ? o.providers(hub) : [lingma];
  const file = join(dataDir, 'aliases.yaml');
  writeFileSync(file, '# aliases\n', { mode: 0o600 });
  const aliases = createAliasSource({ inline: { coder: { description: 'Coding', chain: ['lingma/qwen3-coder'] } }, file, hub, watch: false });
  const resolver = createResolver({ providers: () => providers, aliases });
  const health = createHealthCache({ ...config.health });
  const availability = createAvailability({ health, providers: () => providers });
  availability.sync();
  const pool = createPool({ health, waitMs: 0, availability });
  const admission = createAdmission({ maxInFlight: config.limits.maxInFlight, queueTimeoutMs: 0, perKeyConcurrency: config.limits.perKeyConcurrency, perKeyQueue: 0 });
  const ledger = createLedger({ dbPath: join(dataDir, 'usage.db'), config: config.ledger, log });
  const keys = KeyStore.open({ config, dataDir });
  const applied: unknown[] = [];
  const inspector = createInspector({ config: () => config.inspector, dataDir, secrets: () => [ADMIN_TOKEN, FIRST_KEY] });
  const deps = {
    config, hub, providers: () => providers,
    accounts: o.accounts === undefined ? (providers.includes(lingma) ? lingma.accounts : null) : o.accounts,
    sessionCache: providers.includes(lingma) ? () => lingma.sessionCacheStats() : null,
    resolver, aliases, health, admission, availability, pool, keys, ledger,
    keyUsage: (ids) => keyUsage(ledger, ids, Date.now()),
    secrets: { protection: 'file' },
    url: () => o.url ?? '',
    applySettings: (patch) => {
      applied.push(patch);
      applyLiveSettings(config, patch);
    },
    rendererDir: o.rendererDir ?? join(dataDir, 'no-renderer'),
    version: '0.0.0-test',
    dataDir,
    inspector,
    testBackend: (name, req) => testBackend({ providers: () => providers, pool, firstByteTimeoutMs: () => config.limits.firstByteTimeoutMs, log }, name, req),
    // Real discovery over a probe that finds nothing: no port of this machine is touched.
    discovery: createDiscovery({
      config: () => config, log, providers: () => providers,
      addProvider: async () => undefined, onChange: () => undefined,
      probe: async () => undefined, findLingma: () => ({ found: false, reason: 'not looked for in tests', searched: [] }),
    }),
  } as Omit<AdminDeps, 'providerAdmin'> as AdminDeps;
  // Providers managed from the dashboard: the relay's manager over a memory secret store and a memory settings list.
  let savedProviders: ProviderConfig[] = [];
  const secretValues = new Map<string, string>();
  deps.providerAdmin = providerManager({
    config, providers: providers as Provider[], hub, log,
    create: (cfg) => createConfiguredProvider(cfg, { config, dataDir, log, secrets: deps.secrets as never }),
    secrets: {
      protection: 'file',
      get: async (k) => secretValues.get(k),
      set: async (k, v) => void secretValues.set(k, v),
      delete: async (k) => void secretValues.delete(k),
    },
    saved: () => savedProviders,
    save: (list) => { savedProviders = list; },
    started: () => false,
  });
  const apps: FastifyInstance[] = [];
  return {
    deps, hub, config, dataDir, lingma, applied,
    async build(opts = {}) {
      const app = await buildGateway({
        config, keys, adminToken: () => ADMIN_TOKEN, metrics: new Metrics({ processMetrics: false }), chat: new FakeChat(),
        providers: () => providers, hub, logger: log, extraPlugins: [adminPlugin(deps, opts)],
      });
      apps.push(app);
      await app.ready();
      return app;
    },
    async close() {
      for (const a of apps.splice(0)) await a.close();
      aliases.close();
      availability.stop();
      await ledger.close();
      inspector.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
