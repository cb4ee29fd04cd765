/**
 * Every package the code imports is declared in package.json (a package that only arrives as a
 * dependency of another one disappears when that one changes), and production code (src-main
 * outside the Electron build scripts) imports only `dependencies`, which the installer ships.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};
const deps = new Set(Object.keys(pkg.dependencies ?? {}));
const devDeps = new Set(Object.keys(pkg.devDependencies ?? {}));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.(ts|tsx|mts|cts|js|mjs|cjs)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

// Static imports and re-exports, `import type`, dynamic import() and require() with a literal.
const SPEC = /(?:^|[^\w.$])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[^\w.$])import\s*['"]([^'"]+)['"]|(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** The package names a source file imports (bare specifiers only, no Node built-ins). */
export function importedPackages(text: string): string[] {
  const out = new Set<string>();
  // Comments often quote code: drop them first (a rough cut is enough for import lines).
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  for (const m of code.matchAll(SPEC)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('node:') || spec.startsWith('virtual:')) continue;
    const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    if (builtinModules.includes(name)) continue;
    out.add(name);
  }
  return [...out];
}

describe('declared packages', () => {
  const files = [...sources(join(root, 'src-main')), ...sources(join(root, 'src-renderer'))];
  const uses = files.map((f) => ({ file: relative(root, f).split('\\').join('/'), packages: importedPackages(readFileSync(f, 'utf8')) }));

  it('scans the sources', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(uses.find((u) => u.file === 'src-main/core/backends/openai/sse-reader.ts')?.packages).toEqual(['eventsource-parser']);
  });

  it('every imported package is in dependencies or devDependencies', () => {
    const undeclared = uses.flatMap((u) => u.packages.filter((p) => !deps.has(p) && !devDeps.has(p)).map((p) => `${u.file}: ${p}`));
    expect(undeclared).toEqual([]);
  });

  it('src-main imports only production dependencies (electron and the build scripts aside)', () => {
    // Build scripts, and the ledger worker's loader for TypeScript source (tests, tsx: never part
    // of a build, which emits ledger-worker.mjs/.cjs from worker.ts instead) may use dev tools.
    const buildOnly = (f: string) => f.startsWith('src-main/electron/build/') || f === 'src-main/core/ledger/sqlite/worker-shim.mjs';
    const dev = uses
      .filter((u) => u.file.startsWith('src-main/') && !buildOnly(u.file))
      .flatMap((u) => u.packages.filter((p) => !deps.has(p) && p !== 'electron').map((p) => `${u.file}: ${p}`));
    expect(dev).toEqual([]);
  });

  it('recognises every import form', () => {
    const text = [
      "import a from 'pkg-a';",
      "import type { B } from '@scope/b/sub';",
      "export { c } from 'pkg-c';",
      "import 'side-effect';",
      "const d = await import('pkg-d');",
      "const e = require('pkg-e/deep');",
      "import { f } from 'node:fs';",
      "import g from 'path';",
      "import h from './local';",
      "// import x from 'in-a-comment';",
    ].join('\n');
    expect(importedPackages(text).sort()).toEqual(['@scope/b', 'pkg-a', 'pkg-c', 'pkg-d', 'pkg-e', 'side-effect']);
  });
});
