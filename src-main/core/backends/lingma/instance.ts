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
import type { Clock, ProcessSpawner } from '../../ports';
import type { CallContext, Instance, InstanceEvents, InstanceSnapshot, InstanceState, LoginState, ModelInfo } from '../types';
import type { DialectEnv } from './dialect';
import type { LoginCoordinator } from './login/coordinator';
import { AccountLogin } from './account-login';
import type { PidRegistry } from './process';
import { RpcError } from './rpc';
import { safeJoin } from '../../safe-path';
import type { SessionCache } from './session-cache';
import { Signin } from './signin';
import { LingmaSupervisor, type BackoffOptions } from './supervisor';
import { isAgentRequest, runChat, type TurnHost } from './turns';

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
  /** The supervisor's recovery backoff and ready waits (default: the system clock). */
  clock?: Clock;
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
  private readonly log: Logger;
  private readonly sup: LingmaSupervisor;
  private readonly signin: Signin;
  private readonly turnHost: TurnHost;
  private readonly accountLogin: AccountLogin;

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
      clock: deps.clock,
      clientVersion: deps.clientVersion,
      onState: (prev) => {
        const snap = this.snapshot();
        this.events.emit('state', snap, prev);
        this.deps.hub?.emit('instance', snap);
      },
      onReady: () => this.accountLogin.afterReady(),
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
    this.accountLogin = new AccountLogin({
      name: this.name,
      sup: this.sup,
      signin: this.signin,
      sessions: deps.sessions,
      log: this.log,
      login: deps.login,
      config: deps.config,
      onModels: deps.onModels,
      changed: () => this.emitLogin(),
      clock: deps.clock,
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
    await this.accountLogin.ensureLoggedIn(signal);
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

  // ------------------------------------------------------------------ login (account-login.ts)

  /** Dashboard "Sign in". */
  async login(): Promise<void> {
    await this.ensureProcessReady(new AbortController().signal);
    await this.accountLogin.login();
  }

  async logout(): Promise<void> {
    await this.accountLogin.logout();
  }

  /** The login coordinator reported a change (provider forwards it). */
  onLoginState(state: LoginState): void {
    this.accountLogin.onLoginState(state);
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
    else await this.accountLogin.ensureLoggedIn(ctx.signal);
    if (!this.accountLogin.models.length) await this.accountLogin.refreshModels().catch(() => undefined);
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
      models: () => this.accountLogin.models,
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
