/**
 * The sign-in side of one Lingma instance: reading the login after the process is ready,
 * auto-login (from "logged out" only, never looping on failures), the dashboard's "Sign in" and
 * "Log out", and the model list that a signed-in account can read. `instance.ts` is the facade;
 * this is the account's session with the runtime, as the supervisor is its process.
 */
import type { Logger } from 'pino';
import type { LoginCoordinator } from './login/coordinator';
import type { LingmaSupervisor } from './supervisor';
import type { Signin } from './signin';
import type { SessionCache } from './session-cache';
import type { LingmaConfig } from './types';
import type { LoginState, ModelInfo } from '../types';
import { errors } from '../../errors';
import { abortable } from '../../abort';
import { flattenModels } from './models';
import { systemClock, type Clock } from '../../ports';
import { backoffDelay } from '../../backoff';

export interface AccountLoginDeps {
  name: string;
  sup: LingmaSupervisor;
  signin: Signin;
  sessions: SessionCache;
  log: Logger;
  login?: LoginCoordinator;
  config: () => LingmaConfig;
  /** Called with this instance's model list whenever it is (re)read. */
  onModels: (instance: string, models: ModelInfo[]) => void;
  /** The login state changed: the facade emits a snapshot. */
  changed: () => void;
  /** Retries of the first read after ready (default: the system clock). */
  clock?: Clock;
}

/** How many times a failed first `auth/status` after ready is tried again. */
const READY_READ_RETRIES = 4;

export class AccountLogin {
  /** The models this account listed last (empty until signed in and read). */
  models: ModelInfo[] = [];

  constructor(private readonly d: AccountLoginDeps) {}

  /** Dashboard "Sign in": always tries (auto-login when a password is known, else a manual link). */
  async login(): Promise<void> {
    if (!this.d.login) throw errors.unavailable('Login is not available in this host.');
    const state = await this.d.login.ensureLoggedIn(await this.d.signin.target(), { force: true, auto: true });
    if (state.state === 'logged_in') await this.afterLogin();
  }

  async logout(): Promise<void> {
    const { sup, signin, log } = this.d;
    const rpc = sup.rpc;
    if (rpc && sup.state === 'ready') {
      try {
        await rpc.request('auth/logout', {});
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'auth/logout failed');
      }
    }
    signin.auth = { loggedIn: false };
    this.d.sessions.dropInstance(this.d.name);
    if (this.d.login) await this.d.login.clear(this.d.name);
    else signin.setLocal({ state: 'logged_out' });
    this.d.changed();
    this.models = [];
    this.d.onModels(this.d.name, []);
  }

  /** The login coordinator reported a change (the provider forwards it). */
  onLoginState(state: LoginState): void {
    this.d.changed();
    if (state.state === 'logged_in' && !this.d.signin.auth.loggedIn) void this.afterLogin().catch(() => undefined);
  }

  /** Signed in, or a typed error saying what a person must do. */
  async ensureLoggedIn(signal: AbortSignal): Promise<void> {
    const { signin } = this.d;
    if (signin.auth.loggedIn) return;
    // Our view may be stale (a manual login in the dashboard's browser).
    await signin.refresh(signal).catch(() => undefined);
    if (signin.auth.loggedIn) return;
    const coord = this.d.login;
    if (coord && (this.d.config().login.auto || coord.busy(this.d.name))) {
      const current = coord.state(this.d.name);
      // Auto-login only from "logged out" or a login already running: never loop on failures.
      if (current.state === 'logged_out' || current.state === 'logging_in' || coord.busy(this.d.name)) {
        const result = await abortable(coord.ensureLoggedIn(await signin.target()), signal);
        if (result.state === 'logged_in') {
          await this.afterLogin();
          return;
        }
      }
    }
    throw signin.notLoggedInError();
  }

  async refreshModels(): Promise<ModelInfo[]> {
    const r = await this.d.sup.requireRpc().request<Record<string, unknown> | null>('config/queryModels', {});
    this.models = flattenModels(r);
    this.d.onModels(this.d.name, this.models);
    // Logged in and listed: learn the dialect now, so the dashboard shows it before the first chat.
    void this.d.sup.dialectFor().catch((e) => this.d.log.debug({ err: (e as Error).message }, 'dialect detection failed'));
    return this.models;
  }

  /** Bumped by each `afterReady`: an older read that is still retrying gives way. */
  private readyRound = 0;

  /**
   * After ready: read login state and models; kick off auto-login when logged out. A first read
   * that fails (a runtime slow to answer right after start) is tried again a few times, backing
   * off, while the same process stays ready; otherwise the account would show signed out until
   * the next health probe.
   */
  afterReady(): void {
    const round = ++this.readyRound;
    void this.readAfterReady(round, 0);
  }

  private async readAfterReady(round: number, attempt: number): Promise<void> {
    const { signin, login, sup } = this.d;
    try {
      await signin.refresh();
    } catch (e) {
      const current = round === this.readyRound && sup.state === 'ready';
      if (!current || attempt >= READY_READ_RETRIES) {
        this.d.log.warn({ err: (e as Error).message }, 'reading the login state failed');
        return;
      }
      const clock = this.d.clock ?? systemClock;
      const t = clock.setTimeout(() => void this.readAfterReady(round, attempt + 1), backoffDelay(attempt, { baseMs: 500, maxMs: 4000, jitter: 0.2 }));
      t.unref?.();
      return;
    }
    try {
      if (signin.auth.loggedIn) {
        await this.refreshModels();
      } else if (login && this.d.config().login.auto) {
        const st = login.state(this.d.name).state;
        if (st === 'logged_out' || st === 'logged_in') {
          const result = await login.ensureLoggedIn(await signin.target());
          if (result.state === 'logged_in') await this.afterLogin();
        }
      }
    } catch (e) {
      this.d.log.warn({ err: (e as Error).message }, 'reading the models or signing in after start failed');
    }
  }

  private async afterLogin(): Promise<void> {
    await this.d.signin.refresh();
    if (this.d.signin.auth.loggedIn) await this.refreshModels().catch((e) => this.d.log.warn({ err: (e as Error).message }, 'config/queryModels failed'));
  }
}
