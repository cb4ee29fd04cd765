/**
 * One Lingma / Qoder CN app (or IDE plugin) that was already running, served through as one more
 * instance of the `lingma` provider (spec §7). The relay does not own it:
 *
 * - no spawn, no login, no logout, no restart: `stop()` closes only the relay's own connection;
 * - signed out inside the app → "needs a person: sign in inside the app"; never signed in by us;
 * - a dropped connection is retried with backoff while the app runs; a new port or pid
 *   (`retarget`, from the watcher) reconnects at once.
 *
 * Chats go through an `AttachedChat` (seam.ts) built on the driver's dialect modules; the sign-in
 * is read by `AttachedSignin` (signin.ts); `connectTarget` (connect.ts) opens the connection.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ChatEvent, ChatRequest } from '../../../chat/model';
import { errors, RelayError } from '../../../errors';
import type { EventHub } from '../../../events';
import type { CallContext, Instance, InstanceEvents, InstanceSnapshot, InstanceState, LoginState, ModelInfo } from '../../types';
import { flattenModels } from '../models';
import type { LingmaConfig } from '../types';
import { RpcConnection } from '../rpc';
import type { SessionCache } from '../session-cache';
import { sameTarget, type AttachTarget } from './discover';
import { connectTarget } from './connect';
import { AttachedSignin } from './signin';
import { createAttachedChat, type AttachedChat, type AttachedChatFactory, type AttachedRuntime } from './seam';
import { abortable } from '../../../abort';
import { backoffDelay } from '../../../backoff';

export interface AttachedInstanceDeps {
  provider: string;
  /** Unique among the provider's instances (e.g. `lingma-app`). */
  name: string;
  target: AttachTarget;
  config: () => LingmaConfig;
  dataDir: string;
  sessions: SessionCache;
  log: Logger;
  hub?: EventHub;
  onModels: (instance: string, models: ModelInfo[]) => void;
  /** Builds the chat driver; default: seam.ts's `createAttachedChat`. */
  chat?: AttachedChatFactory;
  backoff?: { baseMs: number; maxMs: number };
  /** While signed out, re-read `auth/status` this often (a person signs in inside the app). */
  authPollMs?: number;
  clientVersion?: string;
}

export class AttachedInstance implements Instance {
  readonly kind = 'lingma';
  readonly attached = true;
  readonly events = new EventEmitter<InstanceEvents>();
  readonly name: string;
  readonly provider: string;
  private target: AttachTarget;
  private _state: InstanceState = 'stopped';
  private reason: string | undefined;
  private lastError: string | undefined;
  private startedAt: number | undefined;
  private reconnects = 0;
  private rpcConn: RpcConnection | undefined;
  private transport: string | undefined;
  private version: string | undefined;
  private readonly signin: AttachedSignin;
  private modelList: ModelInfo[] = [];
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempts = 0;
  private halted = true;
  private inFlight = 0;
  private driver: AttachedChat | undefined;
  private driverBuilt = false;
  private readonly log: Logger;

  constructor(private readonly deps: AttachedInstanceDeps) {
    this.name = deps.name;
    this.provider = deps.provider;
    this.target = deps.target;
    this.log = deps.log.child({ instance: this.name, attached: deps.target.appName });
    this.events.setMaxListeners(0);
    this.signin = new AttachedSignin({
      rpc: () => this.requireRpc(),
      appName: () => this.target.appName,
      pollMs: deps.authPollMs,
      halted: () => this.halted,
      connected: () => this._state === 'ready',
      signedIn: () => this.refreshModels(),
      signedOut: () => {
        this.deps.sessions.dropInstance(this.name);
        this.modelList = [];
        this.deps.onModels(this.name, []);
      },
      changed: () => this.emitLogin(),
    });
  }

  get maxConcurrency(): number {
    return this.deps.config().maxConcurrencyPerInstance;
  }

  /** The relay's folder for the `initialize` workspace and session `cwd` (never the app's). */
  get cwd(): string {
    return join(this.deps.dataDir, 'lingma', 'attached', this.name);
  }

  get app(): AttachTarget {
    return this.target;
  }

  state(): InstanceState {
    return this._state;
  }

