/**
 * Loads the real main process (src-main/electron/main.ts, bundled like `npm run build:main`) into
 * this Node process against the fake `electron` module. One per test file (vitest isolates files).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { electronModule, fake, resetFake } from './fake-electron';

export const root = path.resolve(__dirname, '..', '..');

const M = Module as unknown as {
  _cache: Record<string, unknown>;
  _nodeModulePaths(dir: string): string[];
  new (id: string): { filename: string; paths: string[]; exports: unknown; loaded: boolean; _compile(code: string, filename: string): void };
};

export interface Harness {
  base: string;
  userData: string;
  cleanup(): void;
}

export async function loadMain(files: { settings?: unknown; configYaml?: string } = {}): Promise<Harness> {
  resetFake();
  const base = mkdtempSync(path.join(tmpdir(), 'relay-main-'));
  const userData = path.join(base, 'userData');
  const appRoot = path.join(base, 'app');
  mkdirSync(path.join(appRoot, 'dist', 'renderer'), { recursive: true });
  writeFileSync(path.join(appRoot, 'dist', 'renderer', 'index.html'), '<!doctype html><title>dash</title>');
  mkdirSync(userData, { recursive: true });
  writeFileSync(path.join(userData, 'settings.json'), JSON.stringify(files.settings ?? { port: 0 }));
  writeFileSync(path.join(userData, 'config.yaml'), files.configYaml ?? 'server:\n  logLevel: error\n');
  fake.app.paths = { userData, home: base };
  fake.app.appPath = appRoot;

  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
  const external = ['electron', 'pino', ...Object.keys(pkg.dependencies).filter((d: string) => d !== 'electron-store')];
  const out = await build({
    entryPoints: [path.join(root, 'src-main', 'electron', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    external,
    logLevel: 'silent',
  });

  // `require('electron')` inside the bundle gets the fake.
  const electronPath = require.resolve('electron', { paths: [root] });
  const em = new M(electronPath);
  em.exports = electronModule;
  em.loaded = true;
  M._cache[electronPath] = em;

  const filename = path.join(root, 'dist', 'electron', 'main.cjs');
  const m = new M(filename);
  m.filename = filename;
  m.paths = M._nodeModulePaths(path.dirname(filename));
  m._compile(out.outputFiles[0].text, filename);

  return {
    base,
    userData,
    cleanup() {
      delete M._cache[electronPath];
      rmSync(base, { recursive: true, force: true });
    },
  };
}
