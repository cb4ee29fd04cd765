/**
 * Sign-in glue of one instance: `auth/status` (logged in = non-empty `id`, quota flags), the login
 * target handed to the LoginCoordinator (`login/generateUrl`, else `auth/login`), the dedicated
 * endpoint, and login expiry (401 `ExpiredTokenError` / `InvalidTokenError`: hand-off to the
 * coordinator's `expired`, the request fails over meanwhile).
 */
import type { Logger } from 'pino';
import { errors, type RelayError } from '../../errors';
import type { LoginCredentials } from '../../ports';
import type { LoginState, QuotaState } from '../types';
import type { RpcChannel } from './channel';
import { isMethodNotFound } from './dialects';
import type { LoginCoordinator, LoginTarget } from './login/coordinator';

export interface AuthInfo {
  loggedIn: boolean;
  user?: string;
  quota?: QuotaState;
}

/** The coordinator's expiry hook (another module adds it; optional so both versions compile). */
interface ExpiryAware {
  expired?(target: LoginTarget, reason: string): unknown;
}

export interface SigninDeps {
  name: string;
  username: () => string;
  dedicatedDomain: () => string | undefined;
  login?: LoginCoordinator;
  password: () => Promise<string | undefined>;
  rpc: () => RpcChannel;
  httpPort: () => number | undefined;
  log: Logger;
  /** Login state changed (the facade emits a snapshot). */
  changed(): void;
}

/** `isQuotaExceeded` / `is_quota_exceeded` (spec §8) and a reset time, when the record has one. */
export function quotaOf(r: Record<string, unknown>, now = Date.now()): QuotaState | undefined {
  const exceeded = [r.IsQuotaExceeded, r.isQuotaExceeded, r.is_quota_exceeded, r.quotaExceeded].some((v) => v === true || v === 'true' || v === 1);
  if (!exceeded) return undefined;
  const raw = [r.quotaResetTime, r.quotaResetAt, r.resetTime, r.resetsAt, r.reset_time].find((v) => typeof v === 'number' || (typeof v === 'string' && v.trim() !== ''));
  let resetsAt: number | undefined;
  const n = typeof raw === 'number' ? raw : raw !== undefined ? Number(raw) : NaN;
  if (Number.isFinite(n) && n > 0) resetsAt = n < 1e12 ? n * 1000 : n; // seconds or ms since epoch
  else if (typeof raw === 'string' && !Number.isNaN(Date.parse(raw))) resetsAt = Date.parse(raw);
  return resetsAt && resetsAt > now ? { exceeded: true, resetsAt } : { exceeded: true };
}

/** An `auth/status` answer: logged in = a non-empty `id` (spec §4), the user's name, the quota flags. */
export function authFromStatus(r: Record<string, unknown> | null): AuthInfo {
  const id = typeof r?.id === 'string' ? r.id : r?.id != null ? String(r.id) : '';
  if (!id) return { loggedIn: false };
  return { loggedIn: true, user: typeof r?.name === 'string' && r.name ? r.name : undefined, quota: r ? quotaOf(r) : undefined };
}

export class Signin {
  auth: AuthInfo = { loggedIn: false };
  private localLogin: LoginState = { state: 'logged_out' };

  constructor(private readonly deps: SigninDeps) {}

  state(): LoginState {
    const s = this.deps.login ? this.deps.login.state(this.deps.name) : this.localLogin;
    if (s.state === 'logged_in') return { state: 'logged_in', user: this.auth.user ?? s.user, quotaExceeded: this.auth.quota?.exceeded || undefined };
    return s;
  }

  /** `auth/status`: logged in = non-empty `id` (spec §4). */
  async refresh(signal?: AbortSignal): Promise<AuthInfo> {
    const r = await this.deps.rpc().request<Record<string, unknown> | null>('auth/status', {}, { signal });
    const next = authFromStatus(r);
    const changed = JSON.stringify(next) !== JSON.stringify(this.auth);
    this.auth = next;
    const coord = this.deps.login;
    const name = this.deps.name;
    if (next.loggedIn) {
      const st: LoginState = { state: 'logged_in', user: next.user, quotaExceeded: next.quota?.exceeded || undefined };
      if (coord) {
        if (coord.state(name).state !== 'logged_in' || changed) coord.report(name, st);
      } else this.setLocal(st);
    } else if (coord) {
      // A logout seen from outside; do not clobber a running or manual login.
      if (coord.state(name).state === 'logged_in') coord.report(name, { state: 'logged_out' });
    } else this.setLocal({ state: 'logged_out' });
    if (changed) this.deps.changed();
    return next;
  }