  loginState(): LoginState {
    return this.signin.state();
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
      restarts: this.reconnects,
      lastError: this.lastError,
      quota: this.signin.auth.quota,
      extra: {
        attached: true,
        app: this.target.app,
        appName: this.target.appName,
        transport: this.transport ?? this.target.wsUrl ?? this.target.ipcPath,
        pid: this.target.pid,
        source: this.target.source,
        version: this.version,
        inFlight: this.inFlight,
        sessions: this.deps.sessions.entriesFor(this.name),
        chat: this.chatDriver() ? 'ready' : 'not wired',
      },
    };
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    this.halted = false;
    if (this._state === 'ready') return;
    this.setState('starting');
    await this.connect().catch(() => undefined);
  }

  /** The relay is stopping: no reconnect from here on. */
  prepareStop(): void {
    this.halted = true;
    this.clearTimers();
  }

  /** Closes the relay's connection only; the app keeps running and stays signed in. */
  async stop(): Promise<void> {
    this.halted = true;
    this.clearTimers();
    const connecting = this.connecting;
    this.dropConnection();
    if (connecting) await connecting.catch(() => undefined);
    this.dropConnection();
    this.deps.sessions.dropInstance(this.name);
    this.setState('stopped');
  }

  /** The watcher saw the app move (new port, pid or socket): reconnect there now. */
  retarget(next: AttachTarget): void {
    if (sameTarget(this.target, next)) return;
    const prev = this.target;
    this.target = next;
    this.log.info({ from: prev.wsUrl ?? prev.ipcPath, to: next.wsUrl ?? next.ipcPath }, `the ${next.appName} app moved; reconnecting`);
    // Another process knows none of the old sessions.
    if (prev.pid !== next.pid) this.deps.sessions.dropInstance(this.name);
    this.dropConnection();
    if (this.halted) return;
    this.attempts = 0;
    this.reconnects++;
    this.setState('reconnecting', `the ${next.appName} app moved to ${next.wsUrl ?? next.ipcPath}`);
    void this.connect().catch(() => undefined);
  }

  async ensureReady(signal: AbortSignal): Promise<void> {
    if (this.halted) throw errors.unavailable('The relay is stopping.', { retryAfter: 5 });
    if (this._state !== 'ready') {
      this.clearRetry();
      await abortable(this.connect(), signal).catch((e) => {
        if (e instanceof RelayError && e.code === 'client_closed') throw e;
      });
      if (this.state() !== 'ready') {
        throw errors.unavailable(`The ${this.target.appName} app is not reachable.`, { retryAfter: 5, detail: this.reason });
      }
    }
    if (!this.signin.auth.loggedIn) await this.signin.refresh(signal).catch(() => undefined);
    if (!this.signin.auth.loggedIn) throw this.signin.signedOutError();
  }

  async probe(signal: AbortSignal): Promise<void> {
    if (this._state !== 'ready') throw errors.unavailable(`${this.name} is ${this._state}.`);
    await this.signin.refresh(signal);
    if (!this.signin.auth.loggedIn) throw this.signin.signedOutError();
  }

  // ------------------------------------------------------------------ chat

  isAgent(req: ChatRequest): boolean {
    return this.chatDriver()?.isAgent?.(req) ?? false;
  }

  chat(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent> {
    return this.chatStream(req, ctx);
  }

  private async *chatStream(req: ChatRequest, ctx: CallContext): AsyncGenerator<ChatEvent> {
    const driver = this.chatDriver();
    if (!driver) {
      throw errors.unavailable(`Serving through the attached ${this.target.appName} app is not available in this build.`, {
        code: 'attach_chat_unavailable',
        retryable: true,
        detail: 'no chat driver is wired for attached runtimes (attach/seam.ts createAttachedChat)',
      });
    }
    await this.ensureReady(ctx.signal);
    this.inFlight++;
    try {
      yield* driver.chat(req, ctx);
    } finally {
      this.inFlight--;
    }
  }

  private chatDriver(): AttachedChat | undefined {
    if (!this.driverBuilt) {
      this.driverBuilt = true;
      this.driver = (this.deps.chat ?? createAttachedChat)(this.runtime());
    }
    return this.driver;
  }

  private runtime(): AttachedRuntime {
    const self = this;
    return {
      name: this.name,
      log: this.log,
      sessions: this.deps.sessions,
      cwd: this.cwd,
      config: () => this.deps.config(),
      rpc: () => self.requireRpc(),
      models: () => self.modelList,
      signedOut: async () => {
        await self.signin.refresh().catch(() => undefined);
        return self.signin.signedOutError();
      },
    };
  }

  // ------------------------------------------------------------------ connection

  private requireRpc(): RpcConnection {
    const rpc = this.rpcConn;
    if (!rpc || rpc.closed) throw errors.unavailable(`The ${this.target.appName} app is not connected.`, { retryAfter: 2 });
    return rpc;
  }

  /** Single-flight: open the transport, `initialize`, read sign-in and models. */
  private connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    if (this.halted) return Promise.reject(errors.unavailable('The relay is stopping.'));
    this.connecting = this.doConnect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    const target = this.target;
    const cfg = this.deps.config();
    const opts = { timeoutMs: () => this.deps.config().rpcTimeoutMs, connectTimeoutMs: 5000 };
    let rpc: RpcConnection | undefined;
    let via: string | undefined;
    try {
      ({ rpc, via } = await connectTarget(target, opts));
      mkdirSync(this.cwd, { recursive: true, mode: 0o700 });
      const info = await rpc.initialize(this.cwd, this.deps.clientVersion ?? '0.1.0');
      if (this.halted || target !== this.target) throw new Error('superseded');
      this.version = info.version;
    } catch (e) {
      rpc?.close();
      const msg = `cannot reach the ${target.appName} app: ${(e as Error).message}`;
      if (target !== this.target || this.halted) return;
      this.lastError = msg;
      this.setState('reconnecting', msg);
      this.scheduleRetry();
      throw errors.unavailable(`The ${target.appName} app is not reachable.`, { detail: msg });
    }
    this.rpcConn = rpc;
    this.transport = via;
    this.attempts = 0;
    this.driver?.reset();
    rpc.on('close', (closeInfo) => this.onClose(rpc!, closeInfo.detail));
    rpc.on('message', (method) => {
      // A token refresh inside the app: re-read the login (expiry, quota).
      if (method === 'auth/syncTokenUpdate') void this.signin.refresh().catch(() => undefined);
    });
    this.startedAt = Date.now();
    this.setState('ready');
    this.log.info({ via, version: this.version, pid: target.pid, protocol: cfg.protocol }, `attached to the running ${target.appName} app`);
    await this.afterConnect();
  }

  private async afterConnect(): Promise<void> {
    try {
      await this.signin.refresh();
      if (this.signin.auth.loggedIn) await this.refreshModels();
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'reading the attached app\'s sign-in failed');
    }
  }

  private onClose(rpc: RpcConnection, detail: string): void {
    if (rpc !== this.rpcConn) return;
    this.rpcConn = undefined;
    if (this.halted) {
      this.setState('stopped', `connection closed: ${detail}`);
      return;
    }
    this.log.warn({ detail }, `lost the connection to the ${this.target.appName} app`);
    this.reconnects++;
    this.setState('reconnecting', `connection lost: ${detail}`);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    this.clearRetry();
    if (this.halted) return;
    const b = this.deps.backoff ?? { baseMs: 500, maxMs: 30_000 };
    const delay = backoffDelay(this.attempts++, { baseMs: b.baseMs, maxMs: b.maxMs, jitter: 0.25 });
    this.retryTimer = setTimeout(() => void this.connect().catch(() => undefined), delay);
    this.retryTimer.unref();
  }

  private dropConnection(): void {
    const rpc = this.rpcConn;
    this.rpcConn = undefined;
    rpc?.close();
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private clearTimers(): void {
    this.clearRetry();
    this.signin.stop();
  }

  // ------------------------------------------------------------------ models

  private async refreshModels(): Promise<void> {
    const r = await this.requireRpc().request<Record<string, unknown> | null>('config/queryModels', {});
    this.modelList = flattenModels(r);
    this.deps.onModels(this.name, this.modelList);
  }

  // ------------------------------------------------------------------ events

  private setState(next: InstanceState, reason?: string): void {
    const prev = this._state;
    this._state = next;
    this.reason = next === 'ready' || next === 'starting' ? undefined : reason;
    if (prev === next && next !== 'reconnecting') return;
    const snap = this.snapshot();
    this.log.info({ from: prev, to: next, reason }, `attached instance ${prev} -> ${next}`);
    this.events.emit('state', snap, prev);
    this.deps.hub?.emit('instance', snap);
  }

  private emitLogin(): void {
    const snap = this.snapshot();
    this.events.emit('login', snap);
    this.deps.hub?.emit('instance', snap);
  }
}
