/**
 * The headless gateway as compiled JavaScript: src-main/cli/serve.ts bundled once by esbuild to
 * dist/cli/serve.mjs (ESM, packages external, like the desktop bundle), rebuilt only when one of
 * its inputs changed. Freshness: a manifest next to the bundle lists every input file esbuild
 * read (from its metafile) with a content hash, plus package.json and this file; any difference
 * (edited, deleted, another branch checked out) means a rebuild. Checking costs reading those
 * ~100 files, a few milliseconds; building takes about a second.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(root, 'src-main', 'cli', 'serve.ts');
const SELF = fileURLToPath(import.meta.url);
const VERSION = 1;

const hash = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Where the bundle and its manifest live (RELAY_SERVE_OUT: elsewhere, for tests). */
export function serveOutDir(env = process.env) {
  return env.RELAY_SERVE_OUT ? resolve(env.RELAY_SERVE_OUT) : join(root, 'dist', 'cli');
}

/** Why the bundle in `outDir` must be rebuilt, or undefined when it is up to date. */
export function staleReason(outDir) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(outDir, 'serve.inputs.json'), 'utf8'));
  } catch {
    return 'not built yet';
  }
  if (!existsSync(join(outDir, 'serve.mjs'))) return 'not built yet';
  if (manifest.version !== VERSION) return 'built by another version of the launcher';
  for (const [rel, sum] of Object.entries(manifest.inputs ?? {})) {
    let now;
    try {
      now = hash(join(root, rel));
    } catch {
      return `${rel} is gone`;
    }
    if (now !== sum) return `${rel} changed`;
  }
  return undefined;
}

/** Bundles serve.ts into `outDir` (written next to it, then renamed: a concurrent start never sees half a file). */
export async function buildServe(outDir) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (e) {
    throw new Error(`the gateway is not built and esbuild is not installed (${e.message.split('\n')[0]}): run \`npm install\` first`);
  }
  mkdirSync(outDir, { recursive: true });
  const tmp = join(outDir, `serve.${process.pid}.tmp.mjs`);
  try {
    const result = await esbuild.build({
      entryPoints: [ENTRY],
      outfile: tmp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      // No source map: the bundle is not minified, so stack traces stay readable; it loads faster.
      sourcemap: false,
      logLevel: 'warning',
      legalComments: 'none',
      metafile: true,
    });
    const inputs = {};
    for (const file of [...Object.keys(result.metafile.inputs).map((f) => resolve(root, f)), join(root, 'package.json'), SELF]) {
      inputs[relative(root, file).split('\\').join('/')] = hash(file);
    }
    renameSync(tmp, join(outDir, 'serve.mjs'));
    writeFileSync(join(outDir, 'serve.inputs.json'), `${JSON.stringify({ version: VERSION, inputs }, null, 1)}\n`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** The path of an up-to-date bundle, building it first when needed (one line on stderr then). */
export async function ensureServeBuild(outDir = serveOutDir()) {
  const why = staleReason(outDir);
  if (why) {
    process.stderr.write(`building the gateway (${why})...\n`);
    await buildServe(outDir);
  }
  return join(outDir, 'serve.mjs');
}
