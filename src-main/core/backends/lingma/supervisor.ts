/**
 * One supervised Lingma process and its JSON-RPC connection.
 *
 * State machine: stopped → starting → ready; a process exit or a dropped socket → reconnecting
 * (restart / reconnect with capped exponential backoff and jitter) → ready; start-up failure →
 * failed(reason), retried by `ensureReady` on the next request; `stop()` → stopped; `close()` →
 * closed (the account was removed). A process that keeps its socket open but stops answering is
 * "wedged": after a few silent calls in a row it goes through recovery (the watchdog).
 *
 * The supervisor also remembers, per process, which dialect the runtime speaks (dialects.ts).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { errors, RelayError } from '../../errors';
import { systemClock, type Clock, type ProcessSpawner, type TimerHandle } from '../../ports';
import type { InstanceState } from '../types';
import { findLingmaBinary, type BinaryLookup } from './binary';
import type { Dialect } from './dialect';
import { detectDialect, type ProtocolSetting } from './dialects';
import type { LingmaConfig } from './instance';
import { freePorts, portTaken, spawnLingma, waitForPort, type LingmaProcess, type PidRegistry } from './process';
import { RpcConnection } from './rpc';
import { backoffDelay } from '../../backoff';

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Consecutive failed recoveries before the instance is `failed` (ensureReady then retries). */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000, maxAttempts: 8 };

/** Silent calls in a row before a 'ready' process is treated as wedged and recovered. */
const UNRESPONSIVE_LIMIT = 2;
/** The start flag the IDE plugins pass (spec §4 verified values); dropped if the binary refuses it. */
export const TRANSPORT_FLAG = '--transportType=websocket';

export interface SupervisorDeps {
  name: string;
  workDir: string;
  config: () => LingmaConfig;
  spawner: ProcessSpawner;
  pids: PidRegistry;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  backoff?: BackoffOptions;
  stopGraceMs?: number;
  clientVersion?: string;
  /** Recovery backoff and ready waits (default: the system clock). */
  clock?: Clock;
  /** Every state transition (the facade emits snapshots). */
  onState(prev: InstanceState, next: InstanceState, reason?: string): void;
  /** Connected and handshaken (first start, restart or reconnect). */
  onReady(): void;
  /** The process is gone (its sessions with it). */
  onProcessGone(): void;
  /** A server push (after the channel answered it). */
  onPush(method: string, params: unknown): void;
}

export class LingmaSupervisor {
  state: InstanceState = 'stopped';
  reason: string | undefined;
  lastError: string | undefined;
  startedAt: number | undefined;
  restarts = 0;
  rpc: RpcConnection | undefined;
  ports: { socket: number; http: number } | undefined;
  version: string | undefined;
  binary: Extract<BinaryLookup, { found: true }> | undefined;
  /** The dialect of the current process, once detected. */
  dialect: Dialect | undefined;
  private detecting: Promise<Dialect> | undefined;
  private proc: LingmaProcess | undefined;
  private booting: Promise<void> | undefined;
  private recoverTimer: TimerHandle | undefined;
  private recoverAttempts = 0;
  private unresponsive = 0;
  private transportFlag = true;
  stopping = false;
  /** The relay is stopping (prepareStop): never (re)start or reconnect until start(). */
  halted = false;
  private readonly waiters = new Set<() => void>();

  private readonly clock: Clock;

  constructor(private readonly deps: SupervisorDeps) {
    this.clock = deps.clock ?? systemClock;
  }

  get pid(): number | undefined {
    return this.proc?.hasExited ? undefined : this.proc?.pid;
  }

  get cwd(): string {
    return join(this.deps.workDir, 'cwd');
  }

  setState(next: InstanceState, reason?: string): void {
    const prev = this.state;
    this.state = next;
    this.reason = next === 'ready' || next === 'starting' ? undefined : reason;
    if (reason && (next === 'failed' || next === 'reconnecting')) this.lastError = reason;
    for (const w of [...this.waiters]) w();
    if (prev === next && next !== 'failed') return;
    this.deps.log.info({ from: prev, to: next, reason }, `instance ${prev} -> ${next}`);
    this.deps.onState(prev, next, reason);
  }

  /** Process up and connected (login not checked). */
  async ensureProcessReady(signal: AbortSignal): Promise<void> {
    if (this.state === 'ready') return;
    if (this.halted) throw errors.unavailable('The relay is stopping.', { retryAfter: 5 });
    this.stopping = false;
    if (this.state === 'reconnecting') {
      // A request is waiting: try now rather than at the end of the backoff.
      this.clearRecoverTimer();
      void this.recover();
    } else if (!this.booting) {
      void this.boot('starting').catch(() => undefined);
    }
    await this.waitForSettled(signal, this.deps.config().startupTimeoutMs + 5000);
    if ((this.state as InstanceState) !== 'ready') {
      throw errors.unavailable(`Lingma instance ${this.deps.name} is not available.`, { retryAfter: 5, detail: this.reason });
    }
  }

