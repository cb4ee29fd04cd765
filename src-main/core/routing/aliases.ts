/**
 * Aliases: a requested model name → an ordered chain of targets.
 *
 * Resolution order for a request's `model`:
 *   1. an exact alias name (case-sensitive first, then case-insensitive);
 *   2. the most specific alias pattern (`claude-*`): the longest literal part wins, then the
 *      fewest wildcards, then the one written first;
 *   3. `provider/model` for a known provider;
 *   4. a bare model name claimed by exactly one provider (`resolveModel`, case-insensitive);
 *   5. the `default` alias, only when one is configured.
 * Anything else is a 404 `model_not_found` listing a few valid names.
 *
 * Chains are expanded when the aliases are parsed (so cycles are found once, at load time);
 * leaves (`provider/model` or bare model names) are resolved against the live providers on every
 * request, because provider model lists change (Lingma learns its models only after login).
 */
import type { Logger } from 'pino';
import type { Provider } from '../backends/types';
import type { AliasesSchema } from '../config/schema';
import { aliasNameProblem } from '../names';
import type { Static } from '@sinclair/typebox';
import { RelayError, errors } from '../errors';
import { hopOptionIssues, type HopOptionKinds } from './hop-options';
import type { AliasInfo, ReloadOutcome, Resolution, Resolver, Target, TargetOptions } from './types';

export type AliasesConfig = Static<typeof AliasesSchema>;

/** A problem in an alias definition. The message names the alias and the problem. */
export class AliasError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AliasError';
  }
}

export interface AliasHop {
  /** As written: `provider/model`, a bare model, or another alias. */
  ref: string;
  firstByteTimeoutMs?: number;
  options?: TargetOptions;
}

export interface AliasDef {
  name: string;
  description?: string;
  chain: AliasHop[];
  options?: TargetOptions;
  pattern: boolean;
  /** Patterns only. */
  regex?: RegExp;
  /** Patterns only: characters that are not `*`. */
  literalLength: number;
  wildcards: number;
  order: number;
}

/** A fully expanded chain entry: a reference that is not an alias. */
export interface LeafRef {
  ref: string;
  firstByteTimeoutMs?: number;
  options?: TargetOptions;
}

export interface ParsedAliases {
  defs: Map<string, AliasDef>;
  /** Lower-cased name → definition (exact names only). */
  byLowerName: Map<string, AliasDef>;
  /** Most specific first. */
  patterns: AliasDef[];
  expanded: Map<string, LeafRef[]>;
}

const TARGET_KEYS = new Set(['target', 'firstByteTimeoutMs', 'options']);
const ALIAS_KEYS = new Set(['description', 'chain', 'options']);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

function checkRef(alias: string, where: string, ref: unknown): string {
  if (typeof ref !== 'string' || ref.trim() === '') {
    throw new AliasError(`alias '${alias}': ${where} must be a non-empty model name (got ${describe(ref)})`);
  }
  if (/\s/.test(ref)) throw new AliasError(`alias '${alias}': ${where} '${ref}' must not contain spaces`);
  if (ref.startsWith('/') || ref.endsWith('/')) {
    throw new AliasError(`alias '${alias}': ${where} '${ref}' must be 'provider/model', a model name or an alias`);
  }
  return ref;
}

/** The shape only; the keys and values are checked against the target's kind (`hop-options.ts`). */
function checkOptions(alias: string, where: string, v: unknown): TargetOptions | undefined {
  if (v === undefined) return undefined;
  if (!isPlainObject(v)) throw new AliasError(`alias '${alias}': ${where} must be a mapping (got ${describe(v)})`);
  return v;
}

function parseHop(alias: string, i: number, raw: unknown): AliasHop {
  const where = `chain[${i}]`;
  if (typeof raw === 'string') return { ref: checkRef(alias, where, raw) };
  if (!isPlainObject(raw)) {
    throw new AliasError(`alias '${alias}': ${where} must be a model name or { target, firstByteTimeoutMs, options } (got ${describe(raw)})`);
  }
  for (const k of Object.keys(raw)) {
    if (!TARGET_KEYS.has(k)) throw new AliasError(`alias '${alias}': ${where} has unknown key '${k}' (allowed: target, firstByteTimeoutMs, options)`);
  }
  const hop: AliasHop = { ref: checkRef(alias, `${where}.target`, raw.target) };
  if (raw.firstByteTimeoutMs !== undefined) {
    const t = raw.firstByteTimeoutMs;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 100) {
      throw new AliasError(`alias '${alias}': ${where}.firstByteTimeoutMs must be an integer of at least 100 (got ${describe(t)})`);
    }
    hop.firstByteTimeoutMs = t;
  }
  const options = checkOptions(alias, `${where}.options`, raw.options);
  if (options) hop.options = options;
  return hop;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, 'i');
}

