/**
 * The headless gateway as compiled JavaScript: src-main/cli/serve.ts bundled once by esbuild to
 * dist/cli/serve.mjs (ESM, packages external, like the desktop bundle), with the usage ledger's
 * worker thread next to it (dist/cli/ledger-worker.mjs, found by the bundle through the
 * `__RELAY_LEDGER_WORKER__` it defines), rebuilt only when one of
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
const WORKER_ENTRY = join(root, 'src-main', 'core', 'ledger', 'sqlite', 'worker.ts');
const WORKER_FILE = 'ledger-worker.mjs';
const VERSION = 2;

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
  if (!existsSync(join(outDir, 'serve.mjs')) || !existsSync(join(outDir, WORKER_FILE))) return 'not built yet';
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

const ASCII_FOR = { '\u2192': '->', '\u2190': '<-', '\u2014': '--', '\u2013': '-', '\u2026': '...', '\u2264': '<=', '\u2265': '>=', '\u2260': '!=', '\u2018': "'", '\u2019': "'", '\u201c': '"', '\u201d': '"' };

/**
 * The bundle's text with every character beyond Latin-1 replaced by ASCII. V8 keeps a script's
 * whole source in memory for as long as its functions live, one byte per character when every
 * character fits in Latin-1 and two bytes otherwise: one arrow in a comment doubled the gateway's
 * 0.7 MB of source. With `charset: 'ascii'` esbuild escapes every non-ASCII character outside
 * comments, so what is left is in comments, where a replacement changes nothing.
 */
export function oneByteSource(text) {
  return text.replace(/[^\0-\xff]/gu, (c) => ASCII_FOR[c] ?? '?');
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
  const tmpWorker = join(outDir, `ledger-worker.${process.pid}.tmp.mjs`);
  const common = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    // No source map: the bundle is not minified, so stack traces stay readable; it loads faster.
    sourcemap: false,
    logLevel: 'warning',
    legalComments: 'none',
    // Strings, regular expressions and identifiers escaped to ASCII (esbuild's default, relied
    // on by oneByteSource below); comments are kept as written.
    charset: 'ascii',
    metafile: true,
    define: { __RELAY_LEDGER_WORKER__: JSON.stringify(WORKER_FILE) },
  };
  try {
    const results = [
      await esbuild.build({ ...common, entryPoints: [ENTRY], outfile: tmp }),
      await esbuild.build({ ...common, entryPoints: [WORKER_ENTRY], outfile: tmpWorker }),
    ];
    const inputs = {};
    const files = results.flatMap((r) => Object.keys(r.metafile.inputs).map((f) => resolve(root, f)));
    for (const file of [...files, join(root, 'package.json'), SELF]) {
      inputs[relative(root, file).split('\\').join('/')] = hash(file);
    }
    for (const file of [tmp, tmpWorker]) writeFileSync(file, oneByteSource(readFileSync(file, 'utf8')));
    // The worker first: a bundle is never visible without the worker it starts.
    renameSync(tmpWorker, join(outDir, WORKER_FILE));
    renameSync(tmp, join(outDir, 'serve.mjs'));
    writeFileSync(join(outDir, 'serve.inputs.json'), `${JSON.stringify({ version: VERSION, inputs }, null, 1)}\n`);
  } finally {
    rmSync(tmp, { force: true });
    rmSync(tmpWorker, { force: true });
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
