#!/usr/bin/env node
/**
 * Bundles the Electron main process and the preload (`npm run build:main`):
 *   src-main/electron/main.ts    → dist/electron/main.cjs     (platform node, CJS)
 *   src-main/electron/preload.ts → dist/electron/preload.cjs  (sandboxed preload: only `electron`)
 *   src-main/core/ledger/sqlite/worker.ts → dist/electron/ledger-worker.cjs (the usage ledger's
 *     worker thread; main.cjs finds it next to itself through `__RELAY_LEDGER_WORKER__`, and
 *     Electron loads it from the asar archive like main.cjs)
 * and copies the tray/app icons to dist/assets/ (the installer ships `dist/**` only).
 *
 * `electron` and the runtime dependencies stay external (installed in node_modules, native
 * modules rebuilt for Electron by electron-builder); ESM-only packages are bundled in so the
 * CJS main can load them. No Electron binary is needed to build.
 */
import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outDir = join(root, 'dist', 'electron');

// ESM-only packages: bundled (a CJS main cannot `require` them on every Electron version).
const BUNDLED = new Set(['electron-store']);
const external = ['electron', ...Object.keys(pkg.dependencies ?? {}).filter((d) => !BUNDLED.has(d))];

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
  legalComments: 'none',
  // Non-ASCII characters escaped everywhere but in comments (see oneByte below).
  charset: 'ascii',
  // core/admin/static.ts reads import.meta.url only when it exists (ESM); in this CJS bundle the
  // desktop passes rendererDir instead.
  logOverride: { 'empty-import-meta': 'silent' },
  define: { 'process.env.NODE_ENV': '"production"', __RELAY_LEDGER_WORKER__: '"ledger-worker.cjs"' },
};

const main = await build({
  ...common,
  entryPoints: [join(root, 'src-main', 'electron', 'main.ts')],
  outfile: join(outDir, 'main.cjs'),
  external,
  metafile: true,
});
const ledgerWorker = await build({
  ...common,
  entryPoints: [join(root, 'src-main', 'core', 'ledger', 'sqlite', 'worker.ts')],
  outfile: join(outDir, 'ledger-worker.cjs'),
  external,
  metafile: true,
});

// The installer ships production dependencies only: every package the bundle requires must be
// one of them or come with one (a devDependency imported by core would crash the packaged app).
const pkgName = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
const shipped = new Set();
const queue = Object.keys(pkg.dependencies ?? {});
while (queue.length) {
  const name = queue.pop();
  if (shipped.has(name)) continue;
  shipped.add(name);
  try {
    const p = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
    queue.push(...Object.keys(p.dependencies ?? {}), ...Object.keys(p.optionalDependencies ?? {}));
  } catch {
    /* not installed at the top level: nested under its parent, shipped with it */
  }
}
const required = new Set(
  [...Object.values(main.metafile.outputs), ...Object.values(ledgerWorker.metafile.outputs)]
    .flatMap((o) => o.imports ?? [])
    .filter((i) => i.external && !i.path.startsWith('node:') && !builtinModules.includes(i.path))
    .map((i) => pkgName(i.path)),
);
const missing = [...required].filter((n) => n !== 'electron' && !shipped.has(n));
if (missing.length) {
  console.error(`main bundle requires packages that are not production dependencies: ${missing.join(', ')}`);
  process.exit(1);
}

// SECURITY: the preload runs in a sandboxed renderer: it may require only `electron`. Nothing
// else is external, so any accidental Node import fails the check below instead of at runtime.
const preload = await build({
  ...common,
  entryPoints: [join(root, 'src-main', 'electron', 'preload.ts')],
  outfile: join(outDir, 'preload.cjs'),
  external: ['electron'],
  metafile: true,
});
const preloadImports = Object.values(preload.metafile.outputs)
  .flatMap((o) => o.imports ?? [])
  .filter((i) => i.external)
  .map((i) => i.path);
const bad = preloadImports.filter((p) => p !== 'electron');
if (bad.length) {
  console.error(`preload must only import electron, found: ${bad.join(', ')}`);
  process.exit(1);
}

// V8 holds a script's source for the life of its functions, two bytes a character as soon as one
// character is beyond Latin-1: with `charset: 'ascii'` those can only be in comments, where each
// UTF-16 unit becomes one '?' (same columns: the source maps still line up).
for (const f of ['main.cjs', 'ledger-worker.cjs']) {
  const file = join(outDir, f);
  writeFileSync(file, readFileSync(file, 'utf8').replace(/[^\0-\xff]/g, '?'));
}

const assets = join(root, 'assets');
if (existsSync(assets)) {
  const dest = join(root, 'dist', 'assets');
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  cpSync(join(assets, 'tray'), join(dest, 'tray'), { recursive: true });
  cpSync(join(assets, 'icon.png'), join(dest, 'icon.png'));
}
console.log('built dist/electron/main.cjs, dist/electron/preload.cjs and dist/electron/ledger-worker.cjs');
