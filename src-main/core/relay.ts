/**
 * `createRelay(opts)`: wires config -> keys -> providers -> health/pool/admission -> routing ->
 * dispatch -> ledger -> gateway. Both hosts (CLI, Electron) use it; they inject the ports.
 *
 * Lifecycle: `createRelay` builds everything (no process started, nothing listening);
 * `start()` starts the backends and the health prober; `listen()` opens the socket;
 * `stop()` stops accepting, lets in-flight requests finish (up to `limits.shutdownGraceMs`),
 * flushes the ledger and stops the backends.
 */
import { existsSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createConfiguredProvider, createProviders, hopOptionKinds, type LingmaMode } from './backends/registry';
import { createDiscovery, nothingConfigured, type Discovery } from './backends/discovery';
import type { Instance, InstanceSnapshot, InstanceState, Provider } from './backends/types';
import { ensureAdminToken, ensureDataDir } from './config/datadir';
import { KeyStore } from './config/keys';
import type { Config, ProviderConfig } from './config/schema';
import { errors } from './errors';
import { EventHub } from './events';
import { adminPlugin, type AdminDeps } from './admin/index';
import { defaultRendererDir } from './admin/static';
import { LingmaProvider } from './backends/lingma/provider';
import { frontendPlugins } from './frontends/index';
import { createAdmission, type Admission } from './dispatch/admission';
import { buildGateway, type GatewayPlugin } from './gateway/build';
import { createDispatcher } from './dispatch/dispatcher';
import { budgetTokens, liveRequests, usageLedger } from './dispatch/observers';
import { openSharedState } from './cluster/index';
import { verifyNodeRequest } from './cluster/node-auth';
import { clusterRoutes } from './frontends/cluster/routes';
import { createLogger } from './gateway/logging';
import { Metrics, requestMetrics } from './gateway/metrics';
import { createLedger, type Ledger } from './ledger/index';
import { ledgerRoutes } from './ledger/routes';
import { createAvailability, type AvailabilityModel } from './pool/availability-model';
import { createPool, type Pool } from './pool/pool';
import type { Clock, LoginDriver, ProcessSpawner, SecretStore } from './ports';
import { systemClock } from './ports';
import { createResolver, type RelayResolver } from './routing/aliases';
import { createHealthCache, type Prober, type RelayHealthCache } from './routing/health';
import { createAliasSource, type AliasSource } from './routing/reload';
import { routingRoutes } from './frontends/routing/routes';
import { observeHealth } from './routing/observe';
import type { ReloadOutcome } from './routing/types';
import { applyLiveSettings, LIVE_SETTINGS_FILE, parseSavedProviders, readLiveSettingsFile, saveLiveSettings, type LiveSettings } from './config/live-settings';
import { parseSettings } from './admin/validate';

export interface RelayOptions {
  config: Config;
  dataDir: string;
  secrets: SecretStore;
  loginDriver?: LoginDriver;
  spawner?: ProcessSpawner;
  clock?: Clock;
  /** Default: JSON lines on stderr at `server.logLevel`, forwarded to the hub. */
  logger?: Logger;
  /** The event hub (pass the one your logger forwards to); default: a new one. */
  hub?: EventHub;
  /** Run the Lingma pool: `auto` (default: when accounts exist), `always` (desktop), `never`. */
  lingma?: LingmaMode;
  /** Extra allowed origins (e.g. the desktop app's custom protocol). */
  extraOrigins?: string[];
  /** More fastify plugins, registered after the built-in ones. */
  extraPlugins?: GatewayPlugin[];
  /** Where the built dashboard lives (default `<repo>/dist/renderer`). */
  rendererDir?: string;
  /** Process metrics (`relay_process_*`) on /metrics. Default true. */
  processMetrics?: boolean;
  version?: string;
  env?: NodeJS.ProcessEnv;
  /** `serve --discover`: scan for local servers at start and use every one found, unasked. */
  discover?: boolean;
}

