/**
 * The admin API's request bodies as TypeBox schemas: the route schemas of `core/admin/index.ts`
 * (checked by the admin scope's TypeBox validator) and the rules the dashboard's forms check
 * (`src-renderer/lib/validate.ts`). Import-safe for the renderer bundle: TypeBox and import-free
 * core modules only, no Node imports.
 *
 * Every schema of a field carries `problem`, the words a 400 uses after the field's name
 * ("maxConcurrency: expected a whole number from 1 to 64."). Names follow the one name rule
 * (`core/names.ts`); a dedicated domain must be https (it receives the password at sign-in).
 * Optional fields sent empty (`''` or `null`) count as absent, as the dashboard's forms send them.
 */
import { FormatRegistry, Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AliasesSchema, type AliasConfig } from '../config/schema';
import { aliasNameProblem, NAME_PATTERN, NAME_RULE } from '../names';

if (!FormatRegistry.Has('date-ish')) FormatRegistry.Set('date-ish', (v) => v.length >= 10 && !Number.isNaN(Date.parse(v)));

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;

const int = (min: number, max: number) => Type.Integer({ minimum: min, maximum: max, problem: `expected a whole number from ${min} to ${max}` });
const bool = () => Type.Boolean({ problem: 'expected true or false' });
const closed = (what: string) => ({ additionalProperties: false, what }) as const;

export const Username = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^\\s\\u0000-\\u001f]+$', problem: 'required, at most 256 characters, without spaces' });
// SECURITY: no pattern or value of a password ever appears in a message.
export const Password = Type.String({ minLength: 1, maxLength: 1024, problem: 'must be text of at most 1024 characters' });
export const SafeName = Type.String({ pattern: NAME_PATTERN, problem: `must be ${NAME_RULE}` });
export const DedicatedDomain = Type.String({ format: 'https-uri', problem: 'must be an https URL, e.g. https://lingma.example.com' });

const accountFields = {
  username: Username,
  password: Password,
  name: SafeName,
  dedicatedDomain: DedicatedDomain,
  maxConcurrency: int(1, 64),
  disabled: bool(),
};

/** POST /admin/accounts. */
export const AccountAddBody = Type.Object(
  {
    ...accountFields,
    password: Type.String({ minLength: 1, maxLength: 1024, problem: 'required for a new account (at most 1024 characters)' }),
    name: Type.Optional(SafeName),
    dedicatedDomain: Type.Optional(DedicatedDomain),
    maxConcurrency: Type.Optional(accountFields.maxConcurrency),
    disabled: Type.Optional(accountFields.disabled),
  },
  closed('account'),
);
/** PATCH /admin/accounts/:name: every field optional; an omitted or empty password is unchanged. */
export const AccountEditBody = Type.Partial(Type.Object(accountFields), closed('account'));
export type AccountBody = Static<typeof AccountEditBody>;

/** POST /admin/keys. */
export const CreateKeyBody = Type.Object(
  {
    name: Type.String({ pattern: NAME_PATTERN, problem: `required (a label such as "laptop" or "cursor"); must be ${NAME_RULE}` }),
    rpm: Type.Optional(int(1, 1_000_000)),
    tokensPerDay: Type.Optional(int(1, 1_000_000_000_000)),
    expiresAt: Type.Optional(Type.String({ format: 'date-ish', problem: 'expected a date like 2027-01-31' })),
    concurrency: Type.Optional(int(1, 100_000)),
  },
  closed('key request'),
);
export type CreateKeyBody = Static<typeof CreateKeyBody>;

export const KEY_LIMITS = ['rpm', 'tokensPerDay', 'expiresAt', 'concurrency'] as const;

/** PATCH /admin/keys/:id: the limits to set; `clear` lists the ones to remove. */
export const KeyLimitsBody = Type.Object(
  {
    rpm: CreateKeyBody.properties.rpm,
    tokensPerDay: CreateKeyBody.properties.tokensPerDay,
    expiresAt: CreateKeyBody.properties.expiresAt,
    concurrency: CreateKeyBody.properties.concurrency,
    clear: Type.Optional(Type.Array(Type.Union(KEY_LIMITS.map((k) => Type.Literal(k))), { problem: `a list of limits to remove (${KEY_LIMITS.join(', ')})` })),
  },
  closed('key limits'),
);
export type KeyLimitsBody = Static<typeof KeyLimitsBody>;

/** POST /admin/keys/:id/replace: revoke the dashboard's key for a new one (`create`) or a picked one (`id` + its whole `key`). */
export const ReplaceKeyBody = Type.Object(
  {
    create: Type.Optional(bool()),
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, problem: 'expected the id of the key to use instead' })),
    key: Type.Optional(Type.String({ minLength: 8, maxLength: 512, problem: 'expected the whole key you picked (only its hash is kept)' })),
  },
  closed('replacement'),
);
export type ReplaceKeyBody = Static<typeof ReplaceKeyBody>;

