/**
 * Codex CLI: `~/.codex/config.toml`. A `[model_providers.lingma-relay]` table (`wire_api =
 * "responses"`, `base_url`, `env_key`) and the top-level `model_provider` / `model` that select it.
 *
 * TOML parsers for Node (smol-toml, @iarna/toml) drop comments and reorder on output, so the file
 * is NOT re-serialised. Instead the parsed structure drives targeted replacements: the one table
 * (header line to the next header) is replaced by smol-toml's rendering of the new table, the two
 * top-level keys are replaced on their own line or inserted before the first table, and every
 * other byte stays. The result is parsed again and must equal the original document with exactly
 * those changes; if not (a layout this edit cannot handle, e.g. the provider given as an inline
 * table or by dotted keys), nothing is written and the error says to edit by hand. Trade-off:
 * comments INSIDE the replaced table, or on a replaced top-level line, are not kept.
 */
import { isDeepStrictEqual } from 'node:util';
import { parse, stringify, TomlError } from 'smol-toml';
import { errors } from '../errors';
import type { ClientTarget, ClientWriter } from './types';

export const CODEX_PROVIDER = 'lingma-relay';
export const CODEX_ENV_KEY = 'LINGMA_RELAY_API_KEY';
const FILE = '~/.codex/config.toml';

type Table = Record<string, unknown>;

function parseToml(text: string): Table {
  try {
    return parse(text) as Table;
  } catch (e) {
    const where = e instanceof TomlError ? ` at line ${e.line}` : '';
    throw errors.invalid(`${FILE} does not parse${where}; fix it first, nothing was changed.`, undefined, 'client_file_invalid');
  }
}

/** A table header line's key path, e.g. `[model_providers."lingma-relay"]` → ['model_providers', 'lingma-relay']. */
function headerPath(line: string): string[] | undefined {
  const m = /^\s*\[(\[)?([^\]\[]+)\]\]?\s*(#.*)?$/.exec(line.replace(/\r$/, ''));
  if (!m) return undefined;
  if (m[1]) return ['[['];
  try {
    // Let the parser read the key: `[k]` declares k as an empty table.
    const parsed = parse(`[${m[2]}]`) as Table;
    const path: string[] = [];
    let node: unknown = parsed;
    while (node && typeof node === 'object' && Object.keys(node).length === 1) {
      const k = Object.keys(node)[0];
      path.push(k);
      node = (node as Table)[k];
    }
    return path;
  } catch {
    return undefined;
  }
}

function providerTable(t: ClientTarget): Table {
  return { name: 'Lingma Relay', base_url: t.endpoint, env_key: CODEX_ENV_KEY, wire_api: 'responses' };
}

export function renderCodex(current: string | undefined, t: ClientTarget): string {
  const text = current ?? '';
  const original = parseToml(text);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.length ? text.split('\n') : [];
  if (text.endsWith('\n')) lines.pop();

  const headers = lines.map(headerPath);
  const firstTable = headers.findIndex((h) => h !== undefined);
  const topEnd = firstTable < 0 ? lines.length : firstTable;
  const tableText = stringify({ model_providers: { [CODEX_PROVIDER]: providerTable(t) } }).trimEnd().split('\n');
  const out = [...lines];

  // 1. The provider table: replace its section, or append it.
  const at = headers.findIndex((h) => h?.length === 2 && h[0] === 'model_providers' && h[1] === CODEX_PROVIDER);
  if (at >= 0) {
    let end = headers.findIndex((h, i) => i > at && h !== undefined);
    if (end < 0) end = lines.length;
    // Keep the blank lines that separate it from what follows.
    while (end - 1 > at && lines[end - 1].trim() === '') end--;
    out.splice(at, end - at, ...tableText);
  } else {
    while (out.length && out[out.length - 1].trim() === '') out.pop();
    if (out.length) out.push('');
    out.push(...tableText);
  }

  // 2. Top-level keys (before the first table; the table edit above is after it, so indexes hold).
  const top: [string, string][] = [['model_provider', CODEX_PROVIDER], ['model', t.model]];
  const inserts: string[] = [];
  for (const [key, value] of top) {
    const line = stringify({ [key]: value }).trimEnd();
    const re = new RegExp(`^\\s*(?:${key}|"${key}"|'${key}')\\s*=`);
    const i = out.slice(0, topEnd).findIndex((l) => re.test(l));
    if (i >= 0) out[i] = line;
    else inserts.push(line);
  }
  if (inserts.length) {
    // Before the first table, above the comment lines that introduce it.
    let p = topEnd;
    while (p > 0 && /^\s*#/.test(out[p - 1])) p--;
    const introStart = p;
    // ... and after the last top-level line, not after the blank lines that follow it.
    while (p > 0 && out[p - 1].trim() === '') p--;
    if (p === 0) p = introStart;
    if (p < out.length && out[p].trim() !== '') inserts.push('');
    out.splice(p, 0, ...inserts);
  }

  const result = `${out.map((l) => (eol === '\r\n' && !l.endsWith('\r') ? `${l}\r` : l)).join('\n')}\n`;

  // 3. Verify: the new file parses to the old one plus exactly our changes.
  const expected: Table = structuredClone(original);
  expected.model_provider = CODEX_PROVIDER;
  expected.model = t.model;
  const providers = (expected.model_providers && typeof expected.model_providers === 'object' ? expected.model_providers : {}) as Table;
  providers[CODEX_PROVIDER] = providerTable(t);
  expected.model_providers = providers;
  let got: Table;
  try {
    got = parse(result) as Table;
  } catch {
    got = {};
  }
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(expected)))) {
    throw errors.invalid(
      `${FILE} is laid out in a way this edit cannot change safely (e.g. the ${CODEX_PROVIDER} provider as an inline table or dotted keys); nothing was changed. Add the [model_providers.${CODEX_PROVIDER}] table by hand.`,
      undefined,
      'client_file_unsupported',
    );
  }
  return result;
}

export const codexCli: ClientWriter = {
  id: 'codex',
  title: 'Codex CLI',
  file: ['.codex', 'config.toml'],
  format: 'toml',
  render: renderCodex,
  note: (t) => `Codex reads the key from the environment: export ${CODEX_ENV_KEY}="${t.apiKey.slice(0, 8)}…" (the full key is on the Overview screen) in the shell that runs codex.`,
};
