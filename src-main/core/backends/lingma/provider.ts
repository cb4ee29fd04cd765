/**
 * The `lingma` provider: a pool of Lingma instances (one per account), their models, session
 * reuse. The account/login operations the admin API calls are `accounts` (`accounts-api.ts`).
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ChatRequest } from '../../chat/model';
import { DEFAULT_LOGIN_RECIPE, type Config } from '../../config/schema';
import type { EventHub } from '../../events';
import type { BackendMetrics } from '../../metrics-port';
import type { Clock, LoginDriver, ProcessSpawner, SecretStore } from '../../ports';
import type { AccountLeases, ChatForwarder } from '../../cluster/ports';
import { RemoteAccount } from './remote';
import type { CallContext, Capabilities, Instance, InstanceSnapshot, ModelInfo, Provider, ProviderEvents } from '../types';
import { findLingmaBinary } from './binary';
import { AccountStore } from './accounts';
import { LingmaAccounts, type LingmaAccountsApi } from './accounts-api';
import { AttachedInstance } from './attach/attached';
import type { AttachTarget } from './attach/discover';
import type { AttachedChatFactory } from './attach/seam';
import { AttachWatcher, type AttachWatchOptions } from './attach/watch';
import { LingmaInstance } from './instance';
import type { BackoffOptions } from './supervisor';
import type { LingmaAccount } from './types';
import { LoginCoordinator } from './login/coordinator';
import { PidRegistry } from './process';
import { SessionCache, type SessionCacheStats } from './session-cache';
import { ModelCatalog } from './model-catalog';

export interface LingmaProviderDeps {
  /** The whole config, or a getter for live reloads. */
  config: Config | (() => Config);
  dataDir: string;
  spawner: ProcessSpawner;
  secrets: SecretStore;
  log: Logger;
  hub?: EventHub;
  metrics?: BackendMetrics;
  /** Completes sign-ins in a browser (headless Chromium, or the desktop's hidden window). */
  loginDriver?: LoginDriver;
  /** Use this coordinator instead of building one (tests, or a host sharing one). */
  loginCoordinator?: LoginCoordinator;
  env?: NodeJS.ProcessEnv;
  /** Session TTLs and sign-in waits (default: the system clock). */
  clock?: Clock;
  backoff?: BackoffOptions;
  stopGraceMs?: number;
  /** Extra `chat/ask` parameters for the protocol's unknown fields. */
  askDefaults?: Record<string, unknown>;
  /** Provider name; `lingma` by default. */
  name?: string;
  /** Where and how often to look for a running Lingma / Qoder CN app (`lingma.attach: auto`). */
  attach?: AttachWatchOptions;
  /** Chat driver for an attached app (default: attach/seam.ts). */
  attachedChat?: AttachedChatFactory;
  /** Team mode: an account runs only on the node holding its lease (absent: every account runs here). */
  leases?: AccountLeases;
  /** Team mode: calls for an account another node runs go there. */
  forwarder?: ChatForwarder;
}

export interface LingmaProviderStats {
  sessionCache: SessionCacheStats;
  instances: InstanceSnapshot[];
}

export class LingmaProvider implements Provider {
  readonly name: string;
  readonly kind = 'lingma';
  /** Images: yes on vision (`isVl`) models; the instance answers 400 naming one for the others. */
  readonly capabilities: Capabilities = { tools: false, images: true, embeddings: false };
  readonly events = new EventEmitter<ProviderEvents>();
  readonly sessions: SessionCache;
  /** The models it offers (`model-catalog.ts`). */
  private readonly catalog: ModelCatalog;
  /** The account operations (list, add, edit, remove, sign in/out, restart): `accounts-api.ts`. */
  readonly accounts: LingmaAccountsApi;
  private readonly store: AccountStore;
  readonly loginCoordinator: LoginCoordinator;
  private readonly list: LingmaInstance[] = [];
  /** Team mode: stand-ins for the accounts other nodes run (`remote.ts`), by name. */
  private readonly remotes = new Map<string, RemoteAccount>();
  /** A running app served through (spec §7); never owned: never stopped, restarted or logged out. */
  private attached: AttachedInstance | undefined;
  private watcher: AttachWatcher | undefined;
  private readonly pids: PidRegistry;
  private readonly log: Logger;
  private initial: Promise<void> = Promise.resolve();
  private started = false;
  /** Set by prepareStop()/stop(): no (re)start until the next start(). */
  private halting = false;

