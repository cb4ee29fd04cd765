/**
 * Finding a Lingma / Qoder CN app or IDE plugin that is already running (spec §7).
 *
 * A running runtime advertises its transport in `SharedClientCache/.info.json`
 * (`{websocketPort, pid, ipcServerPath}`) or the legacy three-line `.info` (port, pid, IPC path)
 * under the user's config folder and the runtimes' home folders; without the file, a Unix socket
 * or a Windows named pipe named after the app. Public clients' environment overrides win.
 *
 * Pure apart from the `AttachFs` / `isAlive` / `listPipes` ports, so a fake home tests it.
 *
 * SECURITY: these files can be written by any program of the user. What they name is only ever
 * reached on this machine: a WebSocket URL must be loopback, a port becomes
 * `ws://127.0.0.1:<port>/`, a pipe must be a local `\\.\pipe\` name (never a UNC path to another
 * machine), a socket an absolute local path. A file whose `pid` is not running is stale.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { posix, win32 } from 'node:path';
import { isAlive } from '../process';

export type AttachApp = 'lingma' | 'qodercn';

export interface AttachTarget {
  app: AttachApp;
  /** For people: `Lingma` or `Qoder CN`. */
  appName: string;
  /** Loopback WebSocket URL (preferred when both are known). */
  wsUrl?: string;
  /** Unix socket path or Windows named pipe with the same framing. */
  ipcPath?: string;
  /** The runtime's process id, when advertised (checked alive). */
  pid?: number;
  /** Where it was found: a file, a socket, or an environment variable. */
  source: string;
}

export interface AttachFs {
  /** File text, or undefined when it cannot be read. */
  readFile(path: string): string | undefined;
  /** Modification time, or undefined when the path does not exist. */
  mtimeMs(path: string): number | undefined;
  /** Entry names, or [] when the folder cannot be read. */
  readdir(path: string): string[];
}

export interface DiscoverOptions {
  home?: string;
  platform?: NodeJS.Platform;
  env?: NodeJS.ProcessEnv;
  fs?: AttachFs;
  /** `process.kill(pid, 0)` by default. */
  isAlive?: (pid: number) => boolean;
  /** Names under `\\.\pipe\` (Windows). */
  listPipes?: () => string[];
}

export interface DiscoverResult {
  target?: AttachTarget;
  /** What was found and not used, and why (for the log; no secrets in these files). */
  skipped: string[];
}

export const nodeAttachFs: AttachFs = {
  readFile(p) {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  },
  mtimeMs(p) {
    try {
      return statSync(p).mtimeMs;
    } catch {
      return undefined;
    }
  },
  readdir(p) {
    try {
      return readdirSync(p);
    } catch {
      return [];
    }
  },
};

const PIPE_PREFIX = '\\\\.\\pipe\\';
const APP_FOLDERS = ['Lingma', 'QoderCN', 'Qoder'];
const CACHE_FOLDERS = ['SharedClientCache', 'sharedClientCache'];
const INFO_FILES = ['.info.json', '.info'];

interface Resolved {
  home: string;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  fs: AttachFs;
  isAlive: (pid: number) => boolean;
  listPipes: () => string[];
  path: typeof posix;
}

function resolve(o: DiscoverOptions): Resolved {
  const platform = o.platform ?? process.platform;
  const env = o.env ?? process.env;
  const home = o.home ?? (platform === 'win32' ? env.USERPROFILE : env.HOME) ?? homedir();
  return {
    home,
    platform,
    env,
    fs: o.fs ?? nodeAttachFs,
    isAlive: o.isAlive ?? isAlive,
    listPipes: o.listPipes ?? (() => nodeAttachFs.readdir(PIPE_PREFIX)),
    path: platform === 'win32' ? (win32 as unknown as typeof posix) : posix,
  };
}

export function appOf(where: string): AttachApp {
  return /qoder/i.test(where) ? 'qodercn' : 'lingma';
}

export function appName(app: AttachApp): string {
  return app === 'qodercn' ? 'Qoder CN' : 'Lingma';
}

/** The per-user config folders the apps keep their `SharedClientCache` in. */
function configRoots(r: Resolved): string[] {
  const { path: p, env, home } = r;
  if (r.platform === 'win32') return [env.APPDATA, env.LOCALAPPDATA].filter((x): x is string => !!x);
  if (r.platform === 'darwin') return [p.join(home, 'Library', 'Application Support')];
  return [env.XDG_CONFIG_HOME || p.join(home, '.config')];
}

/** Folders that may hold a `SharedClientCache` (spec §7), most specific first. */
export function cacheParents(o: DiscoverOptions = {}): string[] {
  const r = resolve(o);
  const p = r.path;
  const out: string[] = [];
  for (const root of configRoots(r)) for (const name of APP_FOLDERS) out.push(p.join(root, name));
  for (const dot of ['.lingma', '.qodercn']) out.push(p.join(r.home, dot), p.join(r.home, dot, 'vscode'));
  return out;
}

