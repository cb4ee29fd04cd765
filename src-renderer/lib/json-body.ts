/**
 * The replay editor's check: is this text a request body the gateway can take? A problem is named
 * in plain words with its line and column, before anything is sent.
 */
export type JsonCheck = { ok: true; value: Record<string, unknown> } | { ok: false; problem: string; line?: number; column?: number };

/** Line and column (1-based) of a character offset. */
export function lineCol(text: string, pos: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(pos, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

/**
 * Where and why JSON text stops being JSON: a small scanner of the JSON grammar (engines word and
 * place their errors differently, some without any position). Called only after JSON.parse failed.
 */
export function jsonProblem(text: string): { pos: number; what: string } {
  let i = 0;
  const fail = (what: string, at = i): never => {
    throw { pos: at, what };
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const shown = (): string => (i >= text.length ? 'the end of the text' : `'${text[i]}'`);
  const str = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail('a text value is not closed with "');
      const ch = text[i];
      if (ch === '"') { i++; return; }
      if (ch === '\n') fail('a line break inside a text value (write \\n)');
      if (ch === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('a \\u escape needs four hex digits');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail(`an unknown escape \\${e ?? ''}`);
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') { i++; return; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(text[i] === '}' ? 'a comma before } (trailing commas are not JSON)' : `expected a property name in double quotes, found ${shown()}`);
        str();
        ws();
        if (text[i] !== ':') fail(`expected : after the property name, found ${shown()}`);
        i++;
        value();
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail(`expected , or } after a property, found ${shown()}`);
      }
    }
    if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') { i++; return; }
      for (;;) {
        ws();
        if (text[i] === ']') fail('a comma before ] (trailing commas are not JSON)');
        value();
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail(`expected , or ] in a list, found ${shown()}`);
      }
    }
    if (ch === '"') return str();
    const num = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (num && num[0] !== '-') { i += num[0].length; return; }
    for (const lit of ['true', 'false', 'null']) if (text.startsWith(lit, i)) { i += lit.length; return; }
    fail(ch === "'" ? 'text values need double quotes, not single' : `expected a value, found ${shown()}`);
  };
  try {
    value();
    ws();
    if (i < text.length) fail(`unexpected ${shown()} after the end of the JSON value`);
  } catch (e) {
    if (e && typeof e === 'object' && 'pos' in e) return e as { pos: number; what: string };
    throw e;
  }
  return { pos: text.length, what: 'not valid JSON' };
}

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'text' : typeof v);

export function checkJsonBody(text: string): JsonCheck {
  if (!text.trim()) return { ok: false, problem: 'The body is empty: enter the request as a JSON object.' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const p = jsonProblem(text);
    const at = lineCol(text, p.pos);
    return { ok: false, problem: `Not valid JSON at line ${at.line}, column ${at.column}: ${p.what}.`, ...at };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { ok: false, problem: `The body must be a JSON object ({ … }), not ${kindOf(value)}.` };
  const body = value as Record<string, unknown>;
  if ('model' in body && (typeof body.model !== 'string' || !body.model)) return { ok: false, problem: `"model" must be a model name (text), not ${kindOf(body.model)}.` };
  if ('messages' in body && !Array.isArray(body.messages)) return { ok: false, problem: `"messages" must be a list of messages, not ${kindOf(body.messages)}.` };
  if ('stream' in body && typeof body.stream !== 'boolean') return { ok: false, problem: `"stream" must be true or false, not ${kindOf(body.stream)}.` };
  if (!('messages' in body) && !('input' in body)) return { ok: false, problem: 'The body has neither "messages" nor "input": there is nothing to ask.' };
  return { ok: true, value: body };
}
