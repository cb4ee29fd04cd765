/** The bench's output: pipe tables (the terminal and README alike) and number formatting. */
export type Row = Record<string, string | number>;

export interface Section {
  name: string;
  rows: Row[];
  json: unknown;
}

export const r3 = (x: number): number => Math.round(x * 1000) / 1000;
export const r2 = (x: number): number => Math.round(x * 100) / 100;
export const r1 = (x: number): number => Math.round(x * 10) / 10;

/** A markdown pipe table, columns in first-seen order, padded for the terminal. */
export function pipeTable(rows: Row[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => cols.map((c) => String(r[c] ?? '')));
  const widths = cols.map((c, i) => Math.max(3, c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]) => `| ${vals.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  return [line(cols), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export function sectionText(s: Section): string {
  return `## ${s.name}\n${pipeTable(s.rows)}`;
}
