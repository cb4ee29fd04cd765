/**
 * Alias hop options checked against the options schema of the kind each hop targets, when aliases
 * load (config, aliases file reload, admin save): a key no target's kind knows is an error naming
 * it, e.g. `aliases.coder.chain[1].options.firstByteTimeotMs: unknown option for provider 'ollama'
 * (openai kind); known: firstByteTimeoutMs, toolEmulation, openaiExtraBody, sendTopK`.
 *
 * Where options apply to several leaves (alias-wide `options`, or a hop naming another alias) a key
 * is accepted when one of their kinds knows it, and its value is checked by each kind that does.
 * A bare model name may be served by any kind, so its leaf counts as every kind.
 */
import type { TObject, TSchema } from '@sinclair/typebox';
import { schemaIssues } from '../config/validate';
import type { AliasDef, ParsedAliases } from './alias-parse';

/** A kind's name and the schema of the options a hop targeting it may carry. */
export interface OptionKind {
  kind: string;
  schema: TObject;
}

/** Provider name → kind (built by `core/backends/registry.ts` from the config). */
export interface HopOptionKinds {
  /** The kind of the configured provider `name`; undefined when no provider has that name. */
  forProvider(name: string): OptionKind | undefined;
  /** Every kind. */
  all(): readonly OptionKind[];
}

/** `aliases.<name>...` in the config's key-path style (`aliases["claude-*"].options`). */
function aliasPath(name: string, ...rest: Array<string | number>): string {
  let out = 'aliases';
  for (const seg of [name, ...rest]) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

interface Leaves {
  /** Words for the error: `provider 'ollama' (openai kind)`. */
  whom: string;
  kinds: OptionKind[];
}

function leavesOf(refs: string[], kinds: HopOptionKinds, group: string): Leaves {
  const providers = new Map<string, OptionKind>();
  let bare: string | undefined;
  for (const ref of refs) {
    const slash = ref.indexOf('/');
    const k = slash > 0 ? kinds.forProvider(ref.slice(0, slash)) : undefined;
    if (k) providers.set(ref.slice(0, slash), k);
    else bare ??= ref;
  }
  const found = bare === undefined ? [...new Set(providers.values())] : [...kinds.all()];
  const names = found.map((k) => k.kind).join(', ');
  const kindWords = `${names} kind${found.length === 1 ? '' : 's'}`;
  if (bare === undefined && providers.size === 1) return { whom: `provider '${[...providers.keys()][0]}' (${kindWords})`, kinds: found };
  if (refs.length === 1) return { whom: `'${bare}', which any kind may serve (${kindWords})`, kinds: found };
  return { whom: `${group} (${kindWords})`, kinds: found };
}

function optionIssues(where: string, options: Record<string, unknown>, leaves: Leaves): string[] {
  const out: string[] = [];
  const known = [...new Set(leaves.kinds.flatMap((k) => Object.keys(k.schema.properties)))];
  for (const [key, value] of Object.entries(options)) {
    const path = `${where}.${/^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key)}`;
    const knowers = leaves.kinds.filter((k) => Object.hasOwn(k.schema.properties, key));
    if (!knowers.length) {
      out.push(`${path}: unknown option for ${leaves.whom}; known: ${known.join(', ')}`);
      continue;
    }
    for (const k of knowers) {
      const issues = schemaIssues(k.schema.properties[key] as TSchema, value, path);
      if (issues.length) {
        out.push(...issues);
        break;
      }
    }
  }
  return out;
}

/**
 * Every problem with the options of `parsed` (empty when none). `aliasOf` finds an alias by a
 * chain reference, as resolution does.
 */
export function hopOptionIssues(parsed: ParsedAliases, kinds: HopOptionKinds, aliasOf: (ref: string) => AliasDef | undefined): string[] {
  const out: string[] = [];
  const refsOf = (def: AliasDef): string[] => (parsed.expanded.get(def.name) ?? []).map((l) => l.ref);
  for (const def of parsed.defs.values()) {
    if (def.options) {
      out.push(...optionIssues(aliasPath(def.name, 'options'), def.options, leavesOf(refsOf(def), kinds, `the targets of alias '${def.name}'`)));
    }
    def.chain.forEach((hop, i) => {
      if (!hop.options) return;
      const inner = aliasOf(hop.ref);
      const leaves = inner ? leavesOf(refsOf(inner), kinds, `the targets of alias '${inner.name}'`) : leavesOf([hop.ref], kinds, `'${hop.ref}'`);
      out.push(...optionIssues(aliasPath(def.name, 'chain', i, 'options'), hop.options, leaves));
    });
  }
  return out;
}
