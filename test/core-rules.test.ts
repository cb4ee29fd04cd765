/** Architecture rules that a scan can check. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..');
const core = join(root, 'src-main', 'core');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (/\.(ts|tsx|js|mjs|cjs)$/.test(name)) out.push(p);
  }
  return out;
}

describe('core rules', () => {
  const all = files(core);

  it('finds the core sources', () => {
    expect(all.length).toBeGreaterThan(20);
  });

  it('no file under src-main/core imports electron', () => {
    const offenders = all.filter((f) => {
      const text = readFileSync(f, 'utf8');
      return /(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]electron(?:\/[^'"]*)?['"]/.test(text);
    });
    expect(offenders.map((f) => relative(root, f))).toEqual([]);
  });

  it('no file under src-main/core imports from the hosts (cli, electron) or the renderer', () => {
    const offenders = all.filter((f) => /from\s+['"][./]*\/(?:cli|electron)\/|from\s+['"][./]*src-renderer\//.test(readFileSync(f, 'utf8')));
    expect(offenders.map((f) => relative(root, f))).toEqual([]);
  });
});
