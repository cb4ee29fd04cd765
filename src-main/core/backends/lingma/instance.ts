/**
 * One Lingma account = one supervised Lingma process (supervisor.ts) + its sign-in (signin.ts),
 * serving chats through the runtime's dialect (turns.ts, dialect-*.ts). This file is the facade
 * that implements `Instance` (core/backends/types.ts) and wires those parts together.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ChatEvent, ChatRequest } from '../../chat/model';
import { errors, type RelayError } from '../../errors';
import type { EventHub } from '../../events';
import type { ProcessSpawner } from '../../ports';
import type { CallContext, Instance, InstanceEvents, InstanceSnapshot, InstanceState, LoginState, ModelInfo } from '../types';
import type { DialectEnv } from './dialect';
import type { LoginCoordinator } from './login/coordinator';
import { flattenModels } from './models';
import type { PidRegistry } from './process';
import { RpcError } from './rpc';
import { safeJoin } from '../../safe-path';
import type { SessionCache } from './session-cache';
import { Signin } from './signin';
import { LingmaSupervisor, type BackoffOptions } from './supervisor';
import { isAgentRequest, runChat, type TurnHost } from './turns';
import { abortable } from '../../abort';

import type { LingmaAccount, LingmaConfig } from './types';

/** supervisor.ts (owned elsewhere) still reads the settings type from here. */
export type { LingmaConfig } from './types';

export interface LingmaInstanceDeps {
  provider: string;
  account: LingmaAccount;
  /** Live settings: read at each use so reloads apply. */
  config: () => LingmaConfig;
  dataDir: string;
  spawner: ProcessSpawner;
  pids: PidRegistry;
  sessions: SessionCache;
  log: Logger;
  hub?: EventHub;
  login?: LoginCoordinator;
  password: () => Promise<string | undefined>;
  /** Called with this instance's model list whenever it is (re)read. */
  onModels: (instance: string, models: ModelInfo[]) => void;
  /** Called when a turn's runtime reports a model's context window. */
  onContextLimit?: (model: string, tokens: number) => void;
  env?: NodeJS.ProcessEnv;
  backoff?: BackoffOptions;
  /** Grace period between SIGINT and SIGKILL. */
  stopGraceMs?: number;
  /** Extra `chat/ask` parameters (the spec's unknown fields), merged over the defaults. */
  askDefaults?: Record<string, unknown>;
  clientVersion?: string;
  /**
   * Team mode: why this account does not run here now (`runs on node b`), or undefined when it
   * does. Checked before anything starts the process or a sign-in (the account's lease, held by
   * one node at a time, decides: `cluster/redis-leases.ts`).
   */
  elsewhere?: () => string | undefined;
}

export class LingmaInstance implements Instance {
  readonly kind = 'lingma';
  readonly events = new EventEmitter<InstanceEvents>();
  readonly name: string;
  readonly provider: string;
  private inFlight = 0;
  private liveModels: ModelInfo[] = [];
  private readonly log: Logger;
  private readonly sup: LingmaSupervisor;
  private readonly signin: Signin;
  private readonly turnHost: TurnHost;

  constructor(private readonly deps: LingmaInstanceDeps) {
    this.name = deps.account.name;
    this.provider = deps.provider;
    this.log = deps.log.child({ instance: this.name });
    this.events.setMaxListeners(0);
    this.sup = new LingmaSupervisor({
      name: this.name,
      workDir: this.workDir,
      config: deps.config,
      spawner: deps.spawner,
      pids: deps.pids,
      log: this.log,
      env: deps.env,
      backoff: deps.backoff,
      stopGraceMs: deps.stopGraceMs,
      clientVersion: deps.clientVersion,
      onState: (prev) => {
        const snap = this.snapshot();
        this.events.emit('state', snap, prev);
        this.deps.hub?.emit('instance', snap);
      },
      onReady: () => this.afterReady(),
      onProcessGone: () => this.deps.sessions.dropInstance(this.name),
      onPush: (method) => {
        // A token refresh pushed by the binary: re-read the login (expiry, quota).
        if (method === 'auth/syncTokenUpdate') void this.signin.refresh().catch(() => undefined);
      },
    });
    this.signin = new Signin({
      name: this.name,
      username: () => this.deps.account.username,
      dedicatedDomain: () => this.deps.account.dedicatedDomain,
      login: deps.login,
      password: deps.password,
      rpc: () => this.sup.requireRpc(),
      httpPort: () => this.sup.ports?.http,
      log: this.log,
      changed: () => this.emitLogin(),
    });
    this.turnHost = this.makeTurnHost();
  }

  get account(): LingmaAccount {
    return this.deps.account;
  }

  /** Apply an edited account (limits, disabled flag); identity changes need a restart. */
  setAccount(account: LingmaAccount): void {
    this.deps.account = account;
    this.emitLogin();
  }

  get maxConcurrency(): number {
    return this.deps.account.maxConcurrency ?? this.deps.config().maxConcurrencyPerInstance;
  }

