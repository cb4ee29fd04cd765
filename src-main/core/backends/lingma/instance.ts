/**
 * One Lingma account = one supervised Lingma process + one JSON-RPC connection.
 *
 * State machine: stopped → starting → ready; a process exit or a dropped socket → reconnecting
 * (restart / reconnect with capped exponential backoff and jitter) → ready; start-up failure →
 * failed(reason), retried by `ensureReady` on the next request; `stop()` → stopped; `close()` →
 * closed (the account was removed). Every transition is emitted.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ChatEvent, ChatMessage, ChatRequest, FinishReason } from '../../chat/model';
import type { Config } from '../../config/schema';
import { errors, RelayError, toRelayError } from '../../errors';
import type { EventHub } from '../../events';
import type { LoginCredentials, ProcessSpawner } from '../../ports';
import type { CallContext, Instance, InstanceEvents, InstanceSnapshot, InstanceState, LoginState, ModelInfo } from '../types';
import { findLingmaBinary } from './binary';
import type { LoginCoordinator, LoginTarget } from './login/coordinator';
import { safeJoin } from '../../safe-path';
import { freePorts, spawnLingma, waitForPort, type LingmaProcess, type PidRegistry } from './process';
import { assertTextOnly, estimateTokens, renderConversation, renderTurn } from './prompt';
import { RpcConnection, RpcError } from './rpc';
import type { SessionCache } from './session-cache';

export type LingmaConfig = Config['lingma'];

export interface LingmaAccount {
  /** Instance name (`lingma.accounts[].name`, or derived from the user name). */
  name: string;
  username: string;
  dedicatedDomain?: string;
  maxConcurrency?: number;
  disabled?: boolean;
  source: 'config' | 'runtime' | 'default';
}

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Consecutive failed recoveries before the instance is `failed` (ensureReady then retries). */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, maxAttempts: 8 };

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
  env?: NodeJS.ProcessEnv;
  backoff?: BackoffOptions;
  /** Grace period between SIGINT and SIGKILL. */
  stopGraceMs?: number;
  /** Extra `chat/ask` parameters (the spec's unknown fields), merged over the defaults. */
  askDefaults?: Record<string, unknown>;
  clientVersion?: string;
}

interface AuthInfo {
  loggedIn: boolean;
  user?: string;
  quotaExceeded?: boolean;
}

interface StreamMsg {
  method: string;
  params: Record<string, unknown>;
}

const AGENT_FALLBACK_MODEL = 'auto';
/** Silent calls in a row before a 'ready' process is treated as wedged and recovered. */
const UNRESPONSIVE_LIMIT = 2;

export class LingmaInstance implements Instance {
  readonly kind = 'lingma';
  readonly events = new EventEmitter<InstanceEvents>();
  readonly name: string;
  readonly provider: string;
  private _state: InstanceState = 'stopped';
  private reason: string | undefined;
  private lastError: string | undefined;
  private startedAt: number | undefined;
  private restarts = 0;
  /** Consecutive calls the process accepted but never answered (see noteUnresponsive). */
  private unresponsive = 0;
  private proc: LingmaProcess | undefined;
  private rpc: RpcConnection | undefined;
  private ports: { socket: number; http: number } | undefined;
  private version: string | undefined;
  private binaryPath: string | undefined;
  private booting: Promise<void> | undefined;
  private recoverTimer: NodeJS.Timeout | undefined;
  private recoverAttempts = 0;
  private stopping = false;
  /** The relay is stopping (prepareStop): never (re)start or reconnect until start(). */
  private halted = false;
  private localLogin: LoginState = { state: 'logged_out' };
  private auth: AuthInfo = { loggedIn: false };
  private inFlight = 0;
  private readonly log: Logger;

  constructor(private readonly deps: LingmaInstanceDeps) {
    this.name = deps.account.name;
    this.provider = deps.provider;
    this.log = deps.log.child({ instance: this.name });
    this.events.setMaxListeners(0);
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
    return this.ports?.http;
  }

  state(): InstanceState {
    return this._state;
  }

  loginState(): LoginState {
    const s = this.deps.login ? this.deps.login.state(this.name) : this.localLogin;
    if (s.state === 'logged_in') return { state: 'logged_in', user: this.auth.user ?? s.user, quotaExceeded: this.auth.quotaExceeded || undefined };
    return s;
  }

