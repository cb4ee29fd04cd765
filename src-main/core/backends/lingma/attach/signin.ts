/**
 * The sign-in of an attached app, read only (spec §7): `auth/status` as the owned instances read it
 * (`authFromStatus`, ../signin.ts), re-read now and then while signed out because a person signs
 * in inside the app. The relay never logs an app it attached to in or out.
 */
import { errors, type RelayError } from '../../../errors';
import type { LoginState } from '../../types';
import type { RpcChannel } from '../channel';
import { authFromStatus, type AuthInfo } from '../signin';

export interface AttachedAuth extends AuthInfo {
  /** `auth/status` was read at least once. */
  known: boolean;
}

export interface AttachedSigninDeps {
  rpc(): RpcChannel;
  appName(): string;
  /** While signed out, re-read `auth/status` this often. Default 15 s. */
  pollMs?: number;
  /** The relay is stopping: no more polls. */
  halted(): boolean;
  /** The connection is up (a poll is worth sending). */
  connected(): boolean;
  /** A person signed in inside the app after we had seen it signed out. */
  signedIn(): Promise<void>;
  /** The app signed out. */
  signedOut(): void;
  /** The sign-in changed (the instance emits a snapshot). */
  changed(): void;
}

export class AttachedSignin {
  auth: AttachedAuth = { known: false, loggedIn: false };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: AttachedSigninDeps) {}

  state(): LoginState {
    const auth = this.auth;
    if (auth.loggedIn) return { state: 'logged_in', user: auth.user, quotaExceeded: auth.quota?.exceeded || undefined };
    if (!auth.known) return { state: 'logged_out' };
    // SECURITY/ownership: the relay never signs in an app it attached to; a person does, there.
    return { state: 'needs_manual', url: '', reason: `needs a person: sign in inside the ${this.deps.appName()} app` };
  }

  /** `auth/status`. Read only: never logs in or out. */
  async refresh(signal?: AbortSignal): Promise<AttachedAuth> {
    const r = await this.deps.rpc().request<Record<string, unknown> | null>('auth/status', {}, { signal });
    const next: AttachedAuth = { known: true, ...authFromStatus(r) };
    const was = this.auth;
    this.auth = next;
    if (JSON.stringify(next) !== JSON.stringify(was)) {
      if (next.loggedIn && !was.loggedIn && was.known) await this.deps.signedIn().catch(() => undefined);
      if (!next.loggedIn && was.loggedIn) this.deps.signedOut();
      this.deps.changed();
    }
    this.schedulePoll();
    return next;
  }

  /** Stops the poll (the connection closes or the relay stops). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  signedOutError(): RelayError {
    return errors.unavailable(`The ${this.deps.appName()} app is not signed in; sign in inside the app.`, {
      code: 'login_required',
      retryAfter: 5,
      retryable: true,
    });
  }

  /** While signed out, look again now and then: the person signs in inside the app. */
  private schedulePoll(): void {
    this.stop();
    if (this.auth.loggedIn || this.deps.halted()) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.deps.connected()) void this.refresh().catch(() => undefined);
    }, this.deps.pollMs ?? 15_000);
    this.timer.unref();
  }
}
