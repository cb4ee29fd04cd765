/**
 * The layer order (ARCHITECTURE.md, .dependency-cruiser.cjs) holds for src-main: no upward import,
 * core never imports electron, every file in a layer. Runs dependency-cruiser's CLI on the real
 * sources, and on a small fixture tree to show the rules catch what they claim to.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');
// The package's `bin` (its exports hide package.json and the bin path from require.resolve).
const cli = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

/** Runs the cruiser in `cwd` over src-main with the repository's rules; its violations. */
function cruise(cwd: string): Promise<Violation[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'src-main', '--config', join(root, '.dependency-cruiser.cjs'), '--output-type', 'json'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', () => {
      try {
        const result = JSON.parse(out) as { summary: { violations: Violation[]; error: number } };
        resolve(result.summary.violations);
      } catch {
        reject(new Error(`dependency-cruiser gave no JSON result: ${err.slice(0, 2000)}`));
      }
    });
  });
}

const fixture = mkdtempSync(join(tmpdir(), 'layers-'));
afterAll(() => rmSync(fixture, { recursive: true, force: true }));

function file(rel: string, text: string): void {
  mkdirSync(dirname(join(fixture, rel)), { recursive: true });
  writeFileSync(join(fixture, rel), text);
}

describe('layering (dependency-cruiser)', () => {
  // Both cruises start at once: each loads TypeScript, which takes a while on a busy machine.
  const real = cruise(root);
  cpSync(join(root, 'tsconfig.json'), join(fixture, 'tsconfig.json'));
  cpSync(join(root, 'tsconfig.base.json'), join(fixture, 'tsconfig.base.json'));
  file('src-main/core/gateway/metrics.ts', 'export class Metrics {}\n');
  file('src-main/core/dispatch/types.ts', 'export interface ChatService { n: number }\n');
  file('src-main/core/admin/panel.ts', 'export const panel = 1;\n');
  file('src-main/core/relay.ts', 'export const relay = 1;\n');
  // services → gateway: upward.
  file('src-main/core/routing/upward.ts', "import type { Metrics } from '../gateway/metrics';\nexport type M = Metrics;\n");
  // services → admin: upward too.
  file('src-main/core/pool/pool.ts', "import { panel } from '../admin/panel';\nexport const x: number = panel;\n");
  // core → electron.
  file('src-main/core/chat/native.ts', "import { app } from 'electron';\nexport const a = app;\n");
  // A folder in no layer.
  file('src-main/core/stray/lost.ts', "import { relay } from '../relay';\nexport const l = relay;\n");
  // Allowed: frontends → dispatch, host → relay.
  file('src-main/core/frontends/ok.ts', "import type { ChatService } from '../dispatch/types';\nexport type S = ChatService;\n");
  file('src-main/cli/ok.ts', "import { relay } from '../core/relay';\nexport const r = relay;\n");
  const probe = cruise(fixture);

  it('src-main has no upward import (beyond the exceptions listed in .dependency-cruiser.cjs)', async () => {
    const violations = await real;
    expect(violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  }, 300_000);

  it('catches an upward import, electron in core and a file in no layer', async () => {
    const violations = (await probe).map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort();
    expect(violations).toEqual(
      [
        'core-not-to-electron: src-main/core/chat/native.ts → electron',
        'every-file-in-a-layer: src-main/core/stray/lost.ts → src-main/core/relay.ts',
        'services-not-upward: src-main/core/pool/pool.ts → src-main/core/admin/panel.ts',
        'services-not-upward: src-main/core/routing/upward.ts → src-main/core/gateway/metrics.ts',
      ].sort(),
    );
  }, 300_000);
});