/** Every `SharedClientCache` folder to look in (and to watch). */
export function cacheFolders(o: DiscoverOptions = {}): string[] {
  const p = resolve(o).path;
  return cacheParents(o).flatMap((parent) => CACHE_FOLDERS.map((c) => p.join(parent, c)));
}

/** Every info file path to try. */
export function infoFileCandidates(o: DiscoverOptions = {}): string[] {
  const p = resolve(o).path;
  return cacheFolders(o).flatMap((dir) => INFO_FILES.map((f) => p.join(dir, f)));
}

export interface ParsedInfo {
  port?: number;
  pid?: number;
  ipcPath?: string;
  wsUrl?: string;
}

function portOf(v: unknown): number | undefined {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function pidOf(v: unknown): number | undefined {
  const s = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : '';
  if (!/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n > 0 ? n : undefined;
}

/**
 * `.info.json` (`{websocketPort, pid, ipcServerPath}`; a `websocketUrl` is accepted too) or the
 * legacy `.info` (three lines: port, pid, IPC path). Throws an Error naming the problem.
 */
export function parseInfo(text: string): ParsedInfo {
  const t = text.replace(/^\uFEFF/, '').trim();
  if (!t) throw new Error('the file is empty');
  if (t.startsWith('{')) {
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(t) as Record<string, unknown>;
    } catch {
      throw new Error('the file is not valid JSON');
    }
    if (!j || typeof j !== 'object') throw new Error('the file is not a JSON object');
    const rawPort = j.websocketPort ?? j.port ?? j.socketPort;
    const port = portOf(rawPort);
    if (rawPort !== undefined && rawPort !== null && rawPort !== '' && port === undefined) throw new Error(`websocketPort ${JSON.stringify(rawPort)} is not a port`);
    const url = j.websocketUrl ?? j.wsUrl;
    const ipc = j.ipcServerPath ?? j.ipcPath;
    return {
      port,
      pid: pidOf(j.pid),
      ipcPath: typeof ipc === 'string' && ipc.trim() ? ipc.trim() : undefined,
      wsUrl: typeof url === 'string' && url.trim() ? url.trim() : undefined,
    };
  }
  const lines = t.split(/\r?\n/).map((l) => l.trim());
  const port = portOf(lines[0]);
  if (lines[0] && port === undefined) throw new Error(`the first line ${JSON.stringify(lines[0].slice(0, 40))} is not a port`);
  return { port, pid: pidOf(lines[1]), ipcPath: lines[2] || undefined };
}

/**
 * A WebSocket URL is accepted only when it reaches this machine: `ws:`/`wss:` on 127.0.0.0/8,
 * `localhost` or `[::1]`, no user info. Returns the normalised URL or throws naming the problem.
 */
export function loopbackWsUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${JSON.stringify(raw.slice(0, 80))} is not a URL`);
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`${u.protocol} is not a WebSocket URL scheme`);
  if (u.username || u.password) throw new Error('a WebSocket URL with user info is refused');
  const h = u.hostname.toLowerCase();
  const loop = h === 'localhost' || h === '[::1]' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
  if (!loop) throw new Error(`${h} is not a loopback address; only this machine's runtimes are attached`);
  return u.toString();
}

/** An IPC path is a local named pipe (Windows) or an absolute socket path (elsewhere). */
export function checkIpcPath(raw: string, platform: NodeJS.Platform): string {
  const p = raw.trim();
  if (platform === 'win32') {
    // SECURITY: `\\server\pipe\x` would reach another machine over SMB.
    if (!/^\\\\[.?]\\pipe\\[^\\/]+$/i.test(p)) throw new Error(`${JSON.stringify(p.slice(0, 80))} is not a local named pipe (\\\\.\\pipe\\...)`);
    return p;
  }
  if (!p.startsWith('/') || p.includes('\0')) throw new Error(`${JSON.stringify(p.slice(0, 80))} is not an absolute socket path`);
  return p;
}

/** Turn a parsed info file into a target, or throw naming why it is not usable. */
export function targetFromInfo(info: ParsedInfo, source: string, o: DiscoverOptions = {}): AttachTarget {
  const r = resolve(o);
  if (info.pid !== undefined && !r.isAlive(info.pid)) throw new Error(`stale: process ${info.pid} is not running`);
  const app = appOf(source);
  const t: AttachTarget = { app, appName: appName(app), pid: info.pid, source };
  if (info.wsUrl) t.wsUrl = loopbackWsUrl(info.wsUrl);
  else if (info.port) t.wsUrl = `ws://127.0.0.1:${info.port}/`;
  if (info.ipcPath) {
    try {
      t.ipcPath = checkIpcPath(info.ipcPath, r.platform);
    } catch (e) {
      if (!t.wsUrl) throw e;
    }
  }
  if (!t.wsUrl && !t.ipcPath) throw new Error('it names neither a port nor an IPC path');
  return t;
}

