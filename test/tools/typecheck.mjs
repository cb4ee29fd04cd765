#!/usr/bin/env node
/**
 * `npm run typecheck`: the three TypeScript projects (core + tests, Electron, dashboard) checked
 * side by side, one tsc process each, instead of one after another. Each one's errors are printed
 * together under its name; the exit code is non-zero when any project has errors. Each keeps its
 * incremental state in node_modules/.cache/typecheck/, so a run after a small change checks only
 * what the change touched (a clean checkout, as in CI, checks everything).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const projects = ['tsconfig.json', 'tsconfig.electron.json', 'tsconfig.renderer.json'];

const runs = projects.map(
  (p) =>
    new Promise((resolve) => {
      const info = join(root, 'node_modules', '.cache', 'typecheck', p.replace(/\.json$/, '.tsbuildinfo'));
      const child = spawn(process.execPath, [tsc, '-p', p, '--noEmit', '--pretty', '--incremental', '--tsBuildInfoFile', info], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b) => (out += b));
      child.stderr.on('data', (b) => (out += b));
      child.on('error', (e) => resolve({ p, code: 1, out: String(e) }));
      child.on('close', (code) => resolve({ p, code: code ?? 1, out }));
    }),
);

let failed = 0;
for (const r of await Promise.all(runs)) {
  if (r.code === 0) continue;
  failed++;
  process.stderr.write(`\n${r.p}: type errors\n${r.out}\n`);
}
if (failed) process.exit(1);
process.stdout.write(`typecheck: ${projects.length} projects, no errors\n`);
