/**
 * The Lingma provider's account API (`provider.accounts`): what the admin API and the hosts call
 * to list, add, edit and remove accounts and to sign them in, out or restart them. The provider
 * owns the instances; this module owns the account operations over them. Each change emits ONE
 * `config` hub event (`'accounts'`), here, so the admin routes emit none of their own.
 */
import { join } from 'node:path';
import { errors } from '../../errors';
import type { EventHub } from '../../events';
import { removeTree } from '../../safe-path';
import type { InstanceSnapshot } from '../types';
import type { AccountInput, AccountPatch, AccountStore, PublicAccount } from './accounts';
import type { AttachedInstance } from './attach/attached';
import type { LingmaInstance } from './instance';
import type { LingmaAccount } from './types';
import type { LoginCoordinator } from './login/coordinator';
import type { SessionCache } from './session-cache';

export interface LingmaAccountsApi {
  /** Every account (config and runtime), without secrets: `hasPassword` only. */
  list(): Promise<PublicAccount[]>;
  /** Add a runtime account; its instance is created (and started when the provider runs). */
  add(input: AccountInput): Promise<PublicAccount>;
  /** Edit a runtime account; another user or domain logs the old login out and restarts. */
  update(name: string, patch: AccountPatch): Promise<PublicAccount>;
  /** Remove a runtime account: its process, its upstream sessions and its work dir go. */
  remove(name: string): Promise<void>;
  /** Sign one account in: auto-login with its password, else a manual link. */
  login(name: string): Promise<InstanceSnapshot>;
  /** Sign every enabled account in. */
  loginAll(): Promise<InstanceSnapshot[]>;
  logout(name: string): Promise<InstanceSnapshot>;
  restart(name: string): Promise<InstanceSnapshot>;
}

/** What the account operations need from the provider (implemented by `LingmaProvider`). */
export interface AccountsHost {
  readonly store: AccountStore;
  readonly sessions: SessionCache;
  readonly loginCoordinator: LoginCoordinator;
  readonly dataDir: string;
  readonly hub?: EventHub;
  /** The owned instances (mutable: add/remove change it). */
  readonly list: LingmaInstance[];
  attachedInstance(): AttachedInstance | undefined;
  createInstance(account: LingmaAccount): LingmaInstance;
  /** The attached app was named like a new account: serve it on under a fresh name. */
  renameAttached(): Promise<void>;
  /** Forget an instance's models (it is gone). */
  dropModels(instance: string): void;
  running(): { started: boolean; halting: boolean };
}

/** Admin actions the relay never takes on an app it attached to (400, client-safe). */
export function attachedRefusal(inst: AttachedInstance): Error {
  return errors.invalid(
    `${inst.name} is the running ${inst.app.appName} app, which Relay serves through but does not own: sign in, sign out or restart it inside the app.`,
    'name',
    'attached_instance',
  );
}

export class LingmaAccounts implements LingmaAccountsApi {
  constructor(private readonly host: AccountsHost) {}

  private find(name: string): LingmaInstance | undefined {
    return this.host.list.find((i) => i.name === name);
  }

  private require(name: string): LingmaInstance {
    if (typeof name !== 'string' || !name) throw errors.invalid('An instance name is required.', 'name');
    const attached = this.host.attachedInstance();
    if (attached?.name === name) throw attachedRefusal(attached);
    const i = this.find(name);
    if (!i) throw errors.notFound(`No Lingma instance named ${name}.`, 'instance_not_found');
    return i;
  }

  private changed(): void {
    this.host.hub?.emit('config', 'accounts');
  }

  list(): Promise<PublicAccount[]> {
    return this.host.store.list();
  }

  async add(input: AccountInput): Promise<PublicAccount> {
    const h = this.host;
    const account = await h.store.add(input);
    const inst = h.createInstance(account);
    h.list.push(inst);
    if (h.attachedInstance()?.name === account.name) await h.renameAttached();
    this.changed();
    const { started, halting } = h.running();
    if (halting) inst.prepareStop();
    else if (started) void inst.start();
    return (await h.store.list()).find((a) => a.name === account.name)!;
  }

  async update(name: string, patch: AccountPatch): Promise<PublicAccount> {
    const h = this.host;
    const { account, identityChanged } = await h.store.update(name, patch);
    const inst = this.find(name);
    if (inst) {
      const { started } = h.running();
      inst.setAccount(account);
      if (identityChanged) {
        // Another user (or domain) for this work dir: the old login must not serve it.
        await inst.logout().catch(() => undefined);
        if (started && !account.disabled) await inst.restart();
      } else if (account.disabled) {
        await inst.stop();
      } else if (started && inst.state() === 'stopped') {
        void inst.start();
      }
      if (patch.password && inst.loginState().state !== 'logged_in') h.loginCoordinator.cancel(name);
    }
    this.changed();
    return (await h.store.list()).find((a) => a.name === name)!;
  }

  async remove(name: string): Promise<void> {
    const h = this.host;
    const inst = this.find(name);
    await h.store.remove(name);
    if (inst) {
      await inst.close();
      h.list.splice(h.list.indexOf(inst), 1);
    }
    h.dropModels(name);
    h.sessions.dropInstance(name);
    // SECURITY: the work dir holds the account's login tokens; remove it with the account.
    removeTree(join(h.dataDir, 'lingma'), name);
    this.changed();
  }

  async login(name: string): Promise<InstanceSnapshot> {
    const inst = this.require(name);
    await inst.login();
    return inst.snapshot();
  }

  async loginAll(): Promise<InstanceSnapshot[]> {
    await Promise.allSettled(this.host.list.filter((i) => !i.account.disabled).map((i) => i.login()));
    return this.host.list.map((i) => i.snapshot());
  }

  async logout(name: string): Promise<InstanceSnapshot> {
    const inst = this.require(name);
    await inst.logout();
    return inst.snapshot();
  }

  async restart(name: string): Promise<InstanceSnapshot> {
    const inst = this.require(name);
    await inst.restart();
    return inst.snapshot();
  }
}