  setLocal(s: LoginState): void {
    if (JSON.stringify(s) === JSON.stringify(this.localLogin)) return;
    this.localLogin = s;
    this.deps.changed();
  }

  async target(): Promise<LoginTarget> {
    const password = await this.deps.password();
    const username = this.deps.username();
    const credentials: LoginCredentials | undefined = password ? { username, password } : undefined;
    return {
      instance: this.deps.name,
      credentials,
      accountless: !username,
      callbackUrl: `http://127.0.0.1:${this.deps.httpPort()}/auth/callback`,
      generateUrl: () => this.generateUrl(),
      isLoggedIn: async () => (await this.refresh()).loggedIn,
      prepare: this.deps.dedicatedDomain() ? () => this.switchEndpoint() : undefined,
      dedicatedDomain: this.deps.dedicatedDomain(),
    };
  }

  /** `login/generateUrl`; builds that answer -32601 offer `auth/login {}` instead (spec §4). */
  async generateUrl(): Promise<string> {
    const rpc = this.deps.rpc();
    let r: Record<string, unknown> | null;
    let method = 'login/generateUrl';
    try {
      r = await rpc.request<Record<string, unknown> | null>(method, { loginDedicatedType: '' });
    } catch (e) {
      if (!isMethodNotFound(e)) throw e;
      method = 'auth/login';
      r = await rpc.request<Record<string, unknown> | null>(method, {});
    }
    const url = [r?.loginUrl, r?.url, r?.authUrl].find((v) => typeof v === 'string' && v) as string | undefined;
    if (!url) throw new Error(`${method} returned no URL${typeof r?.errorMsg === 'string' && r.errorMsg ? `: ${r.errorMsg}` : ''}`);
    return url;
  }

  /** Dedicated-domain accounts: point the binary at the account's endpoint before login (spec §4). */
  private async switchEndpoint(): Promise<void> {
    const want = this.deps.dedicatedDomain();
    if (!want) return;
    const rpc = this.deps.rpc();
    const cur = await rpc.request<{ endpoint?: string } | null>('config/getEndpoint', {});
    if ((cur?.endpoint ?? '') === want) return;
    const r = await rpc.request<{ success?: boolean } | null>('config/updateEndpoint', { endpoint: want });
    if (r && r.success === false) throw new Error('config/updateEndpoint was refused');
    this.deps.log.info('switched to the dedicated endpoint');
  }

  /**
   * The runtime said the login expired (401), or `auth/status` turned logged out. The coordinator
   * gets the expiry (exactly one automatic re-login, single flight) and the request fails over
   * with a retryable 503 meanwhile. A runtime that still reports the expired login is logged out
   * first (spec §8: a refused refresh needs a new login), so the re-login is a real one.
   */
  async expired(err: RelayError): Promise<RelayError> {
    const now = await this.refresh().catch(() => undefined);
    if (now?.loggedIn) {
      await this.deps.rpc().request('auth/logout', {}).catch((e) => this.deps.log.debug({ err: (e as Error).message }, 'auth/logout after an expired login failed'));
      await this.refresh().catch(() => undefined);
    }
    this.deps.log.warn({ detail: err.detail }, 'the Lingma login expired; handing it to the login coordinator');
    try {
      const target = await this.target();
      // Not awaited: the re-login runs in the background while this request fails over.
      const relogin = (this.deps.login as (LoginCoordinator & ExpiryAware) | undefined)?.expired?.(target, err.detail ?? err.message);
      if (relogin instanceof Promise) relogin.catch((e: Error) => this.deps.log.warn({ err: e.message }, 'the re-login after an expiry failed'));
    } catch (e) {
      this.deps.log.warn({ err: (e as Error).message }, 'reporting the expired login failed');
    }
    return err;
  }

  notLoggedInError(): RelayError {
    const s = this.state();
    const name = this.deps.name;
    // SECURITY: client-facing; never the login URL, the reason detail or credentials.
    const code = s.state === 'logging_in' ? 'login_in_progress' : s.state === 'failed' ? 'login_failed' : 'login_required';
    const message = s.state === 'logging_in' ? `Lingma account ${name} is logging in; try again shortly.` : `Lingma account ${name} is not logged in; log it in from the dashboard.`;
    return errors.unavailable(message, { code, retryAfter: 5, retryable: true });
  }
}
