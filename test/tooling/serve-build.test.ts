/**
 * `npm run serve` runs compiled JavaScript: bin/serve-build.mjs bundles src-main/cli/serve.ts once
 * and rebuilds only when an input changed (content hashes in a manifest next to the bundle).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { staleReason } from '../../bin/serve-build.mjs';

const root = join(__dirname, '..', '..');
// Inside the repository: the bundle keeps packages external, resolved from node_modules up the tree.
mkdirSync(join(root, 'dist'), { recursive: true });
const scratch = mkdtempSync(join(root, 'dist', 'serve-build-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const tempDir = () => join(scratch, String(n++));

/** The launcher on plain Node with its bundle in `out`: `serve --help`. */
const launch = (out: string) =>
  spawnSync(process.execPath, [join(root, 'bin', 'serve.mjs'), '--help'], { cwd: root, env: { ...process.env, RELAY_SERVE_OUT: out }, encoding: 'utf8', timeout: 120_000 });

/**
 * The launcher's first start on a fresh output folder (it builds, then runs the bundle), done
 * once and shared by both tests: a build is the expensive part, and it is the same build.
 */
let firstStart: { out: string; first: SpawnSyncReturns<string> } | undefined;
function firstLaunch(): { out: string; first: SpawnSyncReturns<string> } {
  if (!firstStart) {
    const out = join(tempDir(), 'cli');
    expect(staleReason(out)).toBe('not built yet');
    firstStart = { out, first: launch(out) };
  }
  return firstStart;
}

describe('serve build', () => {
  it('builds once, then is fresh until an input changes', () => {
    const { out: built, first } = firstLaunch();
    expect(first.status, first.stderr).toBe(0);
    // A copy of the build: its manifest is edited below.
    const out = join(tempDir(), 'cli');
    cpSync(built, out, { recursive: true });
    expect(staleReason(out)).toBeUndefined();

    const manifestFile = join(out, 'serve.inputs.json');
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { inputs: Record<string, string> };
    // Every source the bundle holds is listed, and what else decides the build.
    expect(Object.keys(manifest.inputs)).toEqual(expect.arrayContaining(['src-main/cli/serve.ts', 'src-main/core/relay.ts', 'package.json', 'bin/serve-build.mjs']));

    // An edited source (its hash no longer matches) or a deleted one means a rebuild.
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, inputs: { ...manifest.inputs, 'src-main/core/relay.ts': '0'.repeat(64) } }));
    expect(staleReason(out)).toBe('src-main/core/relay.ts changed');
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, inputs: { ...manifest.inputs, 'src-main/core/gone.ts': 'x' } }));
    expect(staleReason(out)).toBe('src-main/core/gone.ts is gone');
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, version: 0 }));
    expect(staleReason(out)).toBe('built by another version of the launcher');

    // The bundle runs on plain Node (the launcher's), no TypeScript loader.
    expect(first.stdout).toContain('Usage: npm run serve');
  }, 120_000);

  it('the launcher builds when needed (one line on stderr), then runs the bundle in its own process', () => {
    const { out, first } = firstLaunch();
    expect(first.status).toBe(0);
    expect(first.stderr).toBe('building the gateway (not built yet)...\n');
    expect(first.stdout).toContain('Usage: npm run serve');
    expect(staleReason(out)).toBeUndefined();
    const again = launch(out);
    expect(again.status).toBe(0);
    expect(again.stderr).toBe('');
    expect(again.stdout).toContain('Usage: npm run serve');
  }, 120_000);
});
