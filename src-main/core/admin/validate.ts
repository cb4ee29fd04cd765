/**
 * Validation of admin action bodies. Every rejection is a 400 whose message names the field and
 * the problem, and never repeats a submitted password. Account and key names follow the one name
 * rule (`core/names.ts`); alias names their own.
 */
import { Value } from '@sinclair/typebox/value';
import { isHttpsDedicatedDomain } from '../sign-in-policy';
import { AliasesSchema, type AliasConfig } from '../config/schema';
import { errors } from '../errors';
import { aliasNameProblem, nameProblem } from '../names';
import type { AccountInput, CreateKeyInput, SettingsPatch } from './api-types';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

function obj(body: unknown, what: string): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw errors.invalid(`The ${what} must be a JSON object.`);
  return body as Record<string, unknown>;
}

function unknownKeys(o: Record<string, unknown>, allowed: string[], what: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw errors.invalid(`Unknown field '${k}' in ${what}.`, k);
}

function int(o: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw errors.invalid(`${key}: expected a whole number from ${min} to ${max}.`, key);
  }
  return v;
}

/** Account add (`partial` false) or edit (`partial` true). */
export function parseAccount(body: unknown, partial: boolean): AccountInput {
  const o = obj(body, 'account');
  unknownKeys(o, ['username', 'password', 'name', 'dedicatedDomain', 'maxConcurrency', 'disabled'], 'account');
  const out: Partial<AccountInput> = {};
  if (o.username !== undefined || !partial) {
    if (typeof o.username !== 'string' || !o.username.trim()) throw errors.invalid('username: required.', 'username');
    const u = o.username.trim();
    if (u.length > 256 || /[\s\u0000-\u001f]/.test(u)) throw errors.invalid('username: must be at most 256 characters, without spaces.', 'username');
    out.username = u;
  }
  if (o.password !== undefined && o.password !== null && o.password !== '') {
    // SECURITY: never echo the password back, even in an error.
    if (typeof o.password !== 'string') throw errors.invalid('password: must be text.', 'password');
    if (o.password.length > 1024) throw errors.invalid('password: too long (at most 1024 characters).', 'password');
    out.password = o.password;
  } else if (!partial) {
    throw errors.invalid('password: required for a new account.', 'password');
  }
  if (o.name !== undefined && o.name !== null && o.name !== '') {
    const bad = nameProblem(o.name);
    if (bad) throw errors.invalid(bad, 'name');
    out.name = o.name as string;
  }
  if (o.dedicatedDomain !== undefined && o.dedicatedDomain !== null && o.dedicatedDomain !== '') {
    // SECURITY: the dedicated domain's origin receives the password at sign-in: https only.
    if (typeof o.dedicatedDomain !== 'string' || !isHttpsDedicatedDomain(o.dedicatedDomain)) {
      throw errors.invalid('dedicatedDomain: must be an https URL, e.g. https://lingma.example.com.', 'dedicatedDomain');
    }
    out.dedicatedDomain = o.dedicatedDomain as string;
  }
  const mc = int(o, 'maxConcurrency', 1, 64);
  if (mc !== undefined) out.maxConcurrency = mc;
  if (o.disabled !== undefined) {
    if (typeof o.disabled !== 'boolean') throw errors.invalid('disabled: expected true or false.', 'disabled');
    out.disabled = o.disabled;
  }
  return out as AccountInput;
}

export function parseCreateKey(body: unknown): CreateKeyInput {
  const o = obj(body, 'key request');
  unknownKeys(o, ['name', 'rpm', 'tokensPerDay', 'expiresAt'], 'key request');
  if (typeof o.name !== 'string' || !o.name.trim()) throw errors.invalid('name: required (a label such as "laptop" or "cursor").', 'name');
  const bad = nameProblem(o.name.trim());
  if (bad) throw errors.invalid(bad, 'name');
  const out: CreateKeyInput = { name: o.name.trim() };
  const rpm = int(o, 'rpm', 1, 1_000_000);
  if (rpm !== undefined) out.rpm = rpm;
  const tpd = int(o, 'tokensPerDay', 1, 1_000_000_000_000);
  if (tpd !== undefined) out.tokensPerDay = tpd;
  if (o.expiresAt !== undefined && o.expiresAt !== null && o.expiresAt !== '') {
    if (typeof o.expiresAt !== 'string' || o.expiresAt.length < 10 || Number.isNaN(Date.parse(o.expiresAt))) {
      throw errors.invalid('expiresAt: expected a date like 2027-01-31.', 'expiresAt');
    }
    out.expiresAt = o.expiresAt;
  }
  return out;
}

