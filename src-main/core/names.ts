/**
 * SECURITY: the one rule for names that come from outside (config file, environment, admin API,
 * dashboard forms) and may become folder names or keys: accounts/instances, providers, API keys.
 * No imports here: the renderer compiles this file too, so the dashboard checks the same rule.
 *
 * A name is 1-64 letters, digits, `-`, `_` or `.`, and does not start with a dot: `.`, `..`,
 * `.hidden`, `a/b`, `a\b` and `%2e%2e` are refused, so a name is always exactly one harmless path
 * segment. (Paths are still built only through `core/safe-path.ts`, which checks containment.)
 *
 * Alias names never become paths; they keep their pattern syntax (`claude-*`, `openai/gpt-4o`)
 * under `ALIAS_NAME_RULE`: no `\`, no control characters or spaces, no leading dot or slash,
 * 1-128 characters of letters, digits and `. _ - : / * @ +`.
 */

/** The rule in words, as error messages quote it. */
export const NAME_RULE = '1-64 letters, digits, "-", "_" or ".", not starting with a dot';

/** The rule as a JSON-schema / RegExp pattern. */
export const NAME_PATTERN = '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$';
const NAME_RE = new RegExp(NAME_PATTERN);

export function isSafeName(name: unknown): name is string {
  return typeof name === 'string' && NAME_RE.test(name);
}

/** Undefined when `name` follows the rule, else a sentence naming the rule (for a 400). */
export function nameProblem(name: unknown, what = 'name'): string | undefined {
  if (isSafeName(name)) return undefined;
  return `${what}: must be ${NAME_RULE}${typeof name === 'string' ? '' : ' (got no text)'}.`;
}

export const ALIAS_NAME_RULE = '1-128 letters, digits and . _ - : / * @ + (no spaces or backslashes), not starting with a dot or a slash';
export const ALIAS_NAME_PATTERN = '^[A-Za-z0-9_*:@+-][A-Za-z0-9._*:/@+-]{0,127}$';
const ALIAS_RE = new RegExp(ALIAS_NAME_PATTERN);

export function isSafeAliasName(name: unknown): name is string {
  return typeof name === 'string' && ALIAS_RE.test(name);
}

export function aliasNameProblem(name: unknown): string | undefined {
  if (isSafeAliasName(name)) return undefined;
  const shown = typeof name === 'string' ? name.slice(0, 128).replace(/[\u0000-\u001f\u007f]/g, '?') : '';
  return `alias '${shown}': names must be ${ALIAS_NAME_RULE}.`;
}

/**
 * A safe name from free text (a user name becoming an instance name): lower case, the rest of the
 * characters replaced by `-`, no leading dots or dashes, at most 56 characters so a `-N` suffix
 * fits; `fallback` when nothing usable is left. Unique among `taken`.
 */
export function deriveSafeName(text: string, taken: ReadonlySet<string>, fallback: string): string {
  let base = text
    .toLowerCase()
    .replace(/@.*$/, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 56)
    .replace(/[-.]+$/, '');
  if (!isSafeName(base)) base = isSafeName(fallback) ? fallback : 'instance';
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
  return name;
}
