/**
 * Client-side checks with the admin API's own schemas (`core/admin/schemas.ts`, import-safe), so
 * a form refuses exactly what the API refuses, and explains it before sending in friendlier words.
 */
import type { AccountInput } from '../../src-main/core/admin/api-types';
import { AccountAddBody, AccountEditBody, CreateKeyBody, fieldProblems, tidyBody } from '../../src-main/core/admin/schemas';
// The engine's own name rules (an import-free core module), so the form says exactly what the API checks.
import { aliasNameProblem, NAME_RULE } from '../../src-main/core/names';

export type Errors<T> = Partial<Record<keyof T, string>>;

export function validateAccount(a: AccountInput, isNew: boolean): Errors<AccountInput> {
  const body = tidyBody(a) as Record<string, unknown>;
  const bad = fieldProblems(isNew ? AccountAddBody : AccountEditBody, body);
  const e: Errors<AccountInput> = {};
  if (bad.username) {
    const u = a.username.trim();
    e.username = !u ? 'Enter the account user name (usually an email or phone number).' : /\s/.test(u) ? 'User names cannot contain spaces.' : 'At most 256 characters.';
  }
  if (bad.password) e.password = a.password ? 'At most 1024 characters.' : 'Enter the password for a new account.';
  if (bad.name) e.name = `Use ${NAME_RULE}.`;
  if (bad.dedicatedDomain) {
    // The dedicated domain receives the password at sign-in: https only.
    let url: URL | undefined;
    try {
      url = new URL(String(body.dedicatedDomain));
    } catch {
      url = undefined;
    }
    e.dedicatedDomain = url && url.protocol !== 'https:' ? 'Must start with https://' : 'Enter a full URL, e.g. https://lingma.example.com';
  }
  if (bad.maxConcurrency) e.maxConcurrency = `Use a ${bad.maxConcurrency.replace(/^expected a /, '')}.`;
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
  return fieldProblems(CreateKeyBody, { name: n }).name ? `Use ${NAME_RULE}.` : undefined;
}

export function chainOf(d: AliasDraft): string[] {
  return d.chain.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
}

export function hasErrors(e: object): boolean {
  return Object.values(e).some(Boolean);
}