  constructor(private readonly deps: LingmaProviderDeps) {
    this.name = deps.name ?? 'lingma';
    this.log = deps.log.child({ provider: this.name });
    const cfg = this.config();
    this.sessions = new SessionCache({
      enabled: cfg.sessionCache.enabled,
      maxEntries: cfg.sessionCache.maxEntries,
      ttlSec: cfg.sessionCache.ttlSec,
      onHit: () => deps.metrics?.sessionCacheHits.inc(),
      onMiss: () => deps.metrics?.sessionCacheMisses.inc(),
      onEvict: (e) => this.find(e.instance)?.dropSession(e.sessionId),
      clock: deps.clock,
    });
    this.store = new AccountStore(cfg.lingma.accounts, deps.dataDir, deps.secrets, this.log);
    this.pids = new PidRegistry(join(deps.dataDir, 'lingma', 'pids.json'), this.log);
    this.loginCoordinator =
      deps.loginCoordinator ??
      new LoginCoordinator({
        driver: deps.loginDriver,
        recipe: cfg.lingma.login.recipe ?? DEFAULT_LOGIN_RECIPE,
        auto: cfg.lingma.login.auto,
        timeoutMs: cfg.lingma.login.timeoutMs,
        maxRetries: cfg.lingma.login.maxRetries,
        allowedOrigins: () => this.config().lingma.login.allowedOrigins,
        log: this.log,
        clock: deps.clock,
      });
    this.loginCoordinator.on('state', (instance, state) => this.find(instance)?.onLoginState(state));
    this.catalog = new ModelCatalog({
      provider: this.name,
      dataDir: deps.dataDir,
      log: this.log,
      agentModels: () => this.config().lingma.agentModels,
      changed: () => this.events.emit('models'),
    });
    const self = this;
    this.accounts = new LingmaAccounts({
      store: this.store,
      sessions: this.sessions,
      loginCoordinator: this.loginCoordinator,
      dataDir: deps.dataDir,
      hub: deps.hub,
      list: this.list,
      attachedInstance: () => this.attached,
      createInstance: (account) => this.createInstance(account),
      async renameAttached() {
        // The account takes the name; the attached app is served on under a fresh one.
        const target = self.attached?.app;
        if (!target) return;
        await self.detach(false);
        self.attach(target);
        if (self.started && !self.halting) void self.attached?.start();
      },
      dropModels: (instance) => this.onModels(instance, []),
      running: () => ({ started: this.started, halting: this.halting }),
    });
  }

  private config(): Config {
    return typeof this.deps.config === 'function' ? this.deps.config() : this.deps.config;
  }

  instances(): readonly Instance[] {
    const list = this.deps.leases && this.deps.forwarder ? this.list.map((i) => this.routable(i)) : this.list;
    return this.attached ? [...list, this.attached] : list;
  }

  /** Team mode: the account itself when it runs here, else its stand-in that forwards to its node. */
  private routable(inst: LingmaInstance): Instance {
    const leases = this.deps.leases!;
    if (leases.holds(inst.name) || !leases.owner(inst.name) || inst.account.disabled) return inst;
    let r = this.remotes.get(inst.name);
    if (!r) {
      r = new RemoteAccount({
        name: inst.name,
        provider: this.name,
        maxConcurrency: inst.maxConcurrency,
        owner: () => (leases.holds(inst.name) ? undefined : leases.owner(inst.name)),
        forwarder: this.deps.forwarder!,
      });
      this.remotes.set(inst.name, r);
    }
    return r;
  }