export interface Relay {
  readonly config: Config;
  readonly dataDir: string;
  readonly hub: EventHub;
  readonly metrics: Metrics;
  readonly keys: KeyStore;
  readonly providers: readonly Provider[];
  readonly resolver: RelayResolver;
  readonly health: RelayHealthCache;
  readonly admission: Admission;
  readonly pool: Pool;
  /** The one "can this instance serve?" answer and its credit cool-downs (`pool.availability`). */
  readonly availability: AvailabilityModel;
  readonly ledger: Ledger;
  readonly secrets: SecretStore;
  readonly app: FastifyInstance;
  readonly log: Logger;
  readonly version?: string;
  readonly rendererDir?: string;
  /** The admin token in force. */
  adminToken(): string;
  /** Secrets generated on this start (first run only): the host shows them once. */
  readonly firstRun: { apiKey?: string; adminToken?: string };
  start(): Promise<void>;
  /** Listen; resolves with the base URL (real port when 0 was asked for). */
  listen(opts?: { host?: string; port?: number }): Promise<string>;
  /** Base URL once listening (`http://127.0.0.1:8420`); empty before. */
  url(): string;
  stop(): Promise<void>;
  reloadAliases(): ReloadOutcome | undefined;
  /** Apply live settings already written into `config` (admission limits). */
  /** Apply a settings change at once and save it for the next start (`<data dir>/settings.json`). */
  applySettings(change: LiveSettings): void;
  /** Local servers and an installed Lingma found on this machine, offered to a person. */
  readonly discovery: Discovery;
  /**
   * Add an OpenAI-compatible provider while running (routing, health and the dashboard see it at
   * once) and keep it for the next start (`settings.json`). Throws when the name is taken.
   */
  addProvider(cfg: ProviderConfig): Promise<void>;
}

/** The saved settings file: the settings API's keys plus the providers added while running. */
function parseSavedSettings(raw: unknown): LiveSettings {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return parseSettings(raw);
  const { providers, ...rest } = raw as Record<string, unknown>;
  const out: LiveSettings = parseSettings(rest);
  if (providers !== undefined) out.providers = parseSavedProviders(providers);
  return out;
}

/** What the admin API gets from the relay (one typed object; nothing optional). */
function adminDeps(relay: Relay, aliases: AliasSource): AdminDeps {
  const lingma = relay.providers.find((p): p is LingmaProvider => p instanceof LingmaProvider);
  return {
    config: relay.config,
    hub: relay.hub,
    providers: () => relay.providers,
    accounts: lingma?.accounts ?? null,
    sessionCache: lingma ? () => lingma.sessionCacheStats() : null,
    resolver: relay.resolver,
    aliases,
    health: relay.health,
    admission: relay.admission,
    availability: relay.availability,
    pool: relay.pool,
    keys: relay.keys,
    ledger: relay.ledger,
    secrets: relay.secrets,
    url: () => relay.url(),
    applySettings: (patch) => relay.applySettings(patch),
    rendererDir: relay.rendererDir ?? defaultRendererDir(),
    version: relay.version ?? '0.1.0',
    dataDir: relay.dataDir,
    // Read at call time: discovery is created after the providers, like the rest of the relay.
    discovery: {
      view: () => relay.discovery.view(),
      scan: () => relay.discovery.scan(),
      use: (id) => relay.discovery.use(id),
    },
  };
}

