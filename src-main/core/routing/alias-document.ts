/**
 * The aliases file as a person wrote it: edits from the dashboard go through the `yaml` library's
 * Document API, so comments, key order and layout of everything the edit does not touch survive.
 * Also: the parser's problems with a line and column (the raw editor's inline errors) and the
 * targets that name no model any provider has (shown red, warned about on save).
 */
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import type { Provider } from '../backends/types';

/** One parse problem at a 1-based line and column. */
export interface TextProblem {
  message: string;
  line?: number;
  col?: number;
}

/** The YAML parser's first errors (at most 5), with positions; [] when the text parses. */
export function yamlProblems(text: string): TextProblem[] {
  const doc = parseDocument(text, { prettyErrors: true });
  return doc.errors.slice(0, 5).map((e) => ({
    // The position is given apart: the message without its own "at line 2, column 1:".
    message: e.message.split('\n')[0].replace(/ at line \d+, column \d+:?\s*$/, ''),
    line: e.linePos?.[0]?.line,
    col: e.linePos?.[0]?.col,
  }));
}

const equal = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Make the node at `path` hold `next`, touching only what differs (maps key by key, lists item by item). */
function apply(doc: Document, path: (string | number)[], next: unknown): void {
  const node = path.length ? doc.getIn(path, true) : doc.contents;
  const current = node && typeof (node as { toJSON?: unknown }).toJSON === 'function' ? (node as { toJSON(): unknown }).toJSON() : node;
  if (equal(current, next)) return;
  const plainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (isMap(node) && plainObject(next)) {
    for (const item of [...node.items]) {
      const k = String((item.key as { value?: unknown })?.value ?? item.key);
      if (k in next) continue;
      // The first entry's leading comment is often the file's header: it stays, on what follows.
      const lead = (item.key as { commentBefore?: string | null })?.commentBefore;
      const first = node.items[0] === item;
      doc.deleteIn([...path, k]);
      if (lead && first) {
        const after = node.items[0]?.key as { commentBefore?: string | null } | undefined;
        if (after && typeof after === 'object') after.commentBefore = after.commentBefore ? `${lead}\n${after.commentBefore}` : lead;
        else node.commentBefore = lead;
      }
    }
    for (const [k, v] of Object.entries(next)) {
      if (doc.hasIn([...path, k])) apply(doc, [...path, k], v);
      else doc.setIn([...path, k], doc.createNode(v));
    }
    return;
  }
  if (isSeq(node) && Array.isArray(next) && node.items.length === next.length) {
    next.forEach((v, i) => apply(doc, [...path, i], v));
    return;
  }
  if (path.length) doc.setIn(path, doc.createNode(next));
  else doc.contents = doc.createNode(next) as never;
}

/**
 * `text` (the file as it is) changed to hold exactly `next`, comments and layout kept wherever
 * the definitions did not change. Throws when `text` does not parse as YAML (the caller decides
 * whether a broken file may be replaced).
 */
export function editAliasesText(text: string, next: Record<string, unknown>): string {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(doc.errors[0].message.split('\n')[0]);
  if (doc.contents === null || !isMap(doc.contents)) {
    // An empty file (comments only): keep its comments above the new mapping.
    const comment = doc.commentBefore ?? (doc.contents as { commentBefore?: string } | null)?.commentBefore;
    doc.contents = doc.createNode(next) as never;
    if (comment) doc.commentBefore = comment;
    return Object.keys(next).length ? doc.toString() : text;
  }
  apply(doc, [], next);
  return doc.toString();
}

function targetsOf(def: unknown): string[] {
  if (typeof def === 'string') return [def];
  const chain = def && typeof def === 'object' ? (def as { chain?: unknown }).chain : undefined;
  if (!Array.isArray(chain)) return [];
  return chain.map((t) => (typeof t === 'string' ? t : t && typeof t === 'object' ? String((t as { target?: unknown }).target ?? '') : ''));
}

/** Does any provider list this model (`provider/model` or a bare id)? Wildcard patterns count as known. */
export function modelExists(target: string, providers: readonly Provider[]): boolean {
  if (target.includes('*')) return true;
  const slash = target.indexOf('/');
  if (slash > 0) {
    const p = providers.find((x) => x.name === target.slice(0, slash));
    if (p) return safe(() => p.resolveModel(target.slice(slash + 1)) !== undefined || p.models().some((m) => m.id === target.slice(slash + 1)));
  }
  return providers.some((p) => safe(() => p.resolveModel(target) !== undefined));
}

function safe(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

/** Targets that are neither another alias nor a model some provider lists, per alias. */
export function unknownTargets(aliases: Record<string, unknown>, providers: readonly Provider[]): { alias: string; target: string }[] {
  const out: { alias: string; target: string }[] = [];
  for (const [name, def] of Object.entries(aliases)) {
    for (const t of targetsOf(def)) {
      if (!t || t in aliases || modelExists(t, providers)) continue;
      out.push({ alias: name, target: t });
    }
  }
  return out;
}