  get workDir(): string {
    return safeJoin(join(this.deps.dataDir, 'lingma'), this.name);
  }

  /** The simulator's / binary's HTTP port (login callback). */
  get httpPort(): number | undefined {
    return this.sup.ports?.http;
  }

  state(): InstanceState {
    return this.sup.state;
  }

  loginState(): LoginState {
    return this.signin.state();
  }

  snapshot(): InstanceSnapshot {
    const s = this.sup;
    const quota = this.signin.auth.loggedIn ? this.signin.auth.quota : undefined;
    return {
      name: this.name,
      provider: this.provider,
      kind: this.kind,
      state: s.state,
      reason: s.reason,
      login: this.loginState(),
      startedAt: s.startedAt,
      restarts: s.restarts,
      lastError: s.lastError,
      quota: this.signin.auth.loggedIn ? { ...(quota ?? { exceeded: false }) } : undefined,
      extra: {
        username: this.deps.account.username,
        source: this.deps.account.source,
        dedicatedDomain: this.deps.account.dedicatedDomain,
        pid: s.pid,
        socketPort: s.ports?.socket,
        httpPort: s.ports?.http,
        version: s.version,
        binary: s.binary?.path,
        binaryVersion: s.binary?.version,
        binaryFrom: s.binary?.label,
        dialect: s.dialect?.name,
        inFlight: this.inFlight,
        sessions: this.deps.sessions.entriesFor(this.name),
      },
    };
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.deps.account.disabled) {
      this.sup.setState('stopped', 'the account is disabled');
      return;
    }
    const away = this.deps.elsewhere?.();
    if (away) {
      this.sup.setState('stopped', away);
      return;
    }
    this.sup.stopping = false;
    this.sup.halted = false;
    if (this.sup.state === 'ready') return;
    await this.sup.boot('starting').catch(() => undefined);
  }

  /**
   * The relay began stopping: in-flight answers may finish, but a process that exits from now on
   * (e.g. it got the terminal's Ctrl-C too) is not restarted, and no request starts one.
   */
  prepareStop(): void {
    this.sup.halted = true;
    this.sup.clearRecoverTimer();
  }

  async stop(): Promise<void> {
    await this.shutdown('stopped');
  }

  /** Stop for good (the account was removed). */
  async close(): Promise<void> {
    await this.shutdown('closed');
    this.deps.login?.cancel(this.name);
  }

  async restart(): Promise<void> {
    await this.shutdown('stopped');
    const away = this.deps.elsewhere?.();
    if (away) {
      this.sup.setState('stopped', away);
      return;
    }
    this.sup.stopping = false;
    this.sup.restarts++;
    await this.sup.boot('starting').catch(() => undefined);
  }

  private async shutdown(final: 'stopped' | 'closed'): Promise<void> {
    this.deps.sessions.dropInstance(this.name);
    this.signin.auth = { loggedIn: false };
    await this.sup.shutdown(final);
  }

  async ensureReady(signal: AbortSignal): Promise<void> {
    await this.ensureProcessReady(signal);
    await this.ensureLoggedIn(signal);
  }

  private async ensureProcessReady(signal: AbortSignal): Promise<void> {
    if (this.sup.state === 'closed') throw errors.unavailable(`Lingma instance ${this.name} was removed.`);
    if (this.deps.account.disabled) throw errors.unavailable(`Lingma account ${this.name} is disabled.`);
    const away = this.deps.elsewhere?.();
    if (away) throw errors.unavailable(`Lingma account ${this.name} ${away}.`, { code: 'account_elsewhere' });
    await this.sup.ensureProcessReady(signal);
  }

  async probe(signal: AbortSignal): Promise<void> {
    if (this.sup.state !== 'ready' || !this.sup.rpc) throw errors.unavailable(`Lingma instance ${this.name} is ${this.sup.state}.`);
    try {
      await this.signin.refresh(signal);
    } catch (e) {
      if (e instanceof RpcError && e.kind === 'timeout') this.sup.noteUnresponsive('auth/status timed out');
      throw e;
    }
    this.sup.noteAnswered();
    if (!this.signin.auth.loggedIn) throw this.signin.notLoggedInError();
  }

  // ------------------------------------------------------------------ login

  /** Dashboard "log in": always tries (auto-login when a password is known, else a manual link). */
  async login(): Promise<void> {
    await this.ensureProcessReady(new AbortController().signal);
    if (!this.deps.login) throw errors.unavailable('Login is not available in this host.');
    const state = await this.deps.login.ensureLoggedIn(await this.signin.target(), { force: true, auto: true });
    if (state.state === 'logged_in') await this.afterLogin();
  }

  async logout(): Promise<void> {
    const rpc = this.sup.rpc;
    if (rpc && this.sup.state === 'ready') {
      try {
        await rpc.request('auth/logout', {});
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'auth/logout failed');
      }
    }
    this.signin.auth = { loggedIn: false };
    this.deps.sessions.dropInstance(this.name);
    if (this.deps.login) await this.deps.login.clear(this.name);
    else this.signin.setLocal({ state: 'logged_out' });
    this.emitLogin();
    this.liveModels = [];
    this.deps.onModels(this.name, []);
  }

  /** The login coordinator reported a change (provider forwards it). */
  onLoginState(state: LoginState): void {
    this.emitLogin();
    if (state.state === 'logged_in' && !this.signin.auth.loggedIn) void this.afterLogin().catch(() => undefined);
  }

  private async ensureLoggedIn(signal: AbortSignal): Promise<void> {
    if (this.signin.auth.loggedIn) return;
    // Our view may be stale (a manual login in the dashboard's browser).
    await this.signin.refresh(signal).catch(() => undefined);
    if (this.signin.auth.loggedIn) return;
    const coord = this.deps.login;
    if (coord && (this.deps.config().login.auto || coord.busy(this.name))) {
      const current = coord.state(this.name);
      // Auto-login only from "logged out" or a login already running: never loop on failures.
      if (current.state === 'logged_out' || current.state === 'logging_in' || coord.busy(this.name)) {
        const result = await abortable(coord.ensureLoggedIn(await this.signin.target()), signal);
        if (result.state === 'logged_in') {
          await this.afterLogin();
          return;
        }
      }
    }
    throw this.signin.notLoggedInError();
  }

  private async afterLogin(): Promise<void> {
    await this.signin.refresh();
    if (this.signin.auth.loggedIn) await this.refreshModels().catch((e) => this.log.warn({ err: (e as Error).message }, 'config/queryModels failed'));
  }

  private async refreshModels(): Promise<ModelInfo[]> {
    const r = await this.sup.requireRpc().request<Record<string, unknown> | null>('config/queryModels', {});
    this.liveModels = flattenModels(r);
    this.deps.onModels(this.name, this.liveModels);
    // Logged in and listed: learn the dialect now, so the dashboard shows it before the first chat.
    void this.sup.dialectFor().catch((e) => this.log.debug({ err: (e as Error).message }, 'dialect detection failed'));
    return this.liveModels;
  }

  /** After ready: read login state and models; kick off auto-login when logged out. */
  private afterReady(): void {
    void (async () => {
      try {
        await this.signin.refresh();
        if (this.signin.auth.loggedIn) {
          await this.refreshModels();
        } else if (this.deps.login && this.deps.config().login.auto) {
          const st = this.deps.login.state(this.name).state;
          if (st === 'logged_out' || st === 'logged_in') {
            const result = await this.deps.login.ensureLoggedIn(await this.signin.target());
            if (result.state === 'logged_in') await this.afterLogin();
          }
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'reading the login state failed');
      }
    })();
  }

  private emitLogin(): void {
    const snap = this.snapshot();
    this.events.emit('login', snap);
    this.deps.hub?.emit('instance', snap);
  }

  // ------------------------------------------------------------------ chat

  /** Agent mode: the model is an agent model name, or an alias asked for it. */
  isAgent(req: ChatRequest): boolean {
    return isAgentRequest(req, this.deps.config());
  }

  chat(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent> {
    return this.chatStream(req, ctx);
  }

  /** Drop an upstream session the cache evicted (best effort, only on the process that holds it). */
  dropSession(sessionId: string): void {
    const rpc = this.sup.rpc;
    const dialect = this.sup.dialect;
    if (!rpc || rpc.closed || !dialect) return;
    dialect.dropSession(rpc, sessionId).catch((e) => this.log.debug({ err: (e as Error).message }, 'chat/deleteSessionById failed'));
  }

  private async *chatStream(req: ChatRequest, ctx: CallContext): AsyncGenerator<ChatEvent> {
    if (this.sup.state !== 'ready') await this.ensureReady(ctx.signal);
    else await this.ensureLoggedIn(ctx.signal);
    if (!this.liveModels.length) await this.refreshModels().catch(() => undefined);
    this.inFlight++;
    try {
      yield* runChat(this.turnHost, req, ctx);
    } finally {
      this.inFlight--;
    }
  }

  private makeTurnHost(): TurnHost {
    return {
      name: this.name,
      sessions: this.deps.sessions,
      log: this.log,
      config: () => this.deps.config(),
      models: () => this.liveModels,
      sawContextLimit: (model, tokens) => this.deps.onContextLimit?.(model, tokens),
      dialect: (signal) => this.sup.dialectFor(signal),
      env: (ctx): DialectEnv => {
        mkdirSync(this.sup.cwd, { recursive: true, mode: 0o700 });
        return {
          rpc: this.sup.requireRpc(),
          signal: ctx.signal,
          log: ctx.log.child({ instance: this.name }),
          idleTimeoutMs: this.deps.config().answerIdleTimeoutMs,
          cwd: this.sup.cwd,
          askDefaults: this.deps.askDefaults,
          onSilent: (d) => this.sup.noteUnresponsive(d),
          onAnswered: () => this.sup.noteAnswered(),
        };
      },
      expired: (err: RelayError) => this.signin.expired(err),
      askDefaults: this.deps.askDefaults,
    };
  }
}