/** Read and check one info file. */
export function readInfoFile(file: string, o: DiscoverOptions = {}): AttachTarget {
  const r = resolve(o);
  const text = r.fs.readFile(file);
  if (text === undefined) throw new Error('cannot be read');
  return targetFromInfo(parseInfo(text), file, o);
}

/** Unix sockets the apps listen on when they write no info file; newest first. */
function socketCandidates(r: Resolved): string[] {
  const p = r.path;
  const found: Array<{ path: string; mtime: number }> = [];
  const dirs = cacheParents(r).flatMap((parent) => CACHE_FOLDERS.map((c) => p.join(parent, c)));
  for (const dir of dirs) {
    for (const name of r.fs.readdir(dir)) {
      if (!name.endsWith('.sock')) continue;
      const full = p.join(dir, name);
      const mtime = r.fs.mtimeMs(full);
      if (mtime !== undefined) found.push({ path: full, mtime });
    }
  }
  const legacy = p.join(r.home, '.lingma', 'lingma.sock');
  const m = r.fs.mtimeMs(legacy);
  if (m !== undefined && !found.some((f) => f.path === legacy)) found.push({ path: legacy, mtime: m });
  return found.sort((a, b) => b.mtime - a.mtime).map((f) => f.path);
}

/** `\\.\pipe\lingma-*` / `qodercn-*`: the last in sort order. */
function pipeCandidate(r: Resolved): string | undefined {
  const names = r.listPipes().filter((n) => /^(lingma|qodercn)-/i.test(n)).sort();
  const last = names[names.length - 1];
  return last ? `${PIPE_PREFIX}${last}` : undefined;
}

/**
 * Look for a running runtime. Order: `LINGMA_PROXY_WS_URL`, `LINGMA_IPC_SOCKET` /
 * `LINGMA_IPC_PIPE`, `LINGMA_SHARED_CLIENT_INFO`, the info files (the newest live one), then
 * Unix sockets (newest) or Windows pipes (last in sort order).
 */
export function discoverAttach(o: DiscoverOptions = {}): DiscoverResult {
  const r = resolve(o);
  const skipped: string[] = [];
  const env = r.env;

  const envUrl = env.LINGMA_PROXY_WS_URL?.trim();
  if (envUrl) {
    try {
      const app = appOf(envUrl);
      return { target: { app, appName: appName(app), wsUrl: loopbackWsUrl(envUrl), source: 'LINGMA_PROXY_WS_URL' }, skipped };
    } catch (e) {
      skipped.push(`LINGMA_PROXY_WS_URL: ${(e as Error).message}`);
    }
  }
  for (const name of ['LINGMA_IPC_SOCKET', 'LINGMA_IPC_PIPE'] as const) {
    const v = env[name]?.trim();
    if (!v) continue;
    try {
      const app = appOf(v);
      return { target: { app, appName: appName(app), ipcPath: checkIpcPath(v, r.platform), source: name }, skipped };
    } catch (e) {
      skipped.push(`${name}: ${(e as Error).message}`);
    }
  }
  const envInfo = env.LINGMA_SHARED_CLIENT_INFO?.trim();
  if (envInfo) {
    try {
      return { target: readInfoFile(envInfo, r), skipped };
    } catch (e) {
      skipped.push(`LINGMA_SHARED_CLIENT_INFO ${envInfo}: ${(e as Error).message}`);
    }
  }

  const live: Array<{ target: AttachTarget; mtime: number }> = [];
  for (const file of infoFileCandidates(r)) {
    const mtime = r.fs.mtimeMs(file);
    if (mtime === undefined) continue;
    try {
      live.push({ target: readInfoFile(file, r), mtime });
    } catch (e) {
      skipped.push(`${file}: ${(e as Error).message}`);
    }
  }
  if (live.length) return { target: live.sort((a, b) => b.mtime - a.mtime)[0].target, skipped };

  if (r.platform === 'win32') {
    const pipe = pipeCandidate(r);
    if (pipe) {
      const app = appOf(pipe);
      return { target: { app, appName: appName(app), ipcPath: pipe, source: pipe }, skipped };
    }
  } else {
    const sock = socketCandidates(r)[0];
    if (sock) {
      const app = appOf(sock);
      return { target: { app, appName: appName(app), ipcPath: sock, source: sock }, skipped };
    }
  }
  return { skipped };
}

/** Same runtime, same way in: nothing to reconnect. */
export function sameTarget(a: AttachTarget | undefined, b: AttachTarget | undefined): boolean {
  if (!a || !b) return a === b;
  return a.wsUrl === b.wsUrl && a.ipcPath === b.ipcPath && a.pid === b.pid && a.app === b.app;
}
