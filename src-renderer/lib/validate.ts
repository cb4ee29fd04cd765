/** Client-side checks mirroring the admin API's, so forms explain problems before sending. */
import type { AccountInput } from '../../src-main/core/admin/api-types';
// The engine's own name rules (an import-free core module), so the form says exactly what the API checks.
import { aliasNameProblem, NAME_RULE, nameProblem } from '../../src-main/core/names';

export type Errors<T> = Partial<Record<keyof T, string>>;

export function validateAccount(a: AccountInput, isNew: boolean): Errors<AccountInput> {
  const e: Errors<AccountInput> = {};
  const u = a.username.trim();
  if (!u) e.username = 'Enter the account user name (usually an email or phone number).';
  else if (/\s/.test(u)) e.username = 'User names cannot contain spaces.';
  else if (u.length > 256) e.username = 'At most 256 characters.';
  if (isNew && !a.password) e.password = 'Enter the password for a new account.';
  if (a.password && a.password.length > 1024) e.password = 'At most 1024 characters.';
  if (a.name && nameProblem(a.name)) e.name = `Use ${NAME_RULE}.`;
  if (a.dedicatedDomain) {
    try {
      const url = new URL(a.dedicatedDomain);
      // The dedicated domain receives the password at sign-in: https only (the server refuses http too).
      if (url.protocol !== 'https:') e.dedicatedDomain = 'Must start with https://';
    } catch {
      e.dedicatedDomain = 'Enter a full URL, e.g. https://lingma.example.com';
    }
  }
  return e;
}

export interface AliasDraft {
  name: string;
  description: string;
  /** One target per line. */
  chain: string;
}

export function validateAlias(d: AliasDraft, others: string[]): Errors<AliasDraft> {
  const e: Errors<AliasDraft> = {};
  const name = d.name.trim();
  if (!name) e.name = 'Give the alias a name, e.g. coder or claude-*.';
  else if (aliasNameProblem(name)) e.name = aliasNameProblem(name);
  else if (others.includes(name)) e.name = `An alias named '${name}' exists already.`;
  const targets = chainOf(d);
  if (!targets.length) e.chain = 'Add at least one target, e.g. lingma/qwen3-coder.';
  else if (targets.includes(name)) e.chain = 'An alias cannot point at itself.';
  return e;
}

/** A new API key's name: the same rule as account names. */
export function validateKeyName(name: string): string | undefined {
  const n = name.trim();
  if (!n) return 'Name the key after where it is used, e.g. "laptop" or "cursor".';
  return nameProblem(n) ? `Use ${NAME_RULE}.` : undefined;
}

export function chainOf(d: AliasDraft): string[] {
  return d.chain.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
}

export function hasErrors(e: object): boolean {
  return Object.values(e).some(Boolean);
}