function parseOne(name: string, raw: unknown, order: number): AliasDef {
  const pattern = name.includes('*');
  const def: AliasDef = {
    name,
    chain: [],
    pattern,
    literalLength: name.replace(/\*/g, '').length,
    wildcards: (name.match(/\*/g) ?? []).length,
    order,
  };
  if (pattern) def.regex = globToRegExp(name);
  if (typeof raw === 'string') {
    def.chain = [{ ref: checkRef(name, 'target', raw) }];
    return def;
  }
  if (!isPlainObject(raw)) {
    throw new AliasError(`alias '${name}': must be a target name or { description, chain, options } (got ${describe(raw)})`);
  }
  for (const k of Object.keys(raw)) {
    if (!ALIAS_KEYS.has(k)) throw new AliasError(`alias '${name}': unknown key '${k}' (allowed: description, chain, options)`);
  }
  if (raw.description !== undefined) {
    if (typeof raw.description !== 'string') throw new AliasError(`alias '${name}': description must be text (got ${describe(raw.description)})`);
    def.description = raw.description;
  }
  if (!Array.isArray(raw.chain) || raw.chain.length === 0) {
    throw new AliasError(`alias '${name}': chain must be a non-empty list of targets (got ${describe(raw.chain)})`);
  }
  def.chain = raw.chain.map((h, i) => parseHop(name, i, h));
  const options = checkOptions(name, 'options', raw.options);
  if (options) def.options = options;
  return def;
}

/** Exact-name lookup: case-sensitive first, then case-insensitive. */
function lookupExact(p: Pick<ParsedAliases, 'defs' | 'byLowerName'>, name: string): AliasDef | undefined {
  return p.defs.get(name) ?? p.byLowerName.get(name.toLowerCase());
}

/**
 * Validate and expand aliases. Pure: no providers are consulted. Throws AliasError naming the
 * alias and the problem (bad shape, unknown key, cycle `a -> b -> a`) and, given `kinds`, every
 * hop option its target's kind does not take (`hop-options.ts`; the relay always passes them).
 */
export function parseAliases(raw: unknown, kinds?: HopOptionKinds): ParsedAliases {
  const defs = new Map<string, AliasDef>();
  const byLowerName = new Map<string, AliasDef>();
  if (raw !== undefined && raw !== null) {
    if (!isPlainObject(raw)) throw new AliasError(`aliases must be a mapping of alias name to definition (got ${describe(raw)})`);
    let order = 0;
    for (const [name, value] of Object.entries(raw)) {
      const bad = aliasNameProblem(name);
      if (bad) throw new AliasError(bad);
      if (name === 'default' && typeof value === 'string' && value.includes('*')) {
        throw new AliasError(`alias 'default': target '${value}' must not be a pattern`);
      }
      const def = parseOne(name, value, order++);
      defs.set(name, def);
      if (!def.pattern && !byLowerName.has(name.toLowerCase())) byLowerName.set(name.toLowerCase(), def);
    }
  }
  const patterns = [...defs.values()]
    .filter((d) => d.pattern)
    .sort((a, b) => b.literalLength - a.literalLength || a.wildcards - b.wildcards || a.order - b.order);

  const expanded = new Map<string, LeafRef[]>();
  const expand = (def: AliasDef, stack: string[]): LeafRef[] => {
    const done = expanded.get(def.name);
    if (done) return done;
    if (stack.includes(def.name)) {
      const from = stack.indexOf(def.name);
      throw new AliasError(`alias '${stack[from]}': cycle ${[...stack.slice(from), def.name].join(' -> ')}`);
    }
    const next = [...stack, def.name];
    const out: LeafRef[] = [];
    for (const hop of def.chain) {
      // Options: the inner alias's own first, then this alias's, then this hop's (outer wins).
      const outer = { ...def.options, ...hop.options };
      const inner = lookupExact({ defs, byLowerName }, hop.ref);
      if (inner) {
        for (const leaf of expand(inner, next)) {
          const options = { ...leaf.options, ...outer };
          out.push({
            ref: leaf.ref,
            firstByteTimeoutMs: hop.firstByteTimeoutMs ?? leaf.firstByteTimeoutMs,
            options: Object.keys(options).length ? options : undefined,
          });
        }
      } else {
        out.push({
          ref: hop.ref,
          firstByteTimeoutMs: hop.firstByteTimeoutMs,
          options: Object.keys(outer).length ? outer : undefined,
        });
      }
    }
    expanded.set(def.name, out);
    return out;
  };
  for (const def of defs.values()) expand(def, []);
  const parsed = { defs, byLowerName, patterns, expanded };
  if (kinds) {
    const issues = hopOptionIssues(parsed, kinds, (ref) => lookupExact(parsed, ref));
    if (issues.length) throw new AliasError(issues.join('; '));
  }
  return parsed;
}

