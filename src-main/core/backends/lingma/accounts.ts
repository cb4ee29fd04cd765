/**
 * Lingma accounts: those in the config file (read-only here) plus those added at runtime from the
 * dashboard, kept in `<dataDir>/accounts.json`.
 *
 * SECURITY: passwords of runtime accounts live ONLY in the injected SecretStore under
 * `lingma:<instance>:password`; never in accounts.json, never logged, never returned. Config
 * passwords stay in memory. Listings report `hasPassword` only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AccountConfig } from '../../config/schema';
import { errors } from '../../errors';
import { deriveSafeName, isSafeName, nameProblem } from '../../names';
import type { SecretStore } from '../../ports';
import type { LingmaAccount } from './types';
import { isHttpsDedicatedDomain } from '../../sign-in-policy';
import { writeFileAtomicSync } from '../../fs-atomic';


export interface AccountInput {
  name?: string;
  username: string;
  password?: string;
  dedicatedDomain?: string;
  maxConcurrency?: number;
  disabled?: boolean;
}

/** `undefined` leaves a field unchanged; `password: ''` or `null` removes the stored password. */
export interface AccountPatch {
  username?: string;
  password?: string | null;
  dedicatedDomain?: string | null;
  maxConcurrency?: number | null;
  disabled?: boolean;
}

export interface PublicAccount {
  name: string;
  username: string;
  dedicatedDomain?: string;
  maxConcurrency?: number;
  disabled?: boolean;
  hasPassword: boolean;
  source: 'config' | 'runtime';
}

interface StoredAccount {
  name: string;
  username: string;
  dedicatedDomain?: string;
  maxConcurrency?: number;
  disabled?: boolean;
}

export const passwordKey = (name: string): string => `lingma:${name}:password`;

/** An instance name from a user name: safe characters only, unique among `taken`. */
export function deriveName(username: string, taken: Set<string>, fallbackIndex: number): string {
  return deriveSafeName(username, taken, `lingma-${fallbackIndex}`);
}

function validateInput(input: Partial<AccountInput & AccountPatch>, creating: boolean): void {
  if (creating || input.username !== undefined) {
    if (typeof input.username !== 'string' || !input.username.trim()) throw errors.invalid('username is required.', 'username');
    if (input.username.length > 256) throw errors.invalid('username is too long (256 characters at most).', 'username');
  }
  if (input.name !== undefined && !isSafeName(input.name)) throw errors.invalid(nameProblem(input.name)!, 'name');
  if (input.password !== undefined && input.password !== null) {
    if (typeof input.password !== 'string') throw errors.invalid('password must be a string.', 'password');
    if (input.password.length > 1024) throw errors.invalid('password is too long.', 'password');
  }
  if (input.dedicatedDomain !== undefined && input.dedicatedDomain !== null && input.dedicatedDomain !== '') {
    // SECURITY: the dedicated domain's origin receives the password at sign-in: https only.
    if (!isHttpsDedicatedDomain(String(input.dedicatedDomain))) throw errors.invalid('dedicatedDomain must be an https URL.', 'dedicatedDomain');
  }
  if (input.maxConcurrency !== undefined && input.maxConcurrency !== null) {
    if (!Number.isInteger(input.maxConcurrency) || input.maxConcurrency < 1 || input.maxConcurrency > 64) {
      throw errors.invalid('maxConcurrency must be an integer from 1 to 64.', 'maxConcurrency');
    }
  }
  if (input.disabled !== undefined && typeof input.disabled !== 'boolean') throw errors.invalid('disabled must be true or false.', 'disabled');
}

export class AccountStore {
  private readonly configAccounts: Array<LingmaAccount & { password?: string }> = [];
  private runtime: StoredAccount[] = [];
  readonly file: string;

  constructor(
    configAccounts: AccountConfig[],
    dataDir: string,
    private readonly secrets: SecretStore,
    private readonly log: Logger,
  ) {
    this.file = join(dataDir, 'accounts.json');
    const taken = new Set<string>();
    configAccounts.forEach((a, i) => {
      // The schema already refused unsafe names; a derived name is safe by construction.
      const name = a.name && isSafeName(a.name) && !taken.has(a.name) ? a.name : deriveName(a.username, taken, i + 1);
      taken.add(name);
      this.configAccounts.push({
        name,
        username: a.username,
        password: a.password || undefined,
        dedicatedDomain: a.dedicatedDomain,
        maxConcurrency: a.maxConcurrency,
        disabled: a.disabled,
        source: 'config',
      });
    });
    this.load();
  }