  requireRpc(): RpcConnection {
    if (!this.rpc || this.rpc.closed) throw errors.unavailable(`Lingma instance ${this.deps.name} is not connected.`, { retryAfter: 2 });
    return this.rpc;
  }

  /** The dialect of this process: detected once (single-flight), or forced by `lingma.protocol`. */
  async dialectFor(signal?: AbortSignal): Promise<Dialect> {
    if (this.dialect) return this.dialect;
    const rpc = this.requireRpc();
    if (!this.detecting) {
      const setting = (this.deps.config().protocol ?? 'auto') as ProtocolSetting;
      this.detecting = detectDialect(rpc, setting, this.cwd, this.deps.log, signal)
        .then((d) => {
          if (this.rpc === rpc) this.dialect = d;
          return d;
        })
        .finally(() => (this.detecting = undefined));
    }
    return this.detecting;
  }

  /** The runtime answered: the watchdog starts counting again. */
  noteAnswered(): void {
    this.unresponsive = 0;
  }

  /** A call the process accepted but never answered (see the class comment). */
  noteUnresponsive(detail: string): void {
    if (++this.unresponsive < UNRESPONSIVE_LIMIT || this.state !== 'ready' || this.stopping || this.halted) return;
    this.unresponsive = 0;
    this.deps.log.warn({ detail }, 'Lingma stopped answering; recovering it');
    const rpc = this.rpc;
    this.rpc = undefined;
    rpc?.close();
    this.setState('reconnecting', `not answering: ${detail}`);
    this.scheduleRecover();
  }