/** Where a resolver gets its aliases from: a fixed table or a reloading source. */
export interface AliasProvider {
  current(): ParsedAliases;
  lastReload(): ReloadOutcome | undefined;
}

export interface ResolverOptions {
  providers: () => readonly Provider[];
  /** Inline config aliases (parsed once; throws AliasError), or a reloading AliasSource. */
  aliases: AliasesConfig | AliasProvider | undefined;
  /** Kinds to check inline aliases' hop options against (`backends/registry.ts: hopOptionKinds`). */
  optionKinds?: HopOptionKinds;
  log?: Logger;
}

export interface RelayResolver extends Resolver {
  /** Resolve one chain entry (`provider/model` or bare model) for display; undefined when unroutable now. */
  routable(ref: string): Target | undefined;
}

const isAliasProvider = (v: unknown): v is AliasProvider =>
  typeof v === 'object' && v !== null && typeof (v as AliasProvider).current === 'function';

function nameOfMatch(provider: Provider, id: string): string | undefined {
  // A provider that knows no models yet (Lingma before login) accepts any id.
  if (provider.models().length === 0) return id;
  return provider.resolveModel(id);
}

type LeafResult = { target: Target } | { problem: string; ambiguous?: string[] };

export function createResolver(opts: ResolverOptions): RelayResolver {
  const source: AliasProvider = isAliasProvider(opts.aliases)
    ? opts.aliases
    : (() => {
        const parsed = parseAliases(opts.aliases, opts.optionKinds);
        return { current: () => parsed, lastReload: () => undefined };
      })();

  const findProvider = (name: string): Provider | undefined => opts.providers().find((p) => p.name === name);

  const leaf = (ref: string, extra?: { firstByteTimeoutMs?: number; options?: TargetOptions }): LeafResult => {
    const slash = ref.indexOf('/');
    if (slash > 0) {
      const provider = findProvider(ref.slice(0, slash));
      if (provider) {
        const asked = ref.slice(slash + 1);
        const id = nameOfMatch(provider, asked);
        if (!id) return { problem: `provider '${provider.name}' has no model '${asked}'` };
        return { target: makeTarget(provider.name, id, extra) };
      }
    }
    // Bare model (which may itself contain '/', e.g. OpenRouter ids).
    const claims: Array<{ provider: string; id: string }> = [];
    for (const p of opts.providers()) {
      const id = p.resolveModel(ref);
      if (id !== undefined) claims.push({ provider: p.name, id });
    }
    if (claims.length === 1) return { target: makeTarget(claims[0].provider, claims[0].id, extra) };
    if (claims.length > 1) {
      const names = claims.map((c) => `${c.provider}/${c.id}`);
      return { problem: `'${ref}' is served by several providers (${names.join(', ')})`, ambiguous: names };
    }
    if (slash > 0) return { problem: `no provider named '${ref.slice(0, slash)}' and no model '${ref}'` };
    return { problem: `no provider serves a model '${ref}'` };
  };

  const expandAlias = (parsed: ParsedAliases, def: AliasDef, requested: string): Resolution => {
    const leaves = parsed.expanded.get(def.name) ?? [];
    const targets: Target[] = [];
    const problems: string[] = [];
    for (const l of leaves) {
      const r = leaf(l.ref, l);
      if ('target' in r) targets.push(r.target);
      else problems.push(`${l.ref}: ${r.problem}`);
    }
    if (targets.length === 0) {
      throw new RelayError({
        status: 404, type: 'invalid_request_error', code: 'model_not_found', param: 'model', retryable: false,
        message: `The model '${requested}' maps to alias '${def.name}', which has no routable target (${problems.join('; ')}).`,
      });
    }
    if (problems.length) opts.log?.debug({ alias: def.name, skipped: problems }, 'alias targets skipped');
    return { requested, alias: def.name, targets };
  };

  const suggestions = (model: string, parsed: ParsedAliases): string[] => {
    const names: string[] = [];
    for (const d of parsed.defs.values()) if (!d.pattern) names.push(d.name);
    for (const p of opts.providers()) for (const m of p.models()) if (!m.embedding) names.push(`${p.name}/${m.id}`);
    const q = model.toLowerCase();
    const score = (n: string): number => {
      const s = n.toLowerCase();
      let prefix = 0;
      while (prefix < s.length && prefix < q.length && s[prefix] === q[prefix]) prefix++;
      const contains = s.includes(q) || q.includes(s.slice(s.indexOf('/') + 1)) ? 5 : 0;
      return prefix + contains;
    };
    return [...new Set(names)].map((n, i) => ({ n, s: score(n), i })).sort((a, b) => b.s - a.s || a.i - b.i).slice(0, 5).map((x) => x.n);
  };

  const resolve = (model: string): Resolution => {
    if (typeof model !== 'string' || model.trim() === '') throw errors.invalid('model is required.', 'model', 'missing_model');
    const parsed = source.current();
    const exact = lookupExact(parsed, model);
    if (exact) return expandAlias(parsed, exact, model);
    const pattern = parsed.patterns.find((p) => p.regex!.test(model));
    if (pattern) return expandAlias(parsed, pattern, model);
    const r = leaf(model);
    if ('target' in r) return { requested: model, targets: [r.target] };
    if (r.ambiguous) {
      throw errors.invalid(
        `The model '${model}' is ambiguous: it is served by ${r.ambiguous.join(', ')}. Use one of these names.`,
        'model', 'model_ambiguous',
      );
    }
    const slash = model.indexOf('/');
    const known = slash > 0 ? findProvider(model.slice(0, slash)) : undefined;
    // An explicit `provider/model` the provider does not list is a plain 404, not the default.
    if (!known) {
      const fallback = parsed.defs.get('default');
      if (fallback) return { ...expandAlias(parsed, fallback, model) };
    }
    throw errors.modelNotFound(model, suggestions(model, parsed));
  };

  const aliases = (): AliasInfo[] => {
    const parsed = source.current();
    return [...parsed.defs.values()].map((d) => {
      const info: AliasInfo = {
        name: d.name,
        chain: d.chain.map((h) => h.ref),
        expanded: (parsed.expanded.get(d.name) ?? []).map((l) => {
          const r = leaf(l.ref);
          return 'target' in r ? r.target.label : l.ref;
        }),
        pattern: d.pattern,
      };
      if (d.description !== undefined) info.description = d.description;
      return info;
    });
  };

  return {
    resolve,
    aliases,
    lastReload: () => source.lastReload(),
    routable: (ref) => {
      const r = leaf(ref);
      return 'target' in r ? r.target : undefined;
    },
  };
}

function makeTarget(provider: string, model: string, extra?: { firstByteTimeoutMs?: number; options?: TargetOptions }): Target {
  const t: Target = { provider, model, label: `${provider}/${model}` };
  // A hop's own `firstByteTimeoutMs` key wins over one in (its or its alias's) options.
  const firstByte = extra?.firstByteTimeoutMs ?? extra?.options?.firstByteTimeoutMs;
  if (firstByte !== undefined) t.firstByteTimeoutMs = firstByte;
  if (extra?.options && Object.keys(extra.options).length) t.options = { ...extra.options };
  return t;
}