  /** The instance this node runs for an account (forwarded calls land here), if it runs it. */
  localInstance(name: string): LingmaInstance | undefined {
    const inst = this.find(name);
    return inst && (!this.deps.leases || this.deps.leases.holds(name)) ? inst : undefined;
  }

  /** The attached app's instance, when one is served through. */
  attachedInstance(): AttachedInstance | undefined {
    return this.attached;
  }

  /** Typed access for tests and the admin API. */
  lingmaInstances(): readonly LingmaInstance[] {
    return this.list;
  }

  private find(name: string): LingmaInstance | undefined {
    return this.list.find((i) => i.name === name);
  }

  // ------------------------------------------------------------------ models

  models(): ModelInfo[] {
    return this.catalog.models();
  }

  resolveModel(name: string): string | undefined {
    return this.catalog.resolve(name);
  }

  private onModels(instance: string, models: ModelInfo[]): void {
    this.catalog.set(instance, models);
  }

  // ------------------------------------------------------------------ routing

  /** The instance owning the reusable upstream session of this conversation, if any. */
  preferredInstance(req: ChatRequest, ctx: CallContext): string | undefined {
    if (!this.sessions.enabled || req.messages.length < 2) return undefined;
    const inst = this.list[0];
    if (inst?.isAgent(req)) return undefined;
    const e = this.sessions.peek(this.sessions.keysFor(ctx.apiKeyId, req.messages).lookup);
    return e && this.instances().some((i) => i.name === e.instance) ? e.instance : undefined;
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * Kill orphans of an earlier run, create one instance per account and start them. Returns
   * without waiting for the processes: start-up failure is not fatal and the gateway should come
   * up at once. `whenStarted()` waits for the first start attempts.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.halting = false;
    const bin = findLingmaBinary({ setting: this.config().lingma.binary, env: this.deps.env ?? process.env });
    const killed = await this.pids.cleanupLeftovers(bin.found ? bin.path : undefined);
    if (killed) this.log.warn({ killed }, 'stopped Lingma processes left over by an earlier run');
    const attachedAtStart = this.startAttach();
    let accounts = this.store.all();
    // A signed-in app already running serves the zero-configuration first run: no extra process.
    if (!accounts.length && !attachedAtStart) {
      // No account configured: one instance the user can log in to from the dashboard.
      accounts = [{ name: 'lingma-1', username: '', source: 'default' }];
    }
    for (const a of accounts) if (!this.find(a.name)) this.list.push(this.createInstance(a));
    // Team mode: each account runs on the one node holding its lease; the others leave it stopped.
    this.deps.leases?.follow(() => this.list.filter((i) => !i.account.disabled).map((i) => i.name), {
      run: (name) => {
        if (!this.halting) void this.find(name)?.start();
        this.deps.hub?.emit('config', 'accounts');
      },
      halt: async (name) => {
        await this.find(name)?.stop();
        void this.find(name)?.start(); // stays stopped, saying which node runs it now
        this.deps.hub?.emit('config', 'accounts');
      },
      moved: (name) => {
        const inst = this.find(name);
        if (inst && !this.halting && inst.state() === 'stopped') void inst.start();
        this.deps.hub?.emit('config', 'accounts');
      },
    });
    this.initial = Promise.all([...this.list, ...(this.attached ? [this.attached] : [])].map((i) => i.start())).then(() => undefined);
  }