/** PATCH /admin/settings. */
export const SettingsBody = Type.Object(
  {
    logLevel: Type.Optional(Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { problem: `one of ${LOG_LEVELS.join(', ')}` })),
    maxInFlight: Type.Optional(int(1, 100_000)),
    queueTimeoutMs: Type.Optional(int(0, 3_600_000)),
    perKeyConcurrency: Type.Optional(int(1, 100_000)),
    firstByteTimeoutMs: Type.Optional(int(100, 3_600_000)),
    loginAuto: Type.Optional(bool()),
  },
  closed('settings'),
);
export type SettingsBody = Static<typeof SettingsBody>;

/** PUT /admin/aliases: the definitions as written in a config file. */
export const AliasesBody = Type.Object(
  {
    /** The definitions (the structured editor): written into the file through the YAML Document API. */
    aliases: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { problem: 'must be a JSON object of alias definitions' })),
    /** The whole file as text (the raw YAML editor). */
    text: Type.Optional(Type.String({ maxLength: 1_000_000, problem: 'expected the aliases file as text (at most 1 MB)' })),
    /** Replace a file that is broken on disk now (after the person saw the diff). */
    confirm: Type.Optional(bool()),
  },
  closed('request'),
);
export type AliasesBody = Static<typeof AliasesBody>;

/** POST /admin/aliases/test: one tiny chat to an alias or a target, through the gateway. */
export const AliasTestBody = Type.Object(
  { model: Type.String({ minLength: 1, maxLength: 256, problem: 'required: an alias or provider/model of at most 256 characters' }) },
  closed('alias test'),
);
export type AliasTestBody = Static<typeof AliasTestBody>;

export interface FieldProblem {
  /** The field (`maxConcurrency`, `aliases.fast.chain`), or undefined for the body itself. */
  param: string | undefined;
  /** `<field>: <problem>.`, never quoting a submitted value. */
  message: string;
}

/**
 * The first problem of a body against its schema, in words, or undefined. The schema's `what`
 * names the body ("account", "settings") in messages about the body as a whole.
 */
export function firstProblem(schema: TSchema, value: unknown): FieldProblem | undefined {
  const what = (schema as { what?: string }).what ?? 'request body';
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { param: undefined, message: `The ${what} must be a JSON object.` };
  }
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  for (const k of Object.keys(value)) {
    if (!(k in props)) return { param: k, message: `Unknown field '${k.slice(0, 64)}' in ${what}.` };
  }
  for (const [k, s] of Object.entries(props)) {
    const v = (value as Record<string, unknown>)[k];
    const required = (schema as { required?: string[] }).required?.includes(k) ?? false;
    if (v === undefined) {
      if (required) return { param: k, message: `${k}: ${(s as { problem?: string }).problem ?? 'required'}.` };
      continue;
    }
    const err = [...Value.Errors(s, v)][0];
    if (err) {
      const sub = err?.path ? err.path.replace(/^\//, '').replace(/\//g, '.') : '';
      const problem = (s as { problem?: string }).problem ?? err?.message ?? 'is invalid';
      return { param: k, message: `${k}${sub ? `.${sub}` : ''}: ${problem}.` };
    }
  }
  return undefined;
}

/**
 * Every field of a (tidied) body with a problem, mapped to its problem in words (without the
 * field name): what the dashboard's forms show next to each field.
 */
export function fieldProblems(schema: TSchema, value: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const required = (schema as { required?: string[] }).required ?? [];
  for (const [k, s] of Object.entries(props)) {
    const v = value[k];
    const problem = (s as { problem?: string }).problem;
    if (v === undefined) {
      if (required.includes(k)) out[k] = problem ?? 'required';
    } else if (!Value.Check(s, v)) {
      out[k] = problem ?? [...Value.Errors(s, v)][0]?.message ?? 'is invalid';
    }
  }
  return out;
}

/**
 * A body as the forms mean it: fields sent empty (`''`, `null`) are absent, and text is trimmed
 * (never a password). Anything but a plain object is returned as it is.
 */
export function tidyBody(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    const t = typeof v === 'string' && k !== 'password' ? v.trim() : v;
    if (t !== '' && t !== null) out[k] = t;
  }
  return out;
}

function targetName(t: unknown): string {
  if (typeof t === 'string') return t;
  return t && typeof t === 'object' && 'target' in t ? String((t as { target: unknown }).target) : '';
}

/**
 * Aliases as written in a config file: the config schema, alias names, provider prefixes (when
 * `knownProviders` is given) and cycles. Routing validates again as it loads them.
 */
