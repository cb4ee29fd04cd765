/**
 * A unified line diff (the `diff -u` shape) of a settings file before and after, for the
 * dashboard and `configure`: longest common subsequence over lines, hunks with 3 lines of context.
 * Secret values on changed and context lines are shortened (`maskSecrets`) so a diff on screen,
 * in a screenshot or in a terminal scroll-back never shows a whole key.
 */

const CONTEXT = 3;
/** Above this many lines on both sides the LCS table is skipped: the whole file is shown as replaced. */
const MAX_CELLS = 4_000_000;

export function splitLines(text: string): string[] {
  if (!text) return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

type Op = { kind: ' ' | '-' | '+'; line: string; a: number; b: number };

function ops(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const out: Op[] = [];
  if (n * m > MAX_CELLS) {
    a.forEach((line, i) => out.push({ kind: '-', line, a: i, b: 0 }));
    b.forEach((line, j) => out.push({ kind: '+', line, a: n, b: j }));
    return out;
  }
  // lcs[i][j] = LCS length of a[i..] and b[j..]
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { out.push({ kind: ' ', line: a[i], a: i, b: j }); i++; j++; }
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) { out.push({ kind: '-', line: a[i], a: i, b: j }); i++; }
    else { out.push({ kind: '+', line: b[j], a: i, b: j }); j++; }
  }
  return out;
}

const SECRET_VALUE = /((?:key|token|secret|password)[A-Za-z_]*["']?\s*[:=]\s*["']?)([^"'\s,]{9,})/gi;

/** Shorten secret-looking values (`apiKey: sk-relay-…`) to their first 8 characters. */
export function maskSecrets(line: string): string {
  if (/env_?key/i.test(line)) return line; // names an environment variable, not a secret
  return line.replace(SECRET_VALUE, (_m, head: string, value: string) => `${head}${value.slice(0, 8)}…`);
}

/** `diff -u`-style text; '' when nothing changes. */
export function unifiedDiff(before: string, after: string, label: string, opts: { mask?: boolean } = {}): string {
  if (before === after) return '';
  const a = splitLines(before);
  const b = splitLines(after);
  const list = ops(a, b);
  const show = opts.mask === false ? (s: string) => s : maskSecrets;
  const changed = list.map((o, k) => (o.kind !== ' ' ? k : -1)).filter((k) => k >= 0);
  const lines = [`--- ${before ? label : '/dev/null'}`, `+++ ${label}`];
  if (!changed.length) {
    // Only the final newline differs.
    lines.push('@@ end of file @@', '\\ the final newline changes');
    return `${lines.join('\n')}\n`;
  }
  let k = 0;
  while (k < changed.length) {
    const start = Math.max(0, changed[k] - CONTEXT);
    let end = Math.min(list.length - 1, changed[k] + CONTEXT);
    while (k + 1 < changed.length && changed[k + 1] - CONTEXT <= end + 1) {
      k++;
      end = Math.min(list.length - 1, changed[k] + CONTEXT);
    }
    k++;
    const hunk = list.slice(start, end + 1);
    const aStart = hunk[0].a;
    const bStart = hunk[0].b;
    const aLen = hunk.filter((o) => o.kind !== '+').length;
    const bLen = hunk.filter((o) => o.kind !== '-').length;
    lines.push(`@@ -${aLen ? aStart + 1 : aStart},${aLen} +${bLen ? bStart + 1 : bStart},${bLen} @@`);
    for (const o of hunk) lines.push(`${o.kind}${show(o.line)}`);
  }
  return `${lines.join('\n')}\n`;
}