export function parseSettings(body: unknown): SettingsPatch {
  const o = obj(body, 'settings');
  unknownKeys(o, ['logLevel', 'maxInFlight', 'queueTimeoutMs', 'perKeyConcurrency', 'firstByteTimeoutMs', 'loginAuto'], 'settings');
  const out: SettingsPatch = {};
  if (o.logLevel !== undefined) {
    if (!LEVELS.includes(o.logLevel as (typeof LEVELS)[number])) throw errors.invalid(`logLevel: one of ${LEVELS.join(', ')}.`, 'logLevel');
    out.logLevel = o.logLevel as SettingsPatch['logLevel'];
  }
  const m = int(o, 'maxInFlight', 1, 100_000);
  if (m !== undefined) out.maxInFlight = m;
  const q = int(o, 'queueTimeoutMs', 0, 3_600_000);
  if (q !== undefined) out.queueTimeoutMs = q;
  const pk = int(o, 'perKeyConcurrency', 1, 100_000);
  if (pk !== undefined) out.perKeyConcurrency = pk;
  const fb = int(o, 'firstByteTimeoutMs', 100, 3_600_000);
  if (fb !== undefined) out.firstByteTimeoutMs = fb;
  if (o.loginAuto !== undefined) {
    if (typeof o.loginAuto !== 'boolean') throw errors.invalid('loginAuto: expected true or false.', 'loginAuto');
    out.loginAuto = o.loginAuto;
  }
  return out;
}

function targetName(t: AliasConfig | { target: string } | string): string {
  return typeof t === 'string' ? t : 'target' in t ? t.target : '';
}

/**
 * Aliases as written in a config file. Checks the schema, alias names, provider prefixes and
 * cycles; the routing module may check more (`validateAliases` hook).
 */
export function parseAliasesBody(body: unknown, knownProviders: string[]): Record<string, AliasConfig> {
  const o = obj(body, 'request');
  const raw = o.aliases;
  const aliases = obj(raw, "'aliases' field");
  if (!Value.Check(AliasesSchema, aliases)) {
    const first = [...Value.Errors(AliasesSchema, aliases)][0];
    const path = first?.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : '';
    throw errors.invalid(`aliases${path ? '.' + path : ''}: ${first?.message ?? 'invalid'}.`, 'aliases');
  }
  const typed = aliases as Record<string, AliasConfig>;
  const names = Object.keys(typed);
  for (const name of names) {
    const bad = aliasNameProblem(name);
    if (bad) throw errors.invalid(bad, 'aliases');
  }
  const chainOf = (name: string): string[] => {
    const a = typed[name];
    if (a === undefined) return [];
    if (typeof a === 'string') return [a];
    return a.chain.map((t) => targetName(t as never));
  };
  for (const name of names) {
    for (const t of chainOf(name)) {
      if (!t.trim()) throw errors.invalid(`alias '${name}': empty target.`, 'aliases');
      const slash = t.indexOf('/');
      if (slash > 0 && !(t in typed)) {
        const provider = t.slice(0, slash);
        if (knownProviders.length && !knownProviders.includes(provider)) {
          throw errors.invalid(`alias '${name}': target '${t}' names an unknown provider '${provider}' (known: ${knownProviders.join(', ')}).`, 'aliases');
        }
      }
    }
  }
  // Cycles: depth-first over alias → alias edges, reporting the path.
  const state = new Map<string, 1 | 2>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 2) return;
    if (state.get(name) === 1) {
      const from = path.indexOf(name);
      throw errors.invalid(`alias cycle: ${[...path.slice(from), name].join(' -> ')}.`, 'aliases');
    }
    state.set(name, 1);
    for (const t of chainOf(name)) if (t in typed && !t.includes('*')) visit(t, [...path, name]);
    state.set(name, 2);
  };
  for (const name of names) visit(name, []);
  return typed;
}
