/**
 * SECURITY: the one place that scrubs text from outside (upstream error bodies, browser errors,
 * process output) before it goes into a log line, an error message or the dashboard.
 *
 * - ANSI colour codes are stripped (they corrupt JSON logs and the dashboard).
 * - Values the caller knows to be secret (a provider's API key, a password) are masked wherever
 *   they appear.
 * - URLs keep their origin and path; their query string and fragment (login nonces, states,
 *   tokens) are dropped.
 * - Bearer tokens, key-shaped strings (`sk-…`, `key_…`, `token-…`) and `password=…`-style
 *   pairs are masked.
 */

const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
const URL_WITH_QUERY = /\b(https?:\/\/[^\s"'<>?#]+)[?#][^\s"'<>]*/gi;
const BEARER = /\bbearer\s+[A-Za-z0-9._~+/=-]+/gi;
const KEYLIKE = /\b(sk|pk|rk|key|token|secret)[-_][A-Za-z0-9._-]{6,}/gi;
const PAIR = /\b(password|passwd|pwd|token|secret|api[_-]?key|access[_-]?token|refresh[_-]?token)\s*[=:]\s*[^\s&"',;]+/gi;

/**
 * The union of the patterns above (not global, case-insensitive: it matches wherever any of them
 * could): text it does not match is returned by the chain below unchanged, so that chain of five
 * scans runs only on text that may need it (most strings of a captured body need none).
 */
const ANY_PATTERN = new RegExp([ANSI, URL_WITH_QUERY, BEARER, KEYLIKE, PAIR].map((r) => `(?:${r.source})`).join('|'), 'i');

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The known secrets as one pattern (longest first), compiled once per distinct list. */
const knownPatterns = new WeakMap<ReadonlyArray<string | undefined>, RegExp | null>();
let lastKey = '';
let lastPattern: RegExp | null = null;

/** The list the last pattern was built from: a fresh array with the same values (callers that build the list per use) reuses it without sorting again. */
let lastList: ReadonlyArray<string | undefined> = [];

function sameList(a: ReadonlyArray<string | undefined>, b: ReadonlyArray<string | undefined>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function knownPattern(known: ReadonlyArray<string | undefined>): RegExp | null {
  const hit = knownPatterns.get(known);
  if (hit !== undefined) return hit;
  if (lastList.length && sameList(known, lastList)) {
    knownPatterns.set(known, lastPattern);
    return lastPattern;
  }
  lastList = [...known];
  // Short values would mask ordinary words; real keys and passwords worth hiding are longer.
  const worth = [...new Set(known.filter((k): k is string => !!k && k.length >= 6))].sort((a, b) => b.length - a.length);
  const key = worth.join('\u0000');
  if (key !== lastKey) {
    lastKey = key;
    lastPattern = worth.length ? new RegExp(worth.map(escapeRegExp).join('|'), 'g') : null;
  }
  knownPatterns.set(known, lastPattern);
  return lastPattern;
}

export function redactSecrets(text: string, known: ReadonlyArray<string | undefined> = []): string {
  let out = text.includes('\u001b') ? text.replace(ANSI, '') : text;
  const secrets = known.length ? knownPattern(known) : null;
  if (secrets) out = out.replace(secrets, '[redacted]');
  if (!ANY_PATTERN.test(out)) return out;
  return out
    .replace(URL_WITH_QUERY, '$1?[redacted]')
    .replace(BEARER, 'Bearer [redacted]')
    .replace(KEYLIKE, '[redacted]')
    .replace(PAIR, '$1=[redacted]');
}

/** An error's message, scrubbed and cut to its first lines (browser errors carry long call logs). */
export function safeErrorText(e: unknown, known: ReadonlyArray<string | undefined> = [], maxLines = 3): string {
  const raw = e instanceof Error ? e.message : String(e);
  return redactSecrets(raw.split('\n').slice(0, maxLines).join(' | '), known).slice(0, 1000);
}