  snapshot(): InstanceSnapshot {
    return {
      name: this.name,
      provider: this.provider,
      kind: this.kind,
      state: this._state,
      reason: this.reason,
      login: this.loginState(),
      startedAt: this.startedAt,
      restarts: this.restarts,
      lastError: this.lastError,
      extra: {
        username: this.deps.account.username,
        source: this.deps.account.source,
        dedicatedDomain: this.deps.account.dedicatedDomain,
        pid: this.proc?.hasExited ? undefined : this.proc?.pid,
        socketPort: this.ports?.socket,
        httpPort: this.ports?.http,
        version: this.version,
        binary: this.binaryPath,
        inFlight: this.inFlight,
        sessions: this.deps.sessions.entriesFor(this.name),
      },
    };
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.deps.account.disabled) {
      this.setState('stopped', 'the account is disabled');
      return;
    }
    this.stopping = false;
    this.halted = false;
    if (this._state === 'ready') return;
    await this.boot('starting').catch(() => undefined);
  }

  /**
   * The relay began stopping: in-flight answers may finish, but a process that exits from now on
   * (e.g. it got the terminal's Ctrl-C too) is not restarted, and no request starts one.
   */
  prepareStop(): void {
    this.halted = true;
    this.clearRecoverTimer();
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
    this.stopping = false;
    this.restarts++;
    await this.boot('starting').catch(() => undefined);
  }

  async ensureReady(signal: AbortSignal): Promise<void> {
    await this.ensureProcessReady(signal);
    await this.ensureLoggedIn(signal);
  }

  /** Process up and connected (login not checked). */
  private async ensureProcessReady(signal: AbortSignal): Promise<void> {
    if (this._state === 'closed') throw errors.unavailable(`Lingma instance ${this.name} was removed.`);
    if (this.deps.account.disabled) throw errors.unavailable(`Lingma account ${this.name} is disabled.`);
    if (this._state === 'ready') return;
    if (this.halted) throw errors.unavailable('The relay is stopping.', { retryAfter: 5 });
    this.stopping = false;
    if (this._state === 'reconnecting') {
      // A request is waiting: try now rather than at the end of the backoff.
      this.clearRecoverTimer();
      void this.recover();
    } else if (!this.booting) {
      void this.boot('starting').catch(() => undefined);
    }
    await this.waitForSettled(signal, this.deps.config().startupTimeoutMs + 5000);
    if (this.state() !== 'ready') {
      throw errors.unavailable(`Lingma instance ${this.name} is not available.`, { retryAfter: 5, detail: this.reason });
    }
  }

  async probe(signal: AbortSignal): Promise<void> {
    if (this._state !== 'ready' || !this.rpc) throw errors.unavailable(`Lingma instance ${this.name} is ${this._state}.`);
    try {
      await this.refreshAuth(signal);
    } catch (e) {
      if (e instanceof RpcError && e.kind === 'timeout') this.noteUnresponsive('auth/status timed out');
      throw e;
    }
    this.unresponsive = 0;
    if (!this.auth.loggedIn) throw this.notLoggedInError();
  }

  /**
   * A process that keeps its socket open but stops answering is wedged: after a few silent calls
   * in a row it goes through recovery (reconnect, then restart if it stays silent), instead of
   * staying "ready" and unhealthy for ever.
   */
  private noteUnresponsive(detail: string): void {
    if (++this.unresponsive < UNRESPONSIVE_LIMIT || this._state !== 'ready' || this.stopping || this.halted) return;
    this.unresponsive = 0;
    this.log.warn({ detail }, 'Lingma stopped answering; recovering it');
    const rpc = this.rpc;
    this.rpc = undefined;
    rpc?.close();
    this.setState('reconnecting', `not answering: ${detail}`);
    this.scheduleRecover();
  }

  // ------------------------------------------------------------------ login

  /** Dashboard "log in": always tries (auto-login when a password is known, else a manual link). */
  async login(): Promise<void> {
    await this.ensureProcessReady(new AbortController().signal);
    if (!this.deps.login) throw errors.unavailable('Login is not available in this host.');
    const state = await this.deps.login.ensureLoggedIn(await this.loginTarget(), { force: true, auto: true });
    if (state.state === 'logged_in') await this.afterLogin();
  }

  async logout(): Promise<void> {
    if (this.rpc && this._state === 'ready') {
      try {
        await this.rpc.request('auth/logout', {});
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'auth/logout failed');
      }
    }
    this.auth = { loggedIn: false };
    this.deps.sessions.dropInstance(this.name);
    if (this.deps.login) await this.deps.login.clear(this.name);
    else this.setLocalLogin({ state: 'logged_out' });
    this.emitLogin();
    this.deps.onModels(this.name, []);
  }

  /** The login coordinator reported a change (provider forwards it). */
  onLoginState(state: LoginState): void {
    this.emitLogin();
    if (state.state === 'logged_in' && !this.auth.loggedIn) void this.afterLogin().catch(() => undefined);
  }

  private async loginTarget(): Promise<LoginTarget> {
    const password = await this.deps.password();
    const credentials: LoginCredentials | undefined = password ? { username: this.deps.account.username, password } : undefined;
    const httpPort = this.ports?.http;
    return {
      instance: this.name,
      credentials,
      accountless: !this.deps.account.username,
      callbackUrl: `http://127.0.0.1:${httpPort}/auth/callback`,
      generateUrl: async () => {
        const rpc = this.requireRpc();
        const r = await rpc.request<{ loginUrl?: string; success?: boolean; errorMsg?: string }>('login/generateUrl', { loginDedicatedType: '' });
        if (!r?.loginUrl) throw new Error(`login/generateUrl returned no URL${r?.errorMsg ? `: ${r.errorMsg}` : ''}`);
        return r.loginUrl;
      },
      isLoggedIn: async () => {
        await this.refreshAuth();
        return this.auth.loggedIn;
      },
      prepare: this.deps.account.dedicatedDomain ? () => this.switchEndpoint() : undefined,
    };
  }

  /** Dedicated-domain accounts: point the binary at the account's endpoint before login (spec §4). */
  private async switchEndpoint(): Promise<void> {
    const want = this.deps.account.dedicatedDomain;
    if (!want) return;
    const rpc = this.requireRpc();
    const cur = await rpc.request<{ endpoint?: string } | null>('config/getEndpoint', {});
    if ((cur?.endpoint ?? '') === want) return;
    const r = await rpc.request<{ success?: boolean } | null>('config/updateEndpoint', { endpoint: want });
    if (r && r.success === false) throw new Error('config/updateEndpoint was refused');
    this.log.info('switched to the dedicated endpoint');
  }

  private async ensureLoggedIn(signal: AbortSignal): Promise<void> {
    if (this.auth.loggedIn) return;
    // Our view may be stale (a manual login in the dashboard's browser).
    await this.refreshAuth(signal).catch(() => undefined);
    if (this.auth.loggedIn) return;
    const coord = this.deps.login;
    const cfg = this.deps.config();
    if (coord && (cfg.login.auto || coord.busy(this.name))) {
      const current = coord.state(this.name);
      // Auto-login only from "logged out" or a login already running: never loop on failures.
      if (current.state === 'logged_out' || current.state === 'logging_in' || coord.busy(this.name)) {
        const target = await this.loginTarget();
        const result = await abortable(coord.ensureLoggedIn(target), signal);
        if (result.state === 'logged_in') {
          await this.afterLogin();
          return;
        }
      }
    }
    throw this.notLoggedInError();
  }

  private notLoggedInError(): RelayError {
    const s = this.loginState();
    // SECURITY: client-facing; never the login URL, the reason detail or credentials.
    const code = s.state === 'logging_in' ? 'login_in_progress' : s.state === 'logged_out' ? 'login_required' : s.state === 'failed' ? 'login_failed' : 'login_required';
    const message =
      s.state === 'logging_in'
        ? `Lingma account ${this.name} is logging in; try again shortly.`
        : `Lingma account ${this.name} is not logged in; log it in from the dashboard.`;
    return errors.unavailable(message, { code, retryAfter: 5, retryable: true });
  }

  private async afterLogin(): Promise<void> {
    await this.refreshAuth();
    if (this.auth.loggedIn) await this.refreshModels().catch((e) => this.log.warn({ err: (e as Error).message }, 'config/queryModels failed'));
  }

  /** `auth/status`: logged in = non-empty `id` (spec §4). */
  private async refreshAuth(signal?: AbortSignal): Promise<AuthInfo> {
    const rpc = this.requireRpc();
    const r = await rpc.request<Record<string, unknown> | null>('auth/status', {}, { signal });
    const id = typeof r?.id === 'string' ? r.id : r?.id != null ? String(r.id) : '';
    const quota = r ? [r.IsQuotaExceeded, r.isQuotaExceeded, r.quotaExceeded].some((v) => v === true) : false;
    const next: AuthInfo = id ? { loggedIn: true, user: typeof r?.name === 'string' && r.name ? r.name : undefined, quotaExceeded: quota || undefined } : { loggedIn: false };
    const changed = JSON.stringify(next) !== JSON.stringify(this.auth);
    this.auth = next;
    const coord = this.deps.login;
    if (next.loggedIn) {
      if (coord) {
        if (coord.state(this.name).state !== 'logged_in' || changed) coord.report(this.name, { state: 'logged_in', user: next.user, quotaExceeded: next.quotaExceeded });
      } else this.setLocalLogin({ state: 'logged_in', user: next.user, quotaExceeded: next.quotaExceeded });
    } else if (coord) {
      // A logout seen from outside; do not clobber a running or manual login.
      if (coord.state(this.name).state === 'logged_in') coord.report(this.name, { state: 'logged_out' });
    } else this.setLocalLogin({ state: 'logged_out' });
    if (changed) this.emitLogin();
    return next;
  }

  private async refreshModels(): Promise<ModelInfo[]> {
    const rpc = this.requireRpc();
    const r = await rpc.request<Record<string, unknown> | null>('config/queryModels', {});
    const models = flattenModels(r);
    this.deps.onModels(this.name, models);
    return models;
  }

  private setLocalLogin(s: LoginState): void {
    if (JSON.stringify(s) === JSON.stringify(this.localLogin)) return;
    this.localLogin = s;
    this.emitLogin();
  }

  private emitLogin(): void {
    const snap = this.snapshot();
    this.events.emit('login', snap);
    this.deps.hub?.emit('instance', snap);
  }

  // ------------------------------------------------------------------ supervision

  private setState(next: InstanceState, reason?: string): void {
    const prev = this._state;
    this._state = next;
    this.reason = next === 'ready' || next === 'starting' ? undefined : reason;
    if (reason && (next === 'failed' || next === 'reconnecting')) this.lastError = reason;
    if (prev === next && next !== 'failed') return;
    const snap = this.snapshot();
    this.log.info({ from: prev, to: next, reason }, `instance ${prev} -> ${next}`);
    this.events.emit('state', snap, prev);
    this.deps.hub?.emit('instance', snap);
  }

  private waitForSettled(signal: AbortSignal, timeoutMs: number): Promise<void> {
    const settled = () => this._state === 'ready' || this._state === 'failed' || this._state === 'stopped' || this._state === 'closed';
    if (settled() && !this.booting) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off('state', onState);
        signal.removeEventListener('abort', onAbort);
      };
      const onState = () => {
        if (settled()) {
          done();
          resolve();
        }
      };
      const onAbort = () => {
        done();
        reject(errors.cancelled());
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, timeoutMs);
      this.events.on('state', onState);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Single-flight start: spawn, wait for the socket, handshake, auth, models. */
  private boot(as: 'starting' | 'reconnecting'): Promise<void> {
    if (this.booting) return this.booting;
    if (this.halted) return Promise.reject(errors.unavailable('The relay is stopping.', { retryAfter: 5 }));
    this.booting = this.doBoot(as).finally(() => {
      this.booting = undefined;
    });
    return this.booting;
  }

  private async doBoot(as: 'starting' | 'reconnecting'): Promise<void> {
    const cfg = this.deps.config();
    this.setState(as, as === 'reconnecting' ? this.reason : undefined);
    const found = findLingmaBinary({ setting: cfg.binary, env: this.deps.env ?? process.env });
    if (!found.found) {
      this.setState('failed', found.reason);
      throw errors.unavailable(found.reason);
    }
    this.binaryPath = found.path;
    let proc: LingmaProcess | undefined;
    try {
      await this.killProcess();
      const [socket, http] = await freePorts();
      this.ports = { socket, http };
      proc = spawnLingma({
        spawner: this.deps.spawner,
        binary: found.path,
        workDir: this.workDir,
        socketPort: socket,
        httpPort: http,
        extraArgs: cfg.extraArgs,
        env: this.deps.env,
        log: this.log,
      });
      this.proc = proc;
      if (proc.pid) this.deps.pids.record(this.name, proc.pid, this.workDir);
      const thisProc = proc;
      void proc.exited.then((info) => this.onExit(thisProc, info.code, info.signal));
      await waitForPort(socket, { timeoutMs: cfg.startupTimeoutMs, intervalMs: 250, abort: proc.exited });
      if (this.stopping) throw new Error('stopped during start-up');
      await this.connect();
      this.startedAt = Date.now();
      this.recoverAttempts = 0;
      this.setState('ready');
      this.log.info({ pid: proc.pid, socketPort: socket, httpPort: http, version: this.version }, 'Lingma ready');
      this.afterReady();
    } catch (e) {
      const exited = proc?.hasExited ? await proc.exited : undefined;
      const msg = exited
        ? `Lingma exited during start-up (${exited.signal ?? `code ${exited.code}`})`
        : `Lingma did not start: ${e instanceof Error ? e.message : String(e)}`;
      await this.killProcess();
      if (this.stopping) return;
      if (as === 'reconnecting') {
        this.reason = msg;
        this.lastError = msg;
      } else {
        this.setState('failed', msg);
      }
      throw errors.unavailable(`Lingma instance ${this.name} could not start.`, { detail: msg });
    }
  }

  /** Open the socket, handshake, and hook close handling. */
  private async connect(): Promise<void> {
    const port = this.ports?.socket;
    if (!port) throw new Error('no socket port');
    const rpc = await RpcConnection.connect(`ws://127.0.0.1:${port}/`, { timeoutMs: () => this.deps.config().rpcTimeoutMs, connectTimeoutMs: 5000 });
    try {
      const info = await rpc.initialize(this.workDir, this.deps.clientVersion ?? '0.1.0');
      if (info.name && info.name.toLowerCase() !== 'lingma') this.log.warn({ server: info.name }, 'the server does not call itself lingma');
      this.version = info.version;
    } catch (e) {
      rpc.close();
      throw e;
    }
    this.rpc = rpc;
    rpc.on('close', (closeInfo) => this.onSocketClose(rpc, closeInfo.detail));
    rpc.on('message', (method) => {
      // A token refresh pushed by the binary: re-read the login (expiry, quota).
      if (method === 'auth/syncTokenUpdate') void this.refreshAuth().catch(() => undefined);
    });
  }

  /** After ready: read login state and models; kick off auto-login when logged out. */
  private afterReady(): void {
    void (async () => {
      try {
        await this.refreshAuth();
        if (this.auth.loggedIn) {
          await this.refreshModels();
        } else if (this.deps.login && this.deps.config().login.auto) {
          const st = this.deps.login.state(this.name).state;
          if (st === 'logged_out' || st === 'logged_in') {
            const result = await this.deps.login.ensureLoggedIn(await this.loginTarget());
            if (result.state === 'logged_in') await this.afterLogin();
          }
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'reading the login state failed');
      }
    })();
  }

  private onExit(proc: LingmaProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.deps.pids.remove(this.name, proc.pid);
    if (proc !== this.proc) return;
    const why = `Lingma exited (${signal ?? `code ${code}`})`;
    this.log.warn({ code, signal }, why);
    this.proc = undefined;
    // A new process knows none of the old sessions.
    this.deps.sessions.dropInstance(this.name);
    if (this.halted && !this.stopping && this._state === 'ready') {
      this.rpc?.close();
      this.rpc = undefined;
      this.setState('stopped', `${why} while the relay was stopping`);
      return;
    }
    if (this.stopping || this._state !== 'ready') return;
    this.rpc?.close();
    this.rpc = undefined;
    this.setState('reconnecting', why);
    this.scheduleRecover();
  }

  private onSocketClose(rpc: RpcConnection, detail: string): void {
    if (rpc !== this.rpc) return;
    this.rpc = undefined;
    if (this.stopping || this._state !== 'ready') return;
    if (this.halted) {
      this.setState('stopped', `connection lost while the relay was stopping: ${detail}`);
      return;
    }
    this.log.warn({ detail }, 'Lingma connection lost');
    this.setState('reconnecting', `connection lost: ${detail}`);
    this.scheduleRecover();
  }

  private scheduleRecover(): void {
    this.clearRecoverTimer();
    if (this.halted) return;
    const b = this.deps.backoff ?? DEFAULT_BACKOFF;
    const base = Math.min(b.maxMs, b.baseMs * 2 ** this.recoverAttempts);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.recoverTimer = setTimeout(() => void this.recover(), delay);
    this.recoverTimer.unref?.();
  }

  private clearRecoverTimer(): void {
    if (this.recoverTimer) clearTimeout(this.recoverTimer);
    this.recoverTimer = undefined;
  }

  /** One recovery attempt: reconnect to a live process, else restart it. */
  private async recover(): Promise<void> {
    if (this.stopping || this.halted || this._state !== 'reconnecting' || this.booting) return;
    this.recoverAttempts++;
    this.restarts++;
    const b = this.deps.backoff ?? DEFAULT_BACKOFF;
    try {
      if (this.proc && !this.proc.hasExited) {
        this.booting = this.connect().finally(() => (this.booting = undefined));
        await this.booting;
        this.recoverAttempts = 0;
        this.setState('ready');
        this.afterReady();
      } else {
        await this.boot('reconnecting');
      }
    } catch (e) {
      if (this.stopping) return;
      const msg = e instanceof RelayError ? (e.detail ?? e.message) : (e as Error).message;
      this.lastError = msg;
      if (this._state !== 'reconnecting') return;
      if (this.recoverAttempts >= b.maxAttempts) {
        await this.killProcess();
        this.setState('failed', `gave up after ${this.recoverAttempts} attempts: ${msg}`);
        return;
      }
      // A live process whose socket keeps failing is restarted on the next attempts.
      if (this.recoverAttempts >= 2 && this.proc && !this.proc.hasExited) await this.killProcess();
      this.reason = msg;
      this.scheduleRecover();
    }
  }

  private async killProcess(): Promise<void> {
    const proc = this.proc;
    this.rpc?.close();
    this.rpc = undefined;
    if (!proc) return;
    this.proc = undefined;
    await proc.stop(this.deps.stopGraceMs ?? 4000);
    this.deps.pids.remove(this.name, proc.pid);
  }

  private async shutdown(final: 'stopped' | 'closed'): Promise<void> {
    this.stopping = true;
    this.clearRecoverTimer();
    const booting = this.booting;
    await this.killProcess();
    if (booting) await booting.catch(() => undefined);
    await this.killProcess();
    this.deps.sessions.dropInstance(this.name);
    this.auth = { loggedIn: false };
    this.setState(final);
  }

  private requireRpc(): RpcConnection {
    if (!this.rpc || this.rpc.closed) throw errors.unavailable(`Lingma instance ${this.name} is not connected.`, { retryAfter: 2 });
    return this.rpc;
  }

  // ------------------------------------------------------------------ chat

  /** Agent mode: the model is an agent model name, or an alias asked for it. */
  isAgent(req: ChatRequest): boolean {
    if (req.options?.lingmaMode === 'agent') return true;
    if (req.options?.lingmaMode === 'chat') return false;
    const m = req.model.toLowerCase();
    return this.deps.config().agentModels.some((a) => a.toLowerCase() === m);
  }

  chat(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent> {
    return this.chatStream(req, ctx);
  }

  private async *chatStream(req: ChatRequest, ctx: CallContext): AsyncGenerator<ChatEvent> {
    if (!req.messages.length) throw errors.invalid('messages must not be empty.', 'messages');
    assertTextOnly(req.messages);
    const fullPrompt = renderConversation(req.messages);
    if (!fullPrompt) throw errors.invalid('The conversation has no text to send.', 'messages');
    if (this._state !== 'ready') await this.ensureReady(ctx.signal);
    else await this.ensureLoggedIn(ctx.signal);

    const agent = this.isAgent(req);
    const cache = this.deps.sessions;
    const last = req.messages[req.messages.length - 1];
    // Session reuse applies to chat mode, multi-turn, ending with a new user/tool turn.
    const eligible = cache.enabled && !agent && req.messages.length >= 2 && last.role !== 'assistant';
    let sessionId = '';
    if (eligible) {
      const lookupKey = cache.key(ctx.apiKeyId, req.messages.slice(0, -1));
      const entry = cache.peek(lookupKey);
      if (entry && entry.instance === this.name) sessionId = entry.sessionId;
      else if (entry) cache.delete(lookupKey); // owned by an instance that is not serving: the session is useless here
      cache.record(!!sessionId);
      if (sessionId) cache.delete(lookupKey); // the session moves on with this turn; a retry must not reuse it
    }

    this.inFlight++;
    try {
      let attempt = 0;
      for (;;) {
        const reuse = !!sessionId;
        const prompt = reuse ? renderTurn(last) || fullPrompt : fullPrompt;
        ctx.meta.sessionReuse = reuse;
        ctx.meta.promptBytes = (attempt === 0 ? 0 : (ctx.meta.promptBytes ?? 0)) + Buffer.byteLength(prompt, 'utf8');
        const out = { emitted: false, answer: '', sessionId: '' };
        try {
          const promptTokens = estimateTokens(fullPrompt);
          const cachedTokens = reuse ? Math.max(0, promptTokens - estimateTokens(prompt)) : undefined;
          yield* this.askOnce(req, ctx, { prompt, sessionId, reuse, agent, promptTokens, cachedTokens }, out);
          // Written after a clean finish only, for the conversation as it now stands.
          if (cache.enabled && !agent && out.sessionId) {
            const answered: ChatMessage = { role: 'assistant', content: [{ type: 'text', text: out.answer }] };
            cache.put(cache.key(ctx.apiKeyId, [...req.messages, answered]), out.sessionId, this.name);
          }
          return;
        } catch (e) {
          const err = toRelayError(e);
          // 406: the session is dead. Retry once here with a fresh session and the full prompt.
          if (err.code === 'session_blocked' && attempt === 0 && !out.emitted && !ctx.signal.aborted) {
            this.log.info({ reuse }, 'session blocked (406): retrying once with a fresh session');
            attempt++;
            sessionId = '';
            continue;
          }
          throw err;
        }
      }
    } finally {
      this.inFlight--;
    }
  }

  private async *askOnce(
    req: ChatRequest,
    ctx: CallContext,
    a: { prompt: string; sessionId: string; reuse: boolean; agent: boolean; promptTokens: number; cachedTokens?: number },
    out: { emitted: boolean; answer: string; sessionId: string },
  ): AsyncGenerator<ChatEvent> {
    const rpc = this.requireRpc();
    const cfg = this.deps.config();
    const requestId = randomUUID();
    const queue = new MessageQueue();
    const onMsg = (method: string, params: unknown) => {
      if (params && typeof params === 'object' && (params as { requestId?: unknown }).requestId === requestId) {
        queue.push({ method, params: params as Record<string, unknown> });
      }
    };
    const onClose = (info: { detail: string }) => queue.fail(closedError(info.detail));
    rpc.on('message', onMsg);
    rpc.on('close', onClose);
    let finished = false;
    const onAbort = () => queue.fail(errors.cancelled(), true);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      // An agent model name is not a Lingma key: the alias may name one, else Lingma picks (`auto`).
      const agentName = this.deps.config().agentModels.some((m) => m.toLowerCase() === req.model.toLowerCase());
      const modelKey = agentName ? String(req.options?.lingmaModel ?? AGENT_FALLBACK_MODEL) : req.model;
      const params = {
        requestId,
        chatTask: 'FREE_INPUT',
        chatContext: { text: a.prompt, locale: cfg.locale },
        sessionId: a.sessionId,
        isReply: a.reuse,
        source: 1,
        questionText: a.prompt,
        stream: true,
        taskDefinitionType: 'system',
        extra: { modelConfig: { key: modelKey } },
        sessionType: a.agent ? 'assistant' : 'chat',
        mode: a.agent ? 'agent' : 'normal',
        codeLanguage: '',
        targetAgent: '',
        pluginPayloadConfig: {},
        shellType: '',
        customModel: {},
        ...this.deps.askDefaults,
      };
      let ack: { success?: boolean; errorCode?: string | number; errorMessage?: string } | null;
      try {
        ack = await rpc.request('chat/ask', params, { signal: ctx.signal });
      } catch (e) {
        if (e instanceof RpcError && e.kind === 'timeout') this.noteUnresponsive('chat/ask timed out');
        throw this.rpcToRelay(e, 'chat/ask');
      }
      if (ack && ack.success === false) {
        const code = String(ack.errorCode ?? '');
        const msg = String(ack.errorMessage ?? '');
        if (code === '401' || /not\s*log/i.test(msg)) {
          await this.refreshAuth().catch(() => undefined);
          throw this.notLoggedInError();
        }
        throw errors.upstream('Lingma refused the request.', { retryable: true, detail: `chat/ask refused: ${code} ${msg}`.trim() });
      }

      // Overwrite rule (spec §4): a delta appends; an overwrite replaces. Emit only what extends
      // the text already sent; a rewrite of sent text emits nothing that contradicts it.
      let upstream = '';
      let sent = '';
      let reasoningText = '';
      let filtered = false;
      for (;;) {
        const msg = await queue.next(cfg.answerIdleTimeoutMs);
        if (msg === 'idle') {
          if (upstream || sent) {
            throw errors.upstream('The Lingma answer stream ended without finishing.', { retryable: true, detail: 'idle after content without chat/finish' });
          }
          this.noteUnresponsive('no answer after chat/ask');
          throw errors.timeout(`Lingma sent nothing for ${Math.round(cfg.answerIdleTimeoutMs / 1000)} s.`, { retryable: true });
        }
        const p = msg.params;
        if (msg.method === 'chat/think') {
          const t = typeof p.text === 'string' ? p.text : '';
          if (t) {
            reasoningText += t;
            out.emitted = true;
            yield { type: 'reasoning', text: t };
          }
        } else if (msg.method === 'chat/answer') {
          if (p.isFiltered === true) filtered = true;
          if (typeof p.sessionId === 'string' && p.sessionId) out.sessionId = p.sessionId;
          const t = typeof p.text === 'string' ? p.text : '';
          let add = '';
          if (p.overwrite === true) {
            if (t.startsWith(upstream)) add = t.slice(upstream.length);
            upstream = t;
          } else {
            upstream += t;
            add = t;
          }
          // Deltas go out as they arrive even when the client asked for one whole answer: the
          // front end collects them, and the dispatcher's first-byte timeout then bounds the wait
          // for the first token, not the length of the whole answer.
          if (add) {
            sent += add;
            out.emitted = true;
            yield { type: 'text', text: add };
          }
        } else if (msg.method === 'chat/finish') {
          finished = true;
          this.unresponsive = 0;
          const status = Number(p.statusCode ?? 200);
          if (typeof p.sessionId === 'string' && p.sessionId) out.sessionId = p.sessionId;
          if (status !== 200) throw finishError(status, String(p.reason ?? ''));
          const full = typeof p.fullAnswer === 'string' ? p.fullAnswer : '';
          // fullAnswer (spec §4) completes a tail the deltas missed; it never contradicts text
          // already sent, so an answer rewritten by an overwrite keeps what the client has seen.
          if (full && full.length > sent.length && full.startsWith(sent)) {
            const tail = full.slice(sent.length);
            sent = full;
            yield { type: 'text', text: tail };
          } else if (full && full !== sent) {
            ctx.log.debug({ instance: this.name, sent: sent.length, full: full.length }, 'lingma fullAnswer differs from the streamed deltas; keeping the deltas');
          }
          out.answer = sent;
          const completion = estimateTokens(out.answer);
          const reasoningTokens = reasoningText ? estimateTokens(reasoningText) : undefined;
          yield {
            type: 'usage',
            usage: {
              promptTokens: a.promptTokens,
              completionTokens: completion + (reasoningTokens ?? 0),
              reasoningTokens,
              cachedTokens: a.cachedTokens,
              estimated: true,
            },
          };
          const reason: FinishReason = filtered ? 'content_filter' : 'stop';
          yield { type: 'finish', reason };
          return;
        }
        // chat/process_step_callback and others: progress only (already answered by the driver).
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      rpc.off('message', onMsg);
      rpc.off('close', onClose);
      if (!finished && !rpc.closed) {
        // The client went away, a timeout fired, or the consumer stopped early: stop the answer.
        rpc.request('chat/stop', { requestId }, { timeoutMs: 5000 }).catch(() => undefined);
      }
    }
  }

  private rpcToRelay(e: unknown, method: string): RelayError {
    if (e instanceof RelayError) return e;
    if (e instanceof RpcError) {
      if (e.kind === 'aborted') return errors.cancelled();
      if (e.kind === 'timeout') return errors.timeout(`Lingma did not answer ${method} in time.`, { retryable: true, detail: e.message });
      if (e.kind === 'closed' || e.kind === 'protocol') return closedError(e.message);
      return errors.upstream('Lingma reported an error.', { retryable: true, detail: e.message });
    }
    return toRelayError(e);
  }
}

