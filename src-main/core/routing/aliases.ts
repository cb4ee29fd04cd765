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
 * Chains are expanded when the aliases are parsed (`alias-parse.ts`: cycles are found once, at
 * load time); leaves (`provider/model` or bare model names) are resolved against the live providers on every
 * request, because provider model lists change (Lingma learns its models only after login).
 */
import type { Logger } from 'pino';
import type { Provider } from '../backends/types';
import { RelayError, errors } from '../errors';
import { lookupExact, parseAliases, type AliasDef, type AliasesConfig, type ParsedAliases } from './alias-parse';
import type { HopOptionKinds } from './hop-options';
import type { AliasInfo, ReloadOutcome, Resolution, Resolver, Target, TargetOptions } from './types';

/** The alias table's public API, for callers that know only this module. */
export { AliasError, parseAliases, type AliasDef, type AliasesConfig, type AliasHop, type LeafRef, type ParsedAliases } from './alias-parse';

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
