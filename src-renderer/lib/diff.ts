/**
 * A small text diff for the replay view: the longest common subsequence over words (whitespace
 * kept as its own tokens) or over lines. Common head and tail are cut first; inputs too large for
 * the table fall back to lines, then to "all removed, all added".
 */
export type DiffOp = 'same' | 'del' | 'add';
export interface DiffPart {
  op: DiffOp;
  text: string;
}

/** The LCS table is (n+1)·(m+1) cells; past this, a coarser unit is used. */
export const MAX_CELLS = 4_000_000;

export function wordTokens(s: string): string[] {
  return s.split(/(\s+)/).filter((t) => t.length > 0);
}

export function lineTokens(s: string): string[] {
  return s.split(/(?<=\n)/).filter((t) => t.length > 0);
}

function push(out: DiffPart[], op: DiffOp, text: string): void {
  const last = out[out.length - 1];
  if (last && last.op === op) last.text += text;
  else out.push({ op, text });
}

/** The diff of two token lists; `null` when the table would exceed `maxCells`. */
export function diffTokens(a: readonly string[], b: readonly string[], maxCells = MAX_CELLS): DiffPart[] | null {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const n = endA - start;
  const m = endB - start;
  if ((n + 1) * (m + 1) > maxCells) return null;
  const out: DiffPart[] = [];
  for (let i = 0; i < start; i++) push(out, 'same', a[i]);
  // lcs[i][j]: the LCS length of a[start+i..endA) and b[start+j..endB).
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] = a[start + i] === b[start + j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[start + i] === b[start + j]) {
      push(out, 'same', a[start + i]);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
      // Removals before additions: "old → new" reads in that order.
      push(out, 'del', a[start + i]);
      i++;
    } else {
      push(out, 'add', b[start + j]);
      j++;
    }
  }
  for (let k = endA; k < a.length; k++) push(out, 'same', a[k]);
  return out;
}

/** Word diff of two texts (lines when the texts are too long for words). */
export function diffText(a: string, b: string, unit: 'word' | 'line' = 'word', maxCells = MAX_CELLS): DiffPart[] {
  if (unit === 'word') {
    const words = diffTokens(wordTokens(a), wordTokens(b), maxCells);
    if (words) return words;
  }
  const lines = diffTokens(lineTokens(a), lineTokens(b), maxCells);
  if (lines) return lines;
  const out: DiffPart[] = [];
  if (a) out.push({ op: 'del', text: a });
  if (b) out.push({ op: 'add', text: b });
  return out;
}

/** The two sides of a side-by-side view: the original without additions, the replay without deletions. */
export function sides(parts: readonly DiffPart[]): { left: DiffPart[]; right: DiffPart[] } {
  return { left: parts.filter((p) => p.op !== 'add'), right: parts.filter((p) => p.op !== 'del') };
}

/** How much changed, in tokens of the unit. */
export function diffStats(parts: readonly DiffPart[]): { same: boolean; added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const p of parts) {
    const n = wordTokens(p.text).filter((t) => t.trim()).length;
    if (p.op === 'add') added += n;
    if (p.op === 'del') removed += n;
  }
  return { same: added === 0 && removed === 0 && parts.every((p) => p.op === 'same'), added, removed };
}
