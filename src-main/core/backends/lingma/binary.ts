/**
 * Finding the Lingma binary (shared/spec/lingma-protocol.md §1).
 * Order: `LINGMA_BIN`, then `lingma.binary` when it is a path, then the known install locations.
 */
import { accessSync, constants, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type BinaryLookup =
  | { found: true; path: string; source: 'env' | 'config' | 'auto' }
  | { found: false; reason: string; searched: string[] };

export interface BinaryLookupOptions {
  /** `lingma.binary`: `auto` or a path. */
  setting: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  arch?: string;
  home?: string;
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

/** The candidates under `~/.lingma/bin`: the version named by config.json first, then newest first. */
function pluginCandidates(home: string, folder: string, exe: string): string[] {
  const root = join(home, '.lingma', 'bin');
  const out: string[] = [];
  try {
    const cfg = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')) as Record<string, unknown>;
    // The field name differs between builds; accept the likely spellings.
    const current = [cfg.version, cfg.current, cfg.currentVersion, cfg.cosyVersion].find((v) => typeof v === 'string' && v) as string | undefined;
    if (current && !current.includes('/') && !current.includes('\\') && current !== '..') out.push(join(root, current, folder, exe));
  } catch {
    /* no config.json: fall back to the newest folder */
  }
  let versions: string[] = [];
  try {
    versions = readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort((a, b) => compareVersions(b, a));
  } catch {
    /* no plugin install */
  }
  for (const v of versions) out.push(join(root, v, folder, exe));
  return [...new Set(out)];
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
    if (isFile(fromEnv, win)) return { found: true, path: fromEnv, source: 'env' };
    return { found: false, searched: [fromEnv], reason: `LINGMA_BIN points to ${fromEnv}, which is not an executable file.` };
  }
  const setting = opts.setting.trim();
  if (setting && setting !== 'auto') {
    if (isFile(setting, win)) return { found: true, path: setting, source: 'config' };
    return { found: false, searched: [setting], reason: `lingma.binary is ${setting}, which is not an executable file.` };
  }

  const folder = platformFolder(platform, arch);
  const searched: string[] = [];
  if (folder) searched.push(...pluginCandidates(home, folder, exe));
  if (platform === 'darwin' && folder) {
    for (const app of ['/Applications/Lingma.app', join(home, 'Applications', 'Lingma.app')]) {
      searched.push(join(app, 'Contents', 'Resources', 'app', 'resources', 'bin', folder, exe));
    }
  }
  if (win) {
    const roots = [env.LOCALAPPDATA && join(env.LOCALAPPDATA, 'Programs', 'Lingma'), env.ProgramFiles && join(env.ProgramFiles, 'Lingma')];
    for (const r of roots) if (r) searched.push(join(r, 'resources', 'app', 'resources', 'bin', 'x86_64_windows', exe));
  }
  for (const c of searched) if (isFile(c, win)) return { found: true, path: c, source: 'auto' };

  const where = folder ? [join(home, '.lingma', 'bin', '<version>', folder, exe), ...searched.filter((s) => !s.startsWith(join(home, '.lingma')))] : [];
  return {
    found: false,
    searched,
    reason:
      `Lingma binary not found (looked in ${where.length ? where.join(', ') : `no known location for ${platform}`}). ` +
      'Install the Lingma IDE plugin or desktop app, or set lingma.binary (or LINGMA_BIN) to its path.',
  };
}
