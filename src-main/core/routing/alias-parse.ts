/**
 * The alias table: parsing, checking and expanding the `aliases` mapping (pure; no providers are
 * consulted). Chains are expanded here, once per load, so cycles are found at load time; the
 * resolver (`aliases.ts`) resolves the leaves against the live providers on every request.
 */
import type { AliasesSchema } from '../config/schema';
import { aliasNameProblem } from '../names';
import type { Static } from '@sinclair/typebox';
import { hopOptionIssues, type HopOptionKinds } from './hop-options';
import type { TargetOptions } from './types';

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
export function lookupExact(p: Pick<ParsedAliases, 'defs' | 'byLowerName'>, name: string): AliasDef | undefined {
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
