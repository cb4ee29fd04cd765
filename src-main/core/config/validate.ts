/**
 * Config validation with messages a person can act on: every problem names the key path and the
 * bad value, e.g. `limits.maxInFlight: expected an integer >= 1, got "lots"` or
 * `server.hots: unknown key`. TypeBox does the checking; this file only words the result.
 * SECURITY: values under a secret-looking key (`*key*`, `*token*`, `*password*`, `*secret*`,
 * `headers`) are reported by type only (`isSecretPath`, `showFor`).
 */
import { Kind, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { allowedOriginsIssues } from '../sign-in-policy';
import { aliasNameProblem } from '../names';
import { ConfigSchema, type Config } from './schema';

export class ConfigError extends Error {
  /** One line per problem, each naming the key (or variable/flag) and the value. */
  readonly issues: string[];
  constructor(issues: string[], source?: string) {
    const head = source ? `Invalid configuration (${source}):` : 'Invalid configuration:';
    super(issues.length === 1 ? `${head} ${issues[0]}` : `${head}\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** `/server/apiKeys/0/key` -> `server.apiKeys[0].key` */
export function keyPath(pointer: string, prefix = ''): string {
  let out = prefix;
  for (const seg of pointer.split('/').slice(1)) {
    const s = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(s)) out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out || '(root)';
}

export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

const SECRET_KEY = /key|token|password|passwd|secret/i;
/** Connection URLs that may carry a password (`redis://:pw@host`, `postgres://u:pw@host/db`). */
const SECRET_URL_KEY = /^(redisUrl|postgresUrl)$/;

/**
 * Does a key path name a secret? Its last named key looks like one (`providers[0].apiKey`,
 * `server.apiKeys[1]`, `lingma.accounts[0].password`), or it lies under `headers`.
 */
export function isSecretPath(path: string): boolean {
  const names = [...path.matchAll(/(?:^|\.)([A-Za-z_$][\w$-]*)|\["((?:[^"\\]|\\.)*)"\]/g)].map((m) => m[1] ?? m[2] ?? '');
  const last = names[names.length - 1] ?? '';
  return SECRET_KEY.test(last) || SECRET_URL_KEY.test(last) || names.some((n) => n.toLowerCase() === 'headers');
}

/** The type of a value, never the value: `a string`, `a number`, `a list`, ... */
export function showType(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'true/false' : `a ${typeof v}`} (value hidden)`;
}

/** `showValue`, or only the type under a secret-looking key. */
export function showFor(path: string, v: unknown): string {
  return isSecretPath(path) ? showType(v) : showValue(v);
}

/** Words what a schema expects: "an integer >= 1", "one of \"a\", \"b\"", "a URL". */
export function describeSchema(schema: TSchema): string {
  const s = schema as Record<string, any>;
  if (s.anyOf) {
    const parts = (s.anyOf as TSchema[]).map(describeSchema);
    if ((s.anyOf as any[]).every((x) => x.const !== undefined)) return `one of ${parts.join(', ')}`;
    return parts.join(' or ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  switch (s.type) {
    case 'integer':
    case 'number': {
      const noun = s.type === 'integer' ? 'an integer' : 'a number';
      if (s.minimum !== undefined && s.maximum !== undefined) return `${noun} from ${s.minimum} to ${s.maximum}`;
      if (s.minimum !== undefined) return `${noun} >= ${s.minimum}`;
      if (s.maximum !== undefined) return `${noun} <= ${s.maximum}`;
      return noun;
    }
    case 'string':
      if (typeof s.rule === 'string') return s.rule;
      if (s.format === 'uri') return 'an http(s) URL';
      if (s.format === 'https-uri') return 'an https URL';
      if (s.pattern) return `a string matching ${s.pattern}`;
      if (s.minLength) return `a string of at least ${s.minLength} characters`;
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'array':
      return s.minItems ? `a list of at least ${s.minItems} items` : 'a list';
    case 'object':
      return 'a mapping (object)';
    case 'null':
      return 'null';
    default:
      return (schema as any)[Kind] === 'Unknown' ? 'any value' : 'a valid value';
  }
}

function typeMatches(schema: TSchema, value: unknown): boolean {
  const t = (schema as any).type;
  if ((schema as any).const !== undefined) return typeof value === typeof (schema as any).const;
  if (t === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  if (t === 'array') return Array.isArray(value);
  if (t === 'integer') return typeof value === 'number';
  if (t === 'null') return value === null;
  return typeof value === t;
}

/** Worded issues of `value` against `schema`; union members matching the value's type are descended into. */
export function schemaIssues(schema: TSchema, value: unknown, prefix = ''): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(schema, value) as Iterable<ValueError>) {
    const where = keyPath(e.path, prefix);
    // One message per key: the first is the most specific TypeBox gives.
    if (seen.has(where)) continue;
    // A parent's union error is followed by nothing useful; children are handled below.
    if ([...seen].some((p) => where.startsWith(p + '.') || where.startsWith(p + '['))) continue;
    seen.add(where);
    if (e.type === ValueErrorType.ObjectAdditionalProperties) {
      out.push(`${where}: unknown key`);
    } else if (e.type === ValueErrorType.ObjectRequiredProperty) {
      out.push(`${where}: required, expected ${describeSchema(e.schema)}`);
    } else if (e.type === ValueErrorType.Union && (e.schema as any).anyOf) {
      const sameType = ((e.schema as any).anyOf as TSchema[]).filter((m) => typeMatches(m, e.value));
      if (sameType.length === 1 && (sameType[0] as any).const === undefined) {
        const nested = schemaIssues(sameType[0], e.value, where === '(root)' ? '' : where);
        if (nested.length) {
          out.push(...nested);
          continue;
        }
      }
      out.push(`${where}: expected ${describeSchema(e.schema)}, got ${showFor(where, e.value)}`);
    } else {
      out.push(`${where}: expected ${describeSchema(e.schema)}, got ${showFor(where, e.value)}`);
    }
  }
  return out;
}

/**
 * Fill defaults and validate. Returns a complete `Config` or throws a ConfigError naming every
 * bad key. `raw` is not modified.
 */
export function validateConfig(raw: unknown, source?: string): Config {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`expected a mapping of settings at the top level, got ${showType(raw)}`], source);
  }
  const value = Value.Default(ConfigSchema, structuredClone(raw)) as Config;
  const issues = schemaIssues(ConfigSchema, value);
  if (!issues.length) issues.push(...semanticIssues(value));
  if (issues.length) throw new ConfigError(issues, source);
  return value;
}

/** Rules a schema cannot say. */
function semanticIssues(c: Config): string[] {
  const out: string[] = [];
  const providerNames = new Set<string>();
  c.providers.forEach((p, i) => {
    if (p.name === 'lingma') out.push(`providers[${i}].name: "lingma" is reserved for the Lingma pool`);
    if (providerNames.has(p.name)) out.push(`providers[${i}].name: duplicate provider name ${showValue(p.name)}`);
    providerNames.add(p.name);
  });
  const accountNames = new Set<string>();
  c.lingma.accounts.forEach((a, i) => {
    const n = a.name ?? a.username;
    if (accountNames.has(n)) out.push(`lingma.accounts[${i}]: duplicate account ${showValue(n)} (give each a distinct name)`);
    accountNames.add(n);
  });
  (c.server.apiKeys ?? []).forEach((k, i) => {
    if (typeof k === 'object' && k.expiresAt !== undefined && Number.isNaN(Date.parse(k.expiresAt))) {
      out.push(`server.apiKeys[${i}].expiresAt: expected an ISO date such as 2026-12-31, got ${showFor(`server.apiKeys[${i}].expiresAt`, k.expiresAt)}`);
    }
  });
  // SECURITY: origins credentials may be typed into; a malformed entry is refused, not skipped.
  out.push(...allowedOriginsIssues(c.lingma.login.allowedOrigins));
  for (const name of Object.keys(c.aliases ?? {})) {
    const bad = aliasNameProblem(name);
    if (bad) out.push(`aliases: ${bad}`);
  }
  for (const [i, o] of c.server.corsOrigins.entries()) {
    // SECURITY: no wildcard: every allowed origin is named, so a random web page cannot call in.
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^/*]+$/i.test(o)) {
      out.push(`server.corsOrigins[${i}]: expected an origin such as http://localhost:3000 (no path, no wildcard), got ${showValue(o)}`);
    }
  }
  return out;
}
