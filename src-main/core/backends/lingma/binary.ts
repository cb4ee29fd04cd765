/**
 * Finding the Lingma binary (shared/spec/lingma-protocol.md §1).
 * Order: `LINGMA_BIN`, then `lingma.binary` when it is a path, then the known install locations
 * (IDE plugin, Lingma desktop app, Qoder CN, others); when several exist the newest version wins.
 */
import { accessSync, constants, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type BinaryLookup =
  | { found: true; path: string; source: 'env' | 'config' | 'auto'; label: string; version?: string; installs?: number }
  | { found: false; reason: string; searched: string[] };

export interface BinaryLookupOptions {
  /** `lingma.binary`: `auto` or a path. */
  setting: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  arch?: string;
  home?: string;
  /** The system applications folder (macOS); tests point it elsewhere. */
  systemApps?: string;
}

/** The platform folder names used inside Lingma installs. */
export function platformFolder(platform: NodeJS.Platform, arch: string): string | undefined {
  if (platform === 'darwin') return arch === 'arm64' ? 'aarch64_darwin' : 'x86_64_darwin';
  if (platform === 'win32') return 'x86_64_windows';
  if (platform === 'linux') return arch === 'arm64' ? 'aarch64_linux' : 'x86_64_linux';
  return undefined;
}

function isFile(p: string, win: boolean): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    if (!win) accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Compare dotted versions numerically ("2.10.1" > "2.9.0"); non-numeric parts compare as text. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-_]/);
  const pb = b.split(/[.\-_]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
      if (nx !== ny) return nx - ny;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** One place a runtime may be installed, with its version when the install says it. */
export interface Candidate {
  path: string;
  /** Which install: `ide-plugin`, `lingma-app`, `qoder-cn-app`, `other`. */
  label: string;
  version?: string;
}

function readJson(p: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(readFileSync(p, 'utf8')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The candidates under `~/.lingma/bin`: the version named by config.json first, then newest first. */
function pluginCandidates(home: string, folders: string[], exe: string): Candidate[] {
  const root = join(home, '.lingma', 'bin');
  const out: Candidate[] = [];
  const cfg = readJson(join(root, 'config.json'));
  // The field name differs between builds; accept the likely spellings.
  const current = cfg && ([cfg.version, cfg.current, cfg.currentVersion, cfg.cosyVersion].find((v) => typeof v === 'string' && v) as string | undefined);
  let versions: string[] = [];
  try {
    versions = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort((a, b) => compareVersions(b, a));
  } catch {
    /* no plugin install */
  }
  if (current && !current.includes('/') && !current.includes('\\') && current !== '..') versions = [current, ...versions.filter((v) => v !== current)];
  for (const v of versions) for (const f of folders) out.push({ path: join(root, v, f, exe), label: 'ide-plugin', version: v });
  return out;
}

/** An Electron app's version: `resources/app/package.json` (a guess for Qoder CN; Lingma's is known to be an Electron app). */
function appVersion(resourcesDir: string): string | undefined {
  const pkg = readJson(join(resourcesDir, 'app', 'package.json'));
  return typeof pkg?.version === 'string' ? pkg.version : undefined;
}

/**
 * Desktop apps (spec §1). Lingma's locations are known; the Qoder CN ones ("formerly Lingma",
 * same runtime layout) are GUESSES by analogy: `Qoder CN.app` / `QoderCN.app`, `Programs\Qoder CN`
 * / `Programs\QoderCN`.
 */
function appCandidates(o: { platform: NodeJS.Platform; home: string; env: NodeJS.ProcessEnv; folders: string[]; exe: string; systemApps: string }): Candidate[] {
  const out: Candidate[] = [];
  const apps: Array<[string, string]> = [
    ['Lingma.app', 'lingma-app'],
    ['Qoder CN.app', 'qoder-cn-app'], // guess
    ['QoderCN.app', 'qoder-cn-app'], // guess
  ];
  if (o.platform === 'darwin') {
    for (const [app, label] of apps) {
      for (const base of [o.systemApps, join(o.home, 'Applications')]) {
        const res = join(base, app, 'Contents', 'Resources');
        const version = appVersion(res);
        for (const f of o.folders) out.push({ path: join(res, 'app', 'resources', 'bin', f, o.exe), label, version });
      }
    }
  }
  if (o.platform === 'win32') {
    const roots: Array<[string | undefined, string]> = [
      [o.env.LOCALAPPDATA && join(o.env.LOCALAPPDATA, 'Programs', 'Lingma'), 'lingma-app'],
      [o.env.ProgramFiles && join(o.env.ProgramFiles, 'Lingma'), 'lingma-app'],
      [o.env.LOCALAPPDATA && join(o.env.LOCALAPPDATA, 'Programs', 'Qoder CN'), 'qoder-cn-app'], // guess
      [o.env.LOCALAPPDATA && join(o.env.LOCALAPPDATA, 'Programs', 'QoderCN'), 'qoder-cn-app'], // guess
      [o.env.ProgramFiles && join(o.env.ProgramFiles, 'Qoder CN'), 'qoder-cn-app'], // guess
    ];
    for (const [r, label] of roots) {
      if (!r) continue;
      const res = join(r, 'resources');
      out.push({ path: join(res, 'app', 'resources', 'bin', 'x86_64_windows', o.exe), label, version: appVersion(res) });
    }
  }
  return out;
}

/** Also seen (spec §1): `~/.config/lingma/bin/<platform>/`, `/usr/local/bin/Lingma`. No version known. */
function otherCandidates(home: string, platform: NodeJS.Platform, folders: string[], exe: string): Candidate[] {
  const out = folders.map((f) => ({ path: join(home, '.config', 'lingma', 'bin', f, exe), label: 'other' }));
  if (platform !== 'win32') out.push({ path: '/usr/local/bin/Lingma', label: 'other' });
  return out;
}

/**
 * Several installs: the newest version wins (an install whose version is unknown loses to one
 * that says it); equal versions keep the search order (IDE plugin, desktop app, others).
 */
export function pickNewest(found: Candidate[]): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of found) {
    if (!best) best = c;
    else if (c.version && (!best.version || compareVersions(c.version, best.version) > 0)) best = c;
  }
  return best;
}

export function findLingmaBinary(opts: BinaryLookupOptions): BinaryLookup {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? process.platform;
  const arch = opts.arch ?? process.arch;
  const home = opts.home ?? homedir();
  const win = platform === 'win32';
  const exe = win ? 'Lingma.exe' : 'Lingma';

  const fromEnv = env.LINGMA_BIN?.trim();
  if (fromEnv) {
    if (isFile(fromEnv, win)) return { found: true, path: fromEnv, source: 'env', label: 'configured' };
    return { found: false, searched: [fromEnv], reason: `LINGMA_BIN points to ${fromEnv}, which is not an executable file.` };
  }
  const setting = opts.setting.trim();
  if (setting && setting !== 'auto') {
    if (isFile(setting, win)) return { found: true, path: setting, source: 'config', label: 'configured' };
    return { found: false, searched: [setting], reason: `lingma.binary is ${setting}, which is not an executable file.` };
  }

  const folder = platformFolder(platform, arch);
  // On arm64 macOS the x86_64 build runs too (Rosetta): fall back to it.
  const folders = folder ? (folder === 'aarch64_darwin' ? [folder, 'x86_64_darwin'] : [folder]) : [];
  const candidates: Candidate[] = folder
    ? [
        ...pluginCandidates(home, folders, exe),
        ...appCandidates({ platform, home, env, folders, exe, systemApps: opts.systemApps ?? '/Applications' }),
        ...otherCandidates(home, platform, folders, exe),
      ]
    : [];
  const searched = candidates.map((c) => c.path);
  // The IDE plugin's current version (config.json, else the newest folder) stands for the plugin.
  const present = candidates.filter((c) => isFile(c.path, win));
  const pluginBest = present.find((c) => c.label === 'ide-plugin');
  const best = pickNewest([...(pluginBest ? [pluginBest] : []), ...present.filter((c) => c.label !== 'ide-plugin')]);
  if (best) return { found: true, path: best.path, source: 'auto', label: best.label, version: best.version, installs: present.length };

  const where = folder ? [join(home, '.lingma', 'bin', '<version>', folder, exe), ...searched.filter((s) => !s.startsWith(join(home, '.lingma')))] : [];
  return {
    found: false,
    searched,
    reason:
      `Lingma binary not found (looked in ${where.length ? where.join(', ') : `no known location for ${platform}`}). ` +
      'Install the Lingma IDE plugin or desktop app (or Qoder CN), or set lingma.binary (or LINGMA_BIN) to its path.',
  };
}