/** `http://host:port` with IPv6 hosts in brackets. */
export function baseUrl(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

const ALIASES_STUB = '# Aliases edited in the dashboard. Same shape as `aliases:` in the config file; entries here win.\n';

export async function createRelay(opts: RelayOptions): Promise<Relay> {
  const { config, dataDir } = opts;
  const clock = opts.clock ?? systemClock;
  const hub = opts.hub ?? new EventHub();
  // Settings saved from the dashboard are newer than the config file: lay them over it first.
  let savedSettings: LiveSettings = {};
  let settingsProblem: string | undefined;
  try {
    const raw = readLiveSettingsFile(dataDir);
    if (raw !== undefined) savedSettings = parseSavedSettings(raw);
  } catch (e) {
    settingsProblem = e instanceof Error ? e.message : String(e);
  }
  applyLiveSettings(config, savedSettings);
  const log = opts.logger ?? createLogger({ level: config.server.logLevel, hub });
  if (settingsProblem) log.warn({ file: join(dataDir, LIVE_SETTINGS_FILE), problem: settingsProblem }, 'saved dashboard settings ignored');
  else if (Object.keys(savedSettings).length) log.info({ settings: Object.keys(savedSettings) }, 'settings saved from the dashboard applied over the config');
  ensureDataDir(dataDir, { onTightened: (mode) => log.info({ dataDir, was: mode.toString(8), now: '700' }, 'data dir permissions tightened to owner-only') });
  const metrics = new Metrics({ processMetrics: opts.processMetrics ?? true });

  // Team mode: keys, budgets and concurrency shared through Redis (absent: all in this process).
  const shared = config.cluster ? await openSharedState(config.cluster, log.child({ module: 'cluster' })) : undefined;

  // SECURITY: keys and the admin token come from config or 0600 files in the data dir.
  const keys = KeyStore.open({ config, dataDir, clock, repository: shared?.keys });
  const admin = ensureAdminToken(config, dataDir);
  const firstRun = { apiKey: keys.generated, adminToken: admin.generated };

  // Team mode: account passwords sealed in Redis, each account run by the node holding its lease.
  const secrets = shared?.secrets ?? opts.secrets;
  const registryDeps = {
    accountLeases: shared?.leases,
    forwarder: shared?.forwarder,
    config, dataDir, secrets, log, hub, metrics, spawner: opts.spawner, loginDriver: opts.loginDriver, lingma: opts.lingma, env: opts.env,
  };
  const providers = createProviders(registryDeps);
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
  const pool = createPool({ health, metrics, waitMs: config.limits.queueTimeoutMs, availability });
  const limits = config.limits;
  const admission = createAdmission(
    { maxInFlight: limits.maxInFlight, queueTimeoutMs: limits.queueTimeoutMs, perKeyConcurrency: limits.perKeyConcurrency, perKeyQueue: limits.perKeyQueue },
    metrics,
    shared?.slots,
  );

  // Always created: with `ledger.enabled: false` it writes no file, but per-key budgets (rpm,
  // tokensPerDay, expiry) still count in memory and the usage routes answer "disabled".
  const ledger: Ledger = createLedger({ dbPath: join(dataDir, 'usage.db'), config: config.ledger, log: log.child({ module: 'ledger' }), registry: metrics.registry, clock });

  const chat = createDispatcher({
    resolver,
    providers: () => providers,
    pool,
    admission,
    health,
    limits,
    // Every request ends in one outcome: counted in metrics, shown live, written to the ledger.
    observers: [requestMetrics(metrics), liveRequests(hub), usageLedger((rec) => ledger.record(rec)), ...(shared ? [budgetTokens(shared.budget)] : [])],
    errorRules: () => config.errorRules,
    // One budget port: the ledger's in-memory counters, or in team mode the cluster's.
    checkBudget: (caller) => (shared ? shared.budget.check(caller.keyId, caller.limits, clock.now()) : ledger.checkBudget(caller.keyId, caller.limits, clock.now())),
    clock,
    log,
  });

  // Instance state -> relay_backend_ready and hub events (Lingma instances emit their own hub events).
  const watched = new WeakSet<Instance>();
  const known = new Set<string>();
  const onState = (snap: InstanceSnapshot, _prev: InstanceState, inst: Instance) => {
    metrics.backendReady.set({ backend: snap.name }, snap.state === 'ready' ? 1 : 0);
    if (inst.kind !== 'lingma') hub.emit('instance', snap);
  };
  const watchInstances = () => {
    const now = new Set<string>();
    for (const inst of allInstances()) {
      now.add(inst.name);
      metrics.backendReady.set({ backend: inst.name }, inst.state() === 'ready' ? 1 : 0);
      if (watched.has(inst)) continue;
      watched.add(inst);
      inst.events.on('state', (snap, prev) => onState(snap, prev, inst));
    }
    for (const name of known) if (!now.has(name)) metrics.backendReady.remove({ backend: name });
    known.clear();
    for (const n of now) known.add(n);
  };
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
    secrets,
    app: undefined as unknown as FastifyInstance,
    log,
    version: opts.version,
    rendererDir: opts.rendererDir,
    firstRun,
    adminToken: () => admin.token,
    discovery: undefined as unknown as Discovery,
    async addProvider(cfg) {
      if (providers.some((p) => p.name === cfg.name)) throw errors.invalid(`A provider named '${cfg.name}' exists already.`, 'name', 'provider_exists');
      const provider = createConfiguredProvider(cfg, registryDeps);
      config.providers.push(cfg);
      (providers as Provider[]).push(provider);
      savedSettings = saveLiveSettings(dataDir, { providers: [...(savedSettings.providers ?? []).filter((p) => p.name !== cfg.name), cfg] }, savedSettings);
      // Before start() has started the providers, start() starts this one with the others.
      if (providersStarted) await provider.start();
      hub.emit('config', 'providers');
    },
    async start() {
      if (started) return;
      started = true;
      // A first start looks for what is already here (bounded by discovery.timeoutMs); found
      // servers are only offered, unless the host was started with --discover.
      if ((firstStart && config.discovery.enabled) || opts.discover) {
        await relay.discovery.scan();
        if (opts.discover) await relay.discovery.useAll();
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
      try {
        await relay.app.listen({ host, port });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new Error(`Port ${port} on ${host} is already in use (is another Lingma Relay running?). Pick another with --port.`);
        if (code === 'EADDRNOTAVAIL') throw new Error(`Cannot listen on ${host}: no such address on this machine.`);
        if (code === 'EACCES') throw new Error(`Not allowed to listen on ${host}:${port} (ports below 1024 need privileges).`);
        throw e;
      }
      const addr = relay.app.server.address() as AddressInfo;
      listening = { host, port: addr.port };
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
        // 1. Stop accepting; in-flight requests continue.
        const closed = relay.app.close();
        // 2. Let them finish, bounded.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          admission.idle(),
          new Promise<void>((r) => {
            timer = setTimeout(r, config.limits.shutdownGraceMs);
            timer.unref?.();
          }),
        ]);
        clearTimeout(timer);
        relay.app.server.closeAllConnections?.();
        await closed.catch((e) => log.warn({ err: String(e) }, 'gateway close failed'));
        // 3. Persist usage, stop background work and backends.
        prober?.stop();
        recheck = undefined;
        availability.stop();
        aliasSource.close();
        healthObserver.stop();
        hub.off('config', onConfigEvent);
        await ledger.close().catch((e) => log.warn({ err: String(e) }, 'ledger close failed'));
        await Promise.allSettled(providers.map((p) => p.stop()));
        await shared?.close().catch((e) => log.warn({ err: String(e) }, 'cluster close failed'));
        listening = undefined;
      })();
      return stopping;
    },
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
    env: opts.env,
    providers: () => providers,
    addProvider: (cfg) => relay.addProvider(cfg),
    onChange: () => hub.emit('config', 'discovery'),
  });

  const plugins: GatewayPlugin[] = [
    // The three protocol front ends, registered the one way (tests that build a gateway use it too).
    ...frontendPlugins({
      chat,
      providers: () => providers,
      resolver: () => resolver,
      limits: () => config.limits,
      maxBodyBytes: config.limits.maxBodyBytes,
    }),
    { plugin: routingRoutes, opts: { resolver: () => resolver, health, providers: () => providers, inFlight: (n: string) => pool.inFlight(n) } },
    // SECURITY: usage queries are admin-only: they live in the admin scope with every other admin route.
    adminPlugin(adminDeps(relay, aliasSource), { routes: [{ plugin: ledgerRoutes, opts: { ledger } }] }),
  ];
  // Team mode: calls other nodes forward for the accounts this node runs (cluster scope, signed).
  if (shared) {
    const lingma = providers.find((p): p is LingmaProvider => p instanceof LingmaProvider);
    plugins.push({ plugin: clusterRoutes, opts: { localInstance: (name: string) => lingma?.localInstance(name) } });
  }
  plugins.push(...(opts.extraPlugins ?? []));

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
    extraOrigins: opts.extraOrigins,
    version: opts.version,
    clusterNode: shared ? (req) => verifyNodeRequest(shared.crypto, req) : undefined,
  });
  return relay;
}
