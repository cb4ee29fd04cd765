/**
 * package-lock.json must carry the native optional packages of every platform the installers
 * target (electron-builder.yml), not only the machine that last wrote it: npm's optional-dependency
 * lock bug drops the others, and then `npm ci` on a Mac or Windows machine installs a bundler
 * (rollup, esbuild) without its native binary.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(__dirname, '..', '..');

interface LockEntry {
  version?: string;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  optionalDependencies?: Record<string, string>;
}
type Lock = { packages: Record<string, LockEntry> };

/** electron-builder platform key → Node's process.platform. */
const OS: Record<string, string> = { mac: 'darwin', win: 'win32', linux: 'linux' };
/** Arches electron-builder builds when a target names none (the machines people have). */
const DEFAULT_ARCHES = ['x64', 'arm64'];

export interface Platform {
  os: string;
  cpu: string;
}

/** Every (os, cpu) that electron-builder.yml's mac/win/linux targets produce installers for. */
export function builderPlatforms(yamlText: string): Platform[] {
  const cfg = parse(yamlText) as Record<string, { target?: unknown } | undefined>;
  const out = new Map<string, Platform>();
  for (const [key, os] of Object.entries(OS)) {
    const section = cfg[key];
    if (!section) continue;
    const targets = Array.isArray(section.target) ? section.target : section.target ? [section.target] : ['default'];
    for (const t of targets) {
      const arches = typeof t === 'object' && t && 'arch' in t ? [(t as { arch: string | string[] }).arch].flat() : DEFAULT_ARCHES;
      for (const cpu of arches) {
        // universal = both mac arches in one app
        for (const c of cpu === 'universal' ? ['x64', 'arm64'] : [cpu]) out.set(`${os}-${c}`, { os, cpu: c });
      }
    }
  }
  return [...out.values()];
}

/** Where npm resolves `dep` required by the package installed at `from` (walks up node_modules). */
function resolveIn(lock: Lock, from: string, dep: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${dep}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i < 0 ? '' : base.slice(0, i);
  }
}

function matches(entry: LockEntry, p: Platform): boolean {
  const ok = (list: string[] | undefined, v: string) => !list || (list.some((x) => !x.startsWith('!')) ? list.includes(v) : !list.includes(`!${v}`));
  // Installers for Linux target glibc (AppImage, deb).
  return ok(entry.os, p.os) && ok(entry.cpu, p.cpu) && (p.os !== 'linux' || !entry.libc || entry.libc.includes('glibc'));
}

/** Problems: optional dependencies missing from the lock, and native families without a binary for a target. */
export function lockProblems(lock: Lock, platforms: Platform[]): string[] {
  const problems: string[] = [];
  for (const [at, entry] of Object.entries(lock.packages)) {
    const optional = Object.keys(entry.optionalDependencies ?? {});
    if (!optional.length) continue;
    const present = optional.map((d) => [d, resolveIn(lock, at, d)] as const);
    const missing = present.filter(([, p]) => !p).map(([d]) => d);
    if (missing.length) problems.push(`${at || '(root)'}: optional dependencies missing from the lock: ${missing.join(', ')}`);
    // A native family: several per-platform binaries, each declaring its os and cpu (rollup,
    // esbuild, …). A helper that declares only an os (fsevents, also optional for rollup) is not one.
    const native = present.filter(([, p]) => p && lock.packages[p]!.os && lock.packages[p]!.cpu).map(([, p]) => lock.packages[p!]!);
    if (native.length + missing.length < 2) continue;
    for (const p of platforms) {
      if (!native.some((e) => matches(e, p))) problems.push(`${at}: no native package for ${p.os}-${p.cpu}`);
    }
  }
  return problems;
}

describe('package-lock.json covers every installer platform', () => {
  const platforms = builderPlatforms(readFileSync(join(root, 'electron-builder.yml'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;

  it('reads the mac, win and linux targets from electron-builder.yml', () => {
    expect(platforms.map((p) => `${p.os}-${p.cpu}`).sort()).toEqual(['darwin-arm64', 'darwin-x64', 'linux-arm64', 'linux-x64', 'win32-arm64', 'win32-x64']);
  });

  it('honours explicit arches, universal and missing sections', () => {
    const yml = 'mac:\n  target:\n    - target: dmg\n      arch: universal\nwin:\n  target:\n    - target: nsis\n      arch: [ia32]\n';
    expect(builderPlatforms(yml).map((p) => `${p.os}-${p.cpu}`)).toEqual(['darwin-x64', 'darwin-arm64', 'win32-ia32']);
  });

  it('lists every native optional package for each target (rollup, esbuild, …)', () => {
    expect(lockProblems(lock, platforms)).toEqual([]);
    // The check sees the bundler families it guards.
    expect(lock.packages['node_modules/@rollup/rollup-darwin-arm64']).toBeDefined();
    expect(lock.packages['node_modules/@esbuild/win32-x64']).toBeDefined();
  });

  it('fails on a lock written by the bug (Linux-only rollup binaries)', () => {
    const broken: Lock = JSON.parse(JSON.stringify(lock));
    for (const k of Object.keys(broken.packages)) {
      if (k.startsWith('node_modules/@rollup/rollup-') && !k.includes('-linux-')) delete broken.packages[k];
    }
    const problems = lockProblems(broken, platforms);
    expect(problems).toContain('node_modules/rollup: no native package for darwin-arm64');
    expect(problems).toContain('node_modules/rollup: no native package for win32-x64');
    expect(problems.some((p) => p.startsWith('node_modules/rollup: optional dependencies missing from the lock: @rollup/rollup-android-arm-eabi'))).toBe(true);
  });
});