export function aliasesProblem(aliases: Record<string, unknown>, knownProviders: readonly string[]): string | undefined {
  if (!Value.Check(AliasesSchema, aliases)) {
    const first = [...Value.Errors(AliasesSchema, aliases)][0];
    const path = first?.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : '';
    return `aliases${path ? '.' + path : ''}: ${first?.message ?? 'invalid'}.`;
  }
  const typed = aliases as Record<string, AliasConfig>;
  const names = Object.keys(typed);
  for (const name of names) {
    const bad = aliasNameProblem(name);
    if (bad) return bad;
  }
  const chainOf = (name: string): string[] => {
    const a = typed[name];
    if (a === undefined) return [];
    if (typeof a === 'string') return [a];
    return a.chain.map(targetName);
  };
  for (const name of names) {
    for (const t of chainOf(name)) {
      if (!t.trim()) return `alias '${name}': empty target.`;
      const slash = t.indexOf('/');
      if (slash > 0 && !(t in typed)) {
        const provider = t.slice(0, slash);
        if (knownProviders.length && !knownProviders.includes(provider)) {
          return `alias '${name}': target '${t}' names an unknown provider '${provider}' (known: ${knownProviders.join(', ')}).`;
        }
      }
    }
  }
  // Cycles: depth-first over alias -> alias edges, reporting the path.
  const state = new Map<string, 1 | 2>();
  const visit = (name: string, path: string[]): string | undefined => {
    if (state.get(name) === 2) return undefined;
    if (state.get(name) === 1) {
      const from = path.indexOf(name);
      return `alias cycle: ${[...path.slice(from), name].join(' -> ')}.`;
    }
    state.set(name, 1);
    for (const t of chainOf(name)) {
      if (t in typed && !t.includes('*')) {
        const found = visit(t, [...path, name]);
        if (found) return found;
      }
    }
    state.set(name, 2);
    return undefined;
  };
  for (const name of names) {
    const found = visit(name, []);
    if (found) return found;
  }
  return undefined;
}

/** POST /admin/requests/:id/replay: the captured request again, optionally to another model or with an edited body. */
export const ReplayBody = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 256, problem: 'expected a model name (an alias or provider/model) of at most 256 characters' })),
    body: Type.Optional(Type.Object({}, { additionalProperties: true, problem: 'expected the request body as a JSON object' })),
  },
  closed('replay request'),
);
export type ReplayBody = Static<typeof ReplayBody>;

/** POST /admin/instances/:name/test and /admin/providers/:name/test: one tiny chat. */
export const BackendTestBody = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 256, problem: 'expected an upstream model id of at most 256 characters' })),
    prompt: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, problem: 'expected text of at most 2000 characters' })),
  },
  closed('backend test'),
);
export type BackendTestBody = Static<typeof BackendTestBody>;

const providerFields = {
  baseUrl: Type.String({ format: 'uri', maxLength: 2048, problem: 'expected an http(s) URL such as https://api.example.com/v1' }),
  // SECURITY: write-only; no pattern or value of a key ever appears in a message.
  apiKey: Type.String({ minLength: 1, maxLength: 4096, problem: 'must be text of at most 4096 characters' }),
  headers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), Type.String({ maxLength: 4096 }), { problem: 'expected header names (letters, digits, -) mapped to text' }),
  models: Type.Array(Type.String({ minLength: 1, maxLength: 256 }), { maxItems: 1000, problem: 'expected a list of model ids (empty: ask the server\'s /models)' }),
  maxConcurrency: int(1, 4096),
  timeoutMs: int(1000, 3_600_000),
  tools: bool(),
  images: bool(),
};

/** POST /admin/providers: an OpenAI-compatible provider. */
export const ProviderAddBody = Type.Object(
  {
    name: Type.String({ pattern: NAME_PATTERN, problem: `required; must be ${NAME_RULE}` }),
    baseUrl: providerFields.baseUrl,
    apiKey: Type.Optional(providerFields.apiKey),
    headers: Type.Optional(providerFields.headers),
    models: Type.Optional(providerFields.models),
    maxConcurrency: Type.Optional(providerFields.maxConcurrency),
    timeoutMs: Type.Optional(providerFields.timeoutMs),
    tools: Type.Optional(providerFields.tools),
    images: Type.Optional(providerFields.images),
  },
  closed('provider'),
);
export type ProviderAddBody = Static<typeof ProviderAddBody>;

/** PATCH /admin/providers/:name: omitted fields unchanged; an omitted key is kept, `clearApiKey` removes it. */
export const ProviderEditBody = Type.Object(
  {
    ...Type.Partial(Type.Object(providerFields)).properties,
    clearApiKey: Type.Optional(bool()),
  },
  closed('provider'),
);
export type ProviderEditBody = Static<typeof ProviderEditBody>;
