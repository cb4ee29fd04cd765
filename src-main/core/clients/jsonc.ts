/**
 * JSON-with-comments edits through `jsonc-parser` (`modify` + `applyEdits`): only the edited
 * values' text changes, every other byte (comments, order, spacing) stays as it was. The file's
 * own indentation is reused for what is inserted.
 */
import { applyEdits, findNodeAtLocation, format, modify, parse, parseTree, printParseErrorCode, type FormattingOptions, type JSONPath, type ParseError } from 'jsonc-parser';
import { errors } from '../errors';

export interface JsonEdit {
  path: JSONPath;
  /** `undefined` removes the property. */
  value: unknown;
  /** Insert into the array at `path` (its last segment an index, -1 = append). */
  insert?: boolean;
}

function indentOf(text: string): { insertSpaces: boolean; tabSize: number } {
  const m = /\n([ \t]+)\S/.exec(text);
  if (!m) return { insertSpaces: true, tabSize: 2 };
  if (m[1].startsWith('\t')) return { insertSpaces: false, tabSize: 1 };
  return { insertSpaces: true, tabSize: m[1].length };
}

/** Parse JSONC; a broken file is refused (never rewritten), naming the first problem and where. */
export function parseJsonc(text: string, file: string): unknown {
  const problems: ParseError[] = [];
  const value = parse(text, problems, { allowTrailingComma: true, disallowComments: false });
  if (problems.length) {
    const p = problems[0];
    const line = text.slice(0, p.offset).split('\n').length;
    throw errors.invalid(`${file} does not parse (${printParseErrorCode(p.error)} at line ${line}); fix it first, nothing was changed.`, undefined, 'client_file_invalid');
  }
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw errors.invalid(`${file} must hold a JSON object; nothing was changed.`, undefined, 'client_file_invalid');
  }
  return value;
}

export function editJsonc(current: string | undefined, edits: JsonEdit[], file: string): string {
  let text = current !== undefined && current.trim() !== '' ? current : '{}\n';
  parseJsonc(text, file);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const fmt = { ...indentOf(text), eol };
  for (const e of edits) {
    try {
      text = applyOne(text, e, fmt);
    } catch (err) {
      // e.g. the parent of the setting is a string or a list in this file
      throw errors.invalid(`${file}: cannot set ${e.path.join('.')} (${err instanceof Error ? err.message : String(err)}); nothing was changed.`, undefined, 'client_file_invalid');
    }
  }
  parseJsonc(text, file);
  if (!parseTree(text)) throw errors.invalid(`${file}: the edit did not produce JSON; nothing was changed.`);
  return text;
}

/**
 * One edit. jsonc-parser's own formatting re-formats the whole line an insertion starts on (the
 * previous property's line: unrelated bytes). So the edit is made unformatted and only the new
 * text is formatted, unless the object being edited sits on one line (then that line is ours).
 */
function applyOne(text: string, e: JsonEdit, fmt: FormattingOptions): string {
  const tree = parseTree(text);
  let parentPath = e.path.slice(0, -1);
  let parent = tree && findNodeAtLocation(tree, parentPath);
  while (!parent && parentPath.length) {
    parentPath = parentPath.slice(0, -1);
    parent = tree && findNodeAtLocation(tree, parentPath);
  }
  const inline = !!parent && parentPath.length > 0 && !/\n/.test(text.slice(parent.offset, parent.offset + parent.length));
  if (inline) return applyEdits(text, modify(text, e.path, e.value, { formattingOptions: fmt, isArrayInsertion: e.insert }));
  let out = text;
  for (const edit of modify(text, e.path, e.value, { isArrayInsertion: e.insert }).sort((a, b) => b.offset - a.offset)) {
    out = applyEdits(out, [edit]);
    if (edit.content) out = applyEdits(out, format(out, { offset: edit.offset, length: edit.content.length }, fmt));
  }
  return out;
}
