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

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function redactSecrets(text: string, known: ReadonlyArray<string | undefined> = []): string {
  let out = text.replace(ANSI, '');
  for (const k of known) {
    // Short values would mask ordinary words; real keys and passwords worth hiding are longer.
    if (k && k.length >= 6) out = out.replace(new RegExp(escapeRegExp(k), 'g'), '[redacted]');
  }
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