  waitForSettled(signal: AbortSignal, timeoutMs: number): Promise<void> {
    const settled = () => this.state === 'ready' || this.state === 'failed' || this.state === 'stopped' || this.state === 'closed';
    if (settled() && !this.booting) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        this.waiters.delete(onState);
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
      const timer = this.clock.setTimeout(() => {
        done();
        resolve();
      }, timeoutMs);
      this.waiters.add(onState);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Single-flight start: spawn, wait for the socket, handshake. */
  boot(as: 'starting' | 'reconnecting'): Promise<void> {
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
    if (this.binary?.path !== found.path) this.deps.log.info({ binary: found.path, version: found.version, from: found.label }, 'using this Lingma runtime');
    this.binary = found;
    let portRetries = 0;
    for (let attempt = 0; ; attempt++) {
      let proc: LingmaProcess | undefined;
      const withFlag = this.transportFlag && !cfg.extraArgs.some((a) => a.startsWith('--transportType'));
      try {
        await this.killProcess();
        const [socket, http] = await freePorts();
        this.ports = { socket, http };
        proc = spawnLingma({
          spawner: this.deps.spawner,
          binary: found.path,
          workDir: this.deps.workDir,
          socketPort: socket,
          httpPort: http,
          extraArgs: withFlag ? [TRANSPORT_FLAG, ...cfg.extraArgs] : cfg.extraArgs,
          env: this.deps.env,
          log: this.deps.log,
        });
        this.proc = proc;
        if (proc.pid) this.deps.pids.record(this.deps.name, proc.pid, this.deps.workDir);
        const thisProc = proc;
        void proc.exited.then((info) => this.onExit(thisProc, info.code, info.signal));
        await waitForPort(socket, { timeoutMs: cfg.startupTimeoutMs, intervalMs: 250, abort: proc.exited });
        if (this.stopping) throw new Error('stopped during start-up');
        await this.connect();
        this.startedAt = this.clock.now();
        this.recoverAttempts = 0;
        this.setState('ready');
        this.deps.log.info({ pid: proc.pid, socketPort: socket, httpPort: http, version: this.version, transportFlag: withFlag }, 'Lingma ready');
        this.deps.onReady();
        return;
      } catch (e) {
        const exited = proc?.hasExited ? await proc.exited : undefined;
        if (exited && portRetries < 3 && !this.stopping && this.ports && ((await portTaken(this.ports.socket)) || (await portTaken(this.ports.http)))) {
          // Its port went to another program between our pick and its bind: other ports, again.
          portRetries++;
          this.deps.log.warn({ code: exited.code, ports: this.ports }, 'Lingma exited during start-up and one of its ports is now taken by another program; starting it on other ports');
          continue;
        }
        if (exited && withFlag && attempt === portRetries && !this.stopping) {
          // An older binary may refuse the flag and exit at once: try once without it.
          this.deps.log.warn({ code: exited.code }, `Lingma exited at once with ${TRANSPORT_FLAG}; starting it without`);
          this.transportFlag = false;
          continue;
        }
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
        throw errors.unavailable(`Lingma instance ${this.deps.name} could not start.`, { detail: msg });
      }
    }
  }

  /** Open the socket, handshake, and hook close handling. */
  private async connect(): Promise<void> {
    const port = this.ports?.socket;
    if (!port) throw new Error('no socket port');
    const rpc = await RpcConnection.connect(`ws://127.0.0.1:${port}/`, { timeoutMs: () => this.deps.config().rpcTimeoutMs, connectTimeoutMs: 5000 });
    try {
      const info = await rpc.initialize(this.deps.workDir, this.deps.clientVersion ?? '0.1.0');
      if (info.name && info.name.toLowerCase() !== 'lingma') this.deps.log.warn({ server: info.name }, 'the server does not call itself lingma');
      this.version = info.version;
    } catch (e) {
      rpc.close();
      throw e;
    }
    this.rpc = rpc;
    rpc.on('close', (closeInfo) => this.onSocketClose(rpc, closeInfo.detail));
    rpc.on('message', (method, params) => this.deps.onPush(method, params));
  }

  private onExit(proc: LingmaProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.deps.pids.remove(this.deps.name, proc.pid);
    if (proc !== this.proc) return;
    const why = `Lingma exited (${signal ?? `code ${code}`})`;
    this.deps.log.warn({ code, signal }, why);
    this.proc = undefined;
    this.dialect = undefined;
    // A new process knows none of the old sessions.
    this.deps.onProcessGone();
    if (this.halted && !this.stopping && this.state === 'ready') {
      this.rpc?.close();
      this.rpc = undefined;
      this.setState('stopped', `${why} while the relay was stopping`);
      return;
    }
    if (this.stopping || this.state !== 'ready') return;
    this.rpc?.close();
    this.rpc = undefined;
    this.setState('reconnecting', why);
    this.scheduleRecover();
  }

  private onSocketClose(rpc: RpcConnection, detail: string): void {
    if (rpc !== this.rpc) return;
    this.rpc = undefined;
    if (this.stopping || this.state !== 'ready') return;
    if (this.halted) {
      this.setState('stopped', `connection lost while the relay was stopping: ${detail}`);
      return;
    }
    this.deps.log.warn({ detail }, 'Lingma connection lost');
    this.setState('reconnecting', `connection lost: ${detail}`);
    this.scheduleRecover();
  }

  private scheduleRecover(): void {
    this.clearRecoverTimer();
    if (this.halted) return;
    const b = this.deps.backoff ?? DEFAULT_BACKOFF;
    const delay = backoffDelay(this.recoverAttempts, { baseMs: b.baseMs, maxMs: b.maxMs, jitter: 0.25 });
    this.recoverTimer = this.clock.setTimeout(() => void this.recover(), delay);
    this.recoverTimer.unref?.();
  }

  clearRecoverTimer(): void {
    this.clock.clearTimeout(this.recoverTimer);
    this.recoverTimer = undefined;
  }

  /** One recovery attempt: reconnect to a live process, else restart it. */
  private async recover(): Promise<void> {
    if (this.stopping || this.halted || this.state !== 'reconnecting' || this.booting) return;
    this.recoverAttempts++;
    this.restarts++;
    const b = this.deps.backoff ?? DEFAULT_BACKOFF;
    try {
      if (this.proc && !this.proc.hasExited) {
        this.booting = this.connect().finally(() => (this.booting = undefined));
        await this.booting;
        this.recoverAttempts = 0;
        this.setState('ready');
        this.deps.onReady();
      } else {
        await this.boot('reconnecting');
      }
    } catch (e) {
      if (this.stopping) return;
      const msg = e instanceof RelayError ? (e.detail ?? e.message) : (e as Error).message;
      this.lastError = msg;
      if (this.state !== 'reconnecting') return;
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
    this.dialect = undefined;
    if (!proc) return;
    this.proc = undefined;
    await proc.stop(this.deps.stopGraceMs ?? 4000);
    this.deps.pids.remove(this.deps.name, proc.pid);
  }

  /** Stop the process for good (until the next start); `final` is the resulting state. */
  async shutdown(final: 'stopped' | 'closed'): Promise<void> {
    this.stopping = true;
    this.clearRecoverTimer();
    const booting = this.booting;
    await this.killProcess();
    if (booting) await booting.catch(() => undefined);
    await this.killProcess();
    this.setState(final);
  }
}