function closedError(detail: string): RelayError {
  return errors.upstream('The Lingma process went away during the answer.', { retryable: true, detail });
}

/** `chat/finish` statusCode → error (spec §4 "Known error signals"). */
export function finishError(status: number, reason: string): RelayError {
  const detail = `chat/finish statusCode ${status}${reason ? ` (${reason})` : ''}`;
  switch (status) {
    case 406:
      return new RelayError({
        status: 502, type: 'upstream_error', code: 'session_blocked', retryable: true, upstreamStatus: 406,
        message: 'The Lingma session was blocked.', detail,
      });
    case 408:
    case 80408:
      return errors.timeout('Lingma timed out answering.', { retryable: true, upstreamStatus: status, detail });
    case 500:
    case 418:
      return errors.upstream('Lingma had a server error.', { retryable: true, upstreamStatus: status, detail });
    case 101:
      return errors.upstream('Lingma rejected the request signature.', { retryable: false, upstreamStatus: status, detail });
    default:
      return errors.upstream(`Lingma failed the request (status ${status}).`, { retryable: status >= 500, upstreamStatus: status, detail });
  }
}

/** `config/queryModels` → flat, de-duplicated ModelInfo list (scenes in order). */
export function flattenModels(r: unknown): ModelInfo[] {
  const out = new Map<string, ModelInfo>();
  if (!r || typeof r !== 'object') return [];
  for (const list of Object.values(r as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    for (const m of list) {
      if (!m || typeof m !== 'object') continue;
      const rec = m as Record<string, unknown>;
      const key = typeof rec.key === 'string' ? rec.key.trim() : '';
      if (!key || out.has(key)) continue;
      const displayName = typeof rec.displayName === 'string' && rec.displayName.trim() ? rec.displayName.trim() : undefined;
      out.set(key, {
        id: key,
        displayName,
        aliases: displayName && displayName.toLowerCase() !== key.toLowerCase() ? [displayName] : undefined,
        reasoning: rec.isReasoning === true || undefined,
        vision: rec.isVl === true || undefined,
      });
    }
  }
  return [...out.values()];
}

/** Resolves with `p`, or rejects with a cancel error when the signal aborts first. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(errors.cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(errors.cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Messages of one answer, consumed in order, with an idle timeout per wait. */
class MessageQueue {
  private items: StreamMsg[] = [];
  private error: Error | undefined;
  private waiter: (() => void) | undefined;

  push(m: StreamMsg): void {
    this.items.push(m);
    this.wake();
  }

  /** `urgent`: throw before the messages still queued (a cancel); else after them (a close). */
  fail(e: Error, urgent = false): void {
    if (!this.error) this.error = e;
    if (urgent) this.items = [];
    this.wake();
  }

  async next(idleMs: number): Promise<StreamMsg | 'idle'> {
    for (;;) {
      if (this.items.length) return this.items.shift()!;
      if (this.error) throw this.error;
      const idle = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = undefined;
          resolve(true);
        }, idleMs);
        this.waiter = () => {
          clearTimeout(t);
          this.waiter = undefined;
          resolve(false);
        };
      });
      if (idle) return 'idle';
    }
  }

  private wake(): void {
    this.waiter?.();
  }
}
