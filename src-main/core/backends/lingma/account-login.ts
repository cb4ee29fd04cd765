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
}

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

  /** After ready: read login state and models; kick off auto-login when logged out. */
  afterReady(): void {
    const { signin, login } = this.d;
    void (async () => {
      try {
        await signin.refresh();
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
        this.d.log.warn({ err: (e as Error).message }, 'reading the login state failed');
      }
    })();
  }

  private async afterLogin(): Promise<void> {
    await this.d.signin.refresh();
    if (this.d.signin.auth.loggedIn) await this.refreshModels().catch((e) => this.d.log.warn({ err: (e as Error).message }, 'config/queryModels failed'));
  }
}
