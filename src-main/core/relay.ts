/**
 * `createCore(deps)`: wires config -> keys -> providers -> health/pool/admission -> routing ->
 * dispatch -> ledger -> gateway. Both hosts (CLI, Electron) use it; they inject the ports.
 *
 * Lifecycle: `createCore` builds everything (no process started, nothing listening);
 * `start()` starts the backends and the health prober; `listen()` opens the socket;
 * `stop()` stops accepting, lets in-flight requests finish (up to `limits.shutdownGraceMs`),
 * flushes the ledger and stops the backends.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createConfiguredProvider, createProviders, hopOptionKinds } from './backends/registry';
import { createDiscovery, nothingConfigured, type Discovery } from './backends/discovery';
import type { Instance, Provider } from './backends/types';
import { ensureAdminToken, ensureDataDir } from './config/datadir';
import { KeyStore } from './config/keys';
import { EventHub } from './events';
import { adminPlugin } from './admin/index';
import { frontendPlugins } from './frontends/index';
import { createAdmission } from './dispatch/admission';
import { buildGateway, type GatewayPlugin } from './gateway/build';
import { createDispatcher } from './dispatch/dispatcher';
import { budgetTokens, liveRequests, usageLedger } from './dispatch/observers';
import { nodeNameOf, openSharedState } from './cluster/index';
import { LingmaProvider } from './backends/lingma/provider';
import { verifyNodeRequest } from './cluster/node-auth';
import { clusterRoutes } from './frontends/cluster/routes';
import { createLogger } from './gateway/logging';
import { Metrics, requestMetrics } from './gateway/metrics';
import { useTokenizer } from './chat/tokens';
import { createLedger, type Ledger } from './ledger/index';
import { createInspector } from './inspector/index';
import { ledgerRoutes } from './ledger/routes';
import { createPostgresStore } from './ledger/postgres/store';
import { createAvailability } from './pool/availability-model';
import { createPool } from './pool/pool';
import { systemClock } from './ports';
import { createResolver } from './routing/aliases';
import { createHealthCache, type Prober } from './routing/health';
import { createAliasSource, type AliasSource } from './routing/reload';
import { routingRoutes } from './frontends/routing/routes';
import { observeHealth } from './routing/observe';
import { applyLiveSettings, saveLiveSettings, type LiveSettings } from './config/live-settings';
import { adminDeps } from './relay/admin-deps';
import { knownSecrets } from './relay/secrets';
import { instanceWatcher } from './relay/instances';
import { baseUrl, drainGateway, listenOn } from './relay/lifecycle';
import { applySavedSettings } from './relay/settings';
import { loadProviderKeys, providerManager } from './relay/providers';
import { requestCounter, wireTeam } from './relay/cluster';
import type { Relay, CoreDeps } from './relay/types';

export type { Relay, CoreDeps } from './relay/types';
export { baseUrl } from './relay/lifecycle';

const ALIASES_STUB = '# Aliases edited in the dashboard. Same shape as `aliases:` in the config file; entries here win.\n';

export async function createCore(deps: CoreDeps): Promise<Relay> {
  const { config, dataDir } = deps;
  const clock = deps.clock ?? systemClock;
  const hub = deps.hub ?? new EventHub();
  // Settings saved from the dashboard are newer than the config file: lay them over it first.
  const savedFile = applySavedSettings(config, dataDir);
  let savedSettings: LiveSettings = savedFile.saved;
  const log = deps.logger ?? createLogger({ level: config.server.logLevel, hub });
  savedFile.report(log);
  ensureDataDir(dataDir, { onTightened: (mode) => log.info({ dataDir, was: mode.toString(8), now: '700' }, 'data dir permissions tightened to owner-only') });
  const metrics = new Metrics({ processMetrics: deps.processMetrics ?? true });

  // Team mode: keys, budgets and concurrency shared through Redis (absent: all in this process).
  const shared = config.cluster ? await openSharedState(config.cluster, log.child({ module: 'cluster' }), { sessionTtlMs: config.sessionCache.ttlSec * 1000 }) : undefined;
  const counter = shared ? requestCounter() : undefined;

  // SECURITY: keys and the admin token come from config or 0600 files in the data dir.
  const keys = KeyStore.open({ config, dataDir, clock, repository: shared?.keys });
  const admin = ensureAdminToken(config, dataDir);
  const firstRun = { apiKey: keys.generated, adminToken: admin.generated };

  // Team mode: account passwords sealed in Redis, each account run by the node holding its lease.
  const secrets = shared?.secrets ?? deps.secrets;
  const registryDeps = {
    accountLeases: shared?.leases,
    forwarder: shared?.forwarder,
    config, dataDir, secrets, log, hub, metrics, spawner: deps.spawner, loginDriver: deps.loginDriver, lingma: deps.lingma, env: deps.env, clock,
  };
  // Keys of providers added from the dashboard live in the secret store, not in settings.json.
  await loadProviderKeys(config, savedSettings.providers ?? [], secrets);
  const providers = (deps.providers ?? createProviders)(registryDeps);
  const allInstances = (): Instance[] => providers.flatMap((p) => [...p.instances()]);
  // Read before any account can be added: was this a first start with nothing to serve?
  const firstStart = nothingConfigured(config, existsSync(join(dataDir, 'accounts.json')));

  // Aliases: the configured file, else a data-dir file the dashboard edits (created empty).
  let aliasesFile = config.aliasesFile;
  if (!aliasesFile) {
    aliasesFile = join(dataDir, 'aliases.yaml');
    if (!existsSync(aliasesFile)) writeFileSync(aliasesFile, ALIASES_STUB, { mode: 0o600 });
  }
  // Hop options are checked against the kind of the provider each hop names, at every load.
  const optionKinds = hopOptionKinds(config);
  const aliasSource: AliasSource = createAliasSource({ inline: config.aliases, file: aliasesFile, optionKinds, log, hub });
  const resolver = createResolver({ providers: () => providers, aliases: aliasSource, log });

  const health = createHealthCache({ ...config.health, clock, log });
  const healthObserver = observeHealth({ health, metrics, hub, providers: () => providers });
  // A cool-down that ends is re-checked at once by a probe round (set once the prober runs).
  let recheck: (() => void) | undefined;
  const availability = createAvailability({ health, providers: () => providers, clock, metrics, log, onDue: () => recheck?.() });
  // Changes the instance did not announce itself (health, credits, a person's clear) reach the
  // dashboard and the tray as instance events too.
  availability.events.on('change', (name, source) => {
    if (source === 'instance') return;
    const inst = allInstances().find((i) => i.name === name);
    if (inst) hub.emit('instance', inst.snapshot());
  });
  const pool = createPool({ health, metrics, waitMs: config.limits.queueTimeoutMs, availability, clock, owners: shared?.owners });
  const limits = config.limits;
  const admission = createAdmission(
    { maxInFlight: limits.maxInFlight, queueTimeoutMs: limits.queueTimeoutMs, perKeyConcurrency: limits.perKeyConcurrency, perKeyQueue: limits.perKeyQueue },
    metrics,
    clock,
    shared?.slots,
  );

  // Always created: with `ledger.enabled: false` it writes no file, but per-key budgets (rpm,
  // tokensPerDay, expiry) still count in memory and the usage routes answer "disabled".
  // Team mode with `cluster.postgresUrl`: every node writes to (and reads from) one PostgreSQL
  // database instead of its own usage.db (`pg` loads only then).
  const pgUrl = config.ledger.enabled ? config.cluster?.postgresUrl : undefined;
  const ledgerStore = pgUrl ? createPostgresStore({ url: pgUrl, nodeName: nodeNameOf(config.cluster!) }) : undefined;
  const ledger: Ledger = createLedger({ dbPath: join(dataDir, 'usage.db'), config: config.ledger, log: log.child({ module: 'ledger' }), registry: metrics.registry, clock, store: ledgerStore });

  // The request inspector: redacted captures; it masks every secret the relay knows of.
  const inspector = createInspector({
    config: () => config.inspector,
    dataDir,
    secrets: () => knownSecrets(config, admin.token, keys.primaryKey()),
    ledger: config.ledger.enabled,
    log: log.child({ module: 'inspector' }),
  });
  // The capture's timeline ends when the ledger confirms the batch holding its row.
  ledger.onWritten((ids, at) => inspector.ledgerWritten(ids, at));

  const chat = createDispatcher({
    resolver,
    providers: () => providers,
    pool,
    admission,
    health,
    limits,
    // Every request ends in one outcome: counted in metrics, shown live, written to the ledger.
    observers: [requestMetrics(metrics), liveRequests(hub), usageLedger((rec) => ledger.record(rec)), inspector.observer, ...(shared && counter ? [budgetTokens(shared.budget), counter.observer] : [])],
    capture: () => inspector.capturing(),
    captureChars: () => inspector.answerChars(),
    captureAllowance: inspector.allowance,
    errorRules: () => config.errorRules,
    // One budget port: the ledger's in-memory counters, or in team mode the cluster's.
    checkBudget: (caller) => (shared ? shared.budget.check(caller.keyId, caller.limits, clock.now()) : ledger.checkBudget(caller.keyId, caller.limits, clock.now())),
    clock,
    log,
  });

  // Instance state -> relay_backend_ready and hub events (Lingma instances emit their own hub events).
  const watchInstances = instanceWatcher({ metrics, hub, allInstances });
  const onConfigEvent = () => {
    watchInstances();
    healthObserver.sync();
    availability.sync();
  };
  hub.on('config', onConfigEvent);

  let listening: { host: string; port: number } | undefined;
  let prober: Prober | undefined;
  let started = false;
  let providersStarted = false;
  let stopping: Promise<void> | undefined;

  const relay: Relay = {
    config,
    dataDir,
    hub,
    metrics,
    keys,
    providers,
    resolver,
    health,
    admission,
    pool,
    availability,
    ledger,
    inspector,
    secrets,
    app: undefined as unknown as FastifyInstance,
    log,
    version: deps.version,
    rendererDir: deps.rendererDir,
    firstRun,
    adminToken: () => admin.token,
    discovery: undefined as unknown as Discovery,
    managedProviders: providerManager({
      config,
      providers: providers as Provider[],
      create: (cfg) => createConfiguredProvider(cfg, registryDeps),
      secrets,
      saved: () => savedSettings.providers ?? [],
      save: (list) => {
        savedSettings = saveLiveSettings(dataDir, { providers: list }, savedSettings);
      },
      started: () => providersStarted,
      hub,
      log,
    }),
    addProvider: (cfg) => relay.managedProviders.add(cfg),
    async start() {
      if (started) return;
      started = true;
      // Estimates are tokenizer-grade; the tokenizer loads at the first one (core/chat/tokens.ts).
      useTokenizer();
      // A first start looks for what is already here (bounded by discovery.timeoutMs); found
      // servers are only offered, unless the host was started with --discover.
      if ((firstStart && config.discovery.enabled) || deps.discover) {
        await relay.discovery.scan();
        if (deps.discover) await relay.discovery.useAll();
      }
      providersStarted = true;
      const results = await Promise.allSettled(providers.map((p) => p.start()));
      results.forEach((r, i) => {
        if (r.status === 'rejected') log.error({ provider: providers[i].name, err: String((r.reason as Error)?.message ?? r.reason) }, 'provider failed to start');
      });
      watchInstances();
      healthObserver.sync();
      availability.sync();
      prober = health.startProbing(allInstances, config.health.probeIntervalMs, undefined, {
        due: (i) => availability.due(i),
        outcome: (i, err) => availability.probed(i, err),
      });
      const p = prober;
      recheck = () => void p.tick();
    },
    async listen(o = {}) {
      const host = o.host ?? config.server.host;
      const port = o.port ?? config.server.port;
      const realPort = await listenOn(relay.app, host, port);
      listening = { host, port: realPort };
      shared?.advertise(relay.url());
      return relay.url();
    },
    url() {
      return listening ? baseUrl(listening.host, listening.port) : '';
    },
    stop() {
      stopping ??= (async () => {
        // 0. Backends that supervise processes (Lingma) restart nothing from now on: a Ctrl-C
        // may have reached those processes too, and bringing them back while we drain is waste.
        for (const p of providers) p.prepareStop?.();
        // 1-2. Stop accepting; let in-flight requests finish, bounded.
        await drainGateway(relay.app, admission, config.limits.shutdownGraceMs, (e) => log.warn({ err: String(e) }, 'gateway close failed'));
        // 3. Persist usage, stop background work and backends.
        prober?.stop();
        recheck = undefined;
        availability.stop();
        aliasSource.close();
        healthObserver.stop();
        hub.off('config', onConfigEvent);
        // Outcomes still queued for the observers reach the ledger before it closes (no row lost).
        chat.flushObservers();
        await ledger.close().catch((e) => log.warn({ err: String(e) }, 'ledger close failed'));
        inspector.close();
        await Promise.allSettled(providers.map((p) => p.stop()));
        await shared?.close().catch((e) => log.warn({ err: String(e) }, 'cluster close failed'));
        listening = undefined;
      })();
      return stopping;
    },
    observed: () => chat.observed(),
    reloadAliases() {
      return aliasSource.reload('reload');
    },
    applySettings(change) {
      applyLiveSettings(config, change);
      if (change.logLevel !== undefined) {
        log.level = change.logLevel;
        relay.app.log.level = change.logLevel;
      }
      savedSettings = saveLiveSettings(dataDir, change, savedSettings);
      admission.setLimits({
        maxInFlight: config.limits.maxInFlight,
        queueTimeoutMs: config.limits.queueTimeoutMs,
        perKeyConcurrency: config.limits.perKeyConcurrency,
        perKeyQueue: config.limits.perKeyQueue,
      });
    },
  };

  (relay as { discovery: Discovery }).discovery = createDiscovery({
    config: () => config,
    log,
    env: deps.env,
    providers: () => providers,
    addProvider: (cfg) => relay.addProvider(cfg),
    onChange: () => hub.emit('config', 'discovery'),
  });

  // Team mode: dashboard edits shared with the other nodes, this node's report, GET /admin/cluster.
  const team = shared && counter ? wireTeam(relay, shared, aliasSource, counter.counts, log.child({ module: 'cluster' })) : undefined;
  const plugins: GatewayPlugin[] = [
    // The three protocol front ends, registered the one way (tests that build a gateway use it too).
    ...frontendPlugins({
      chat,
      providers: () => providers,
      resolver: () => resolver,
      limits: () => config.limits,
      maxBodyBytes: config.limits.maxBodyBytes,
      clock,
    }),
    { plugin: routingRoutes, opts: { resolver: () => resolver, health, providers: () => providers, inFlight: (n: string) => pool.inFlight(n) } },
    // SECURITY: usage queries are admin-only: they live in the admin scope with every other admin route.
    adminPlugin(adminDeps(relay, team?.aliases ?? aliasSource), { routes: [{ plugin: ledgerRoutes, opts: { ledger } }, ...(team ? [team.adminRoute] : [])] }),
  ];
  // Team mode: calls other nodes forward for the accounts this node runs (cluster scope, signed).
  if (shared) {
    const lingma = providers.find((p): p is LingmaProvider => p instanceof LingmaProvider);
    const slotOn = (name: string, signal: AbortSignal) =>
      lingma?.localInstance(name) ? pool.acquireOn(lingma, name, { signal, waitMs: limits.queueTimeoutMs, readyWaitMs: limits.firstByteTimeoutMs }) : undefined;
    plugins.push({ plugin: clusterRoutes, opts: { acquire: slotOn } });
  }
  plugins.push(...(deps.extraPlugins ?? []));

  (relay as { app: FastifyInstance }).app = await buildGateway({
    config,
    keys,
    adminToken: () => admin.token,
    metrics,
    chat,
    providers: () => providers,
    inFlight: (n) => pool.inFlight(n),
    availability: (i) => availability.of(i),
    hub,
    logger: log,
    extraPlugins: plugins,
    extraOrigins: deps.extraOrigins,
    version: deps.version,
    clusterNode: shared ? (req) => verifyNodeRequest(shared.crypto, req) : undefined,
  });
  await team?.start();
  return relay;
}