  private load(): void {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ file: this.file, err: (e as Error).message }, 'accounts.json is unreadable; runtime accounts ignored');
      return;
    }
    const list = Array.isArray((raw as { accounts?: unknown })?.accounts) ? (raw as { accounts: unknown[] }).accounts : [];
    const taken = new Set(this.configAccounts.map((a) => a.name));
    for (const item of list) {
      const a = item as StoredAccount;
      if (a && typeof a.name === 'string' && !isSafeName(a.name)) {
        this.log.warn({ file: this.file, name: String(a.name).slice(0, 80) }, `accounts.json: account ignored, its ${nameProblem(a.name)}`);
        continue;
      }
      if (!a || typeof a.name !== 'string' || typeof a.username !== 'string' || taken.has(a.name)) continue;
      taken.add(a.name);
      this.runtime.push({ name: a.name, username: a.username, dedicatedDomain: a.dedicatedDomain, maxConcurrency: a.maxConcurrency, disabled: a.disabled });
    }
  }

  private save(): void {
    // SECURITY: no password field is ever written here.
    const body = { accounts: this.runtime.map(({ name, username, dedicatedDomain, maxConcurrency, disabled }) => ({ name, username, dedicatedDomain, maxConcurrency, disabled })) };
    writeFileAtomicSync(this.file, JSON.stringify(body, null, 2));
  }

  /** Every account, config first. */
  all(): LingmaAccount[] {
    return [
      ...this.configAccounts.map(({ password: _pw, ...a }) => a),
      ...this.runtime.map((a) => ({ ...a, source: 'runtime' as const })),
    ];
  }

  get(name: string): LingmaAccount | undefined {
    return this.all().find((a) => a.name === name);
  }

  async password(name: string): Promise<string | undefined> {
    const c = this.configAccounts.find((a) => a.name === name);
    if (c) return c.password;
    if (!this.runtime.some((a) => a.name === name)) return undefined;
    return (await this.secrets.get(passwordKey(name))) || undefined;
  }

  async list(): Promise<PublicAccount[]> {
    const out: PublicAccount[] = [];
    for (const a of this.all()) {
      out.push({
        name: a.name,
        username: a.username,
        dedicatedDomain: a.dedicatedDomain,
        maxConcurrency: a.maxConcurrency,
        disabled: a.disabled,
        hasPassword: !!(await this.password(a.name)),
        source: a.source === 'config' ? 'config' : 'runtime',
      });
    }
    return out;
  }

  async add(input: AccountInput): Promise<LingmaAccount> {
    if (!input || typeof input !== 'object') throw errors.invalid('An account object is required.');
    validateInput(input, true);
    const taken = new Set(this.all().map((a) => a.name));
    const username = input.username.trim();
    if (this.all().some((a) => a.username.toLowerCase() === username.toLowerCase() && (a.dedicatedDomain ?? '') === (input.dedicatedDomain ?? ''))) {
      throw errors.invalid(`An account for ${username} already exists.`, 'username', 'account_exists');
    }
    if (input.name && taken.has(input.name)) throw errors.invalid(`An account named ${input.name} already exists.`, 'name', 'account_exists');
    const name = input.name ?? deriveName(username, taken, taken.size + 1);
    const stored: StoredAccount = {
      name,
      username,
      dedicatedDomain: input.dedicatedDomain || undefined,
      maxConcurrency: input.maxConcurrency,
      disabled: input.disabled,
    };
    if (input.password) await this.secrets.set(passwordKey(name), input.password);
    this.runtime.push(stored);
    this.save();
    this.log.info({ instance: name }, 'account added');
    return { ...stored, source: 'runtime' };
  }

  async update(name: string, patch: AccountPatch): Promise<{ account: LingmaAccount; identityChanged: boolean }> {
    if (!patch || typeof patch !== 'object') throw errors.invalid('An account patch object is required.');
    if (this.configAccounts.some((a) => a.name === name)) {
      throw errors.invalid(`Account ${name} comes from the config file; edit it there.`, 'name', 'account_read_only');
    }
    const a = this.runtime.find((x) => x.name === name);
    if (!a) throw errors.notFound(`No account named ${name}.`, 'account_not_found');
    validateInput(patch as Partial<AccountInput & AccountPatch>, false);
    const before = `${a.username}\u0000${a.dedicatedDomain ?? ''}`;
    if (patch.username !== undefined) a.username = patch.username.trim();
    if (patch.dedicatedDomain !== undefined) a.dedicatedDomain = patch.dedicatedDomain || undefined;
    if (patch.maxConcurrency !== undefined) a.maxConcurrency = patch.maxConcurrency ?? undefined;
    if (patch.disabled !== undefined) a.disabled = patch.disabled;
    if (patch.password !== undefined) {
      if (patch.password) await this.secrets.set(passwordKey(name), patch.password);
      else await this.secrets.delete(passwordKey(name));
    }
    this.save();
    this.log.info({ instance: name }, 'account updated');
    return { account: { ...a, source: 'runtime' }, identityChanged: before !== `${a.username}\u0000${a.dedicatedDomain ?? ''}` };
  }

  async remove(name: string): Promise<void> {
    if (this.configAccounts.some((a) => a.name === name)) {
      throw errors.invalid(`Account ${name} comes from the config file; remove it there.`, 'name', 'account_read_only');
    }
    const i = this.runtime.findIndex((x) => x.name === name);
    if (i < 0) throw errors.notFound(`No account named ${name}.`, 'account_not_found');
    this.runtime.splice(i, 1);
    this.save();
    await this.secrets.delete(passwordKey(name));
    this.log.info({ instance: name }, 'account removed');
  }
}