  /** `lingma.attach: auto`: look for a running app now and follow it. Returns what was found. */
  private startAttach(): AttachTarget | undefined {
    if (this.config().lingma.attach !== 'auto' || this.watcher) return undefined;
    const watcher = new AttachWatcher({ env: this.deps.env, log: this.log, ...this.deps.attach });
    this.watcher = watcher;
    watcher.on('found', (t) => {
      this.attach(t);
      void this.attached?.start();
    });
    watcher.on('moved', (t) => this.attached?.retarget(t));
    watcher.on('gone', (prev) => {
      this.log.info({ app: prev.appName }, `the ${prev.appName} app is no longer running`);
      void this.detach();
    });
    const found = watcher.start();
    if (found) this.attach(found);
    return found;
  }

  private attach(target: AttachTarget): void {
    if (this.attached) return;
    // Named after the app, never colliding with an account's instance.
    const taken = new Set([...this.list.map((i) => i.name), ...this.store.all().map((a) => a.name)]);
    const base = `${target.app}-app`;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    this.attached = new AttachedInstance({
      provider: this.name,
      name,
      target,
      config: () => this.config().lingma,
      dataDir: this.deps.dataDir,
      sessions: this.sessions,
      log: this.log,
      hub: this.deps.hub,
      onModels: (instance, models) => this.onModels(instance, models),
      chat: this.deps.attachedChat,
      backoff: this.deps.backoff,
    });
    this.log.info({ instance: name, app: target.appName, source: target.source }, `found a running ${target.appName} app; serving through it`);
    this.deps.hub?.emit('instance', this.attached.snapshot());
  }

  /** Forget the attached app (it quit, or the relay stops): only our connection is closed. */
  private async detach(announce = true): Promise<void> {
    const inst = this.attached;
    if (!inst) return;
    this.attached = undefined;
    await inst.stop();
    this.onModels(inst.name, []);
    if (announce) this.deps.hub?.emit('config', 'accounts');
  }

  whenStarted(): Promise<void> {
    return this.initial;
  }

  /**
   * The relay is about to stop: from now on no instance restarts or reconnects (a Ctrl-C in a
   * terminal reaches the Lingma processes too; they must not be brought back while we drain).
   */
  prepareStop(): void {
    this.halting = true;
    for (const i of this.list) i.prepareStop();
    this.watcher?.stop();
    this.attached?.prepareStop();
  }

  async stop(): Promise<void> {
    this.halting = true;
    this.watcher?.stop();
    this.watcher = undefined;
    await this.detach();
    await Promise.allSettled(this.list.map((i) => i.stop()));
    if (!this.deps.loginCoordinator) await this.loginCoordinator.close();
    this.started = false;
    this.list.splice(0);
  }

  private createInstance(account: LingmaAccount): LingmaInstance {
    return new LingmaInstance({
      provider: this.name,
      account,
      config: () => this.config().lingma,
      dataDir: this.deps.dataDir,
      spawner: this.deps.spawner,
      pids: this.pids,
      sessions: this.sessions,
      log: this.log,
      hub: this.deps.hub,
      login: this.loginCoordinator,
      onContextLimit: (model, tokens) => this.catalog.sawContextLimit(model, tokens),
      password: () => this.store.password(account.name),
      onModels: (instance, models) => this.onModels(instance, models),
      env: this.deps.env,
      backoff: this.deps.backoff,
      clock: this.deps.clock,
      stopGraceMs: this.deps.stopGraceMs,
      askDefaults: this.deps.askDefaults,
      elsewhere: this.deps.leases ? () => this.elsewhere(account.name) : undefined,
    });
  }

  /** Team mode: why an account does not run on this node now, or undefined when it does. */
  private elsewhere(name: string): string | undefined {
    const leases = this.deps.leases!;
    if (leases.holds(name)) return undefined;
    const owner = leases.owner(name);
    return owner ? `runs on node ${owner}` : 'waits for a node to take its lease';
  }

  stats(): LingmaProviderStats {
    return { sessionCache: this.sessions.stats(), instances: this.list.map((i) => i.snapshot()) };
  }

  /** Session-reuse counters for the admin state. */
  sessionCacheStats(): SessionCacheStats {
    return this.sessions.stats();
  }
}
