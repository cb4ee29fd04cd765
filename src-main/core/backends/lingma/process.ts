/**
 * One Lingma process: free ports, spawn through the injected ProcessSpawner, readiness polling,
 * graceful stop, and the pid registry that lets the next start kill orphans of a killed gateway.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { dirname, isAbsolute, resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { childEnv } from '../../child-env';
import type { ProcessSpawner, SpawnOptions } from '../../ports';
import { redactSecrets } from '../../redact';
import { isStrictlyInside } from '../../safe-path';
import { writeFileAtomicSync } from '../../fs-atomic';

/** A free loopback port: bind 0, read it, release it (spec §2). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not read a free port'))));
    });
  });
}

/**
 * True when another program holds `port` on 127.0.0.1 now. Free ports are picked before the
 * child binds them (`freePorts`), so a busy machine can hand one to someone else in between (an
 * outgoing connection's local port comes from the same range).
 */
export function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE'));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

/** Two distinct free ports. */
export async function freePorts(): Promise<[number, number]> {
  const a = await freePort();
  let b = await freePort();
  for (let i = 0; b === a && i < 5; i++) b = await freePort();
  return [a, b];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LingmaProcess {
  readonly pid: number | undefined;
  readonly exited: Promise<ExitInfo>;
  readonly hasExited: boolean;
  /** SIGINT, then SIGKILL after `graceMs` (outright kill on Windows). Resolves once it exited. */
  stop(graceMs: number): Promise<void>;
}

export interface SpawnLingmaOptions {
  spawner: ProcessSpawner;
  binary: string;
  workDir: string;
  socketPort: number;
  httpPort: number;
  extraArgs: string[];
  /** The environment to filter for the child (`childEnv`): default `process.env`. */
  env?: NodeJS.ProcessEnv;
  log: Logger;
  platform?: NodeJS.Platform;
}

/** A line of the binary's output that deserves a warning. */
export const LOOKS_LIKE_ERROR = /error|fatal|panic|exception/i;

export function spawnLingma(o: SpawnLingmaOptions): LingmaProcess {
  // SECURITY: the work dir holds the account's login tokens: 0700, also when an older run made it 0755.
  mkdirSync(o.workDir, { recursive: true, mode: 0o700 });
  if ((o.platform ?? process.platform) !== 'win32') {
    for (const d of [dirname(o.workDir), o.workDir]) tighten(d);
  }
  const args = ['start', `--workDir=${o.workDir}`, `--socketPort=${o.socketPort}`, `--httpPort=${o.httpPort}`, ...o.extraArgs];
  // No console window on Windows (spec §2). SECURITY: a filtered environment: LINGMA_ACCOUNTS
  // (every password), RELAY_API_KEYS and the rest of ours never reach the runtime.
  const options: SpawnOptions = { cwd: o.workDir, env: childEnv(o.env ?? process.env), windowsHide: true };
  const child: ChildProcess = o.spawner.spawn(o.binary, args, options);
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    const done = (info: ExitInfo) => {
      if (exitInfo) return;
      exitInfo = info;
      resolve(info);
    };
    child.once('exit', (code, signal) => done({ code, signal }));
    child.once('error', (err) => {
      o.log.warn({ err: err.message }, 'lingma process could not start');
      done({ code: -1, signal: null });
    });
  });
  // The binary's own output: stdout at debug, stderr at info (it logs routine things there, e.g.
  // "listening socketPort=..."); only lines that look like errors at warn. SECURITY: outside text:
  // scrubbed (tokens, login URLs' queries, key-shaped strings) before any log or the dashboard.
  for (const [stream, name] of [
    [child.stdout, 'stdout'],
    [child.stderr, 'stderr'],
  ] as const) {
    if (!stream) continue;
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => {
      if (!line.trim()) return;
      const level = LOOKS_LIKE_ERROR.test(line) ? 'warn' : name === 'stdout' ? 'debug' : 'info';
      const clean = redactSecrets(line);
      const text = clean.length > 2000 ? `${clean.slice(0, 2000)}…` : clean;
      o.log[level]({ stream: name }, text);
    });
  }
  const win = (o.platform ?? process.platform) === 'win32';
  return {
    get pid() {
      return child.pid;
    },
    exited,
    get hasExited() {
      return exitInfo !== undefined;
    },
    async stop(graceMs: number) {
      if (exitInfo) return;
      try {
        child.kill(win ? 'SIGKILL' : 'SIGINT');
      } catch {
        /* already gone */
      }
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            child.kill('SIGKILL');
          } catch {
            /* already gone */
          }
          resolve();
        }, graceMs);
      });
      await Promise.race([exited.then(() => undefined), killed]);
      clearTimeout(timer);
      await exited;
    },
  };
}

/** chmod 0700 a folder that allows group/others any access (POSIX; errors ignored). */
export function tighten(dir: string): void {
  try {
    if ((statSync(dir).mode & 0o077) !== 0) chmodSync(dir, 0o700);
  } catch {
    /* not ours to fix, or gone */
  }
}

/**
 * Resolves once something accepts TCP connections on the port. Polls every `firstIntervalMs` (50)
 * at first, the gap growing by half each time up to `intervalMs` (250): a process that is up
 * within a few hundred ms (the simulator, a warm Lingma) is seen ~200 ms sooner, and one that
 * takes seconds costs no more than 4 refused local connects a second.
 */
export async function waitForPort(port: number, opts: { timeoutMs: number; intervalMs?: number; firstIntervalMs?: number; abort?: Promise<unknown> }): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const maxInterval = opts.intervalMs ?? 250;
  let interval = Math.min(opts.firstIntervalMs ?? 50, maxInterval);
  let aborted = false;
  void opts.abort?.then(() => (aborted = true));
  for (;;) {
    if (aborted) throw new Error('the process exited before it accepted connections');
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (aborted) throw new Error('the process exited before it accepted connections');
    if (Date.now() >= deadline) throw new Error(`no connection on port ${port} within ${opts.timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(1, deadline - Date.now()))));
    interval = Math.min(maxInterval, Math.round(interval * 1.5));
  }
}

// ---------------------------------------------------------------- orphans

interface PidEntry {
  pid: number;
  workDir: string;
  /** The gateway process that started it. */
  owner: number;
  startedAt: number;
}

/** `<dataDir>/lingma/pids.json`: which Lingma processes we started, so a later run can clean up. */
export class PidRegistry {
  private entries: Record<string, PidEntry> = {};

  constructor(
    readonly file: string,
    private readonly log: Logger,
  ) {
    try {
      const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, PidEntry>;
      if (raw && typeof raw === 'object') this.entries = raw;
    } catch {
      /* none yet, or unreadable: start empty */
    }
  }

  record(instance: string, pid: number, workDir: string): void {
    this.entries[instance] = { pid, workDir, owner: process.pid, startedAt: Date.now() };
    this.save();
  }

  remove(instance: string, pid?: number): void {
    const e = this.entries[instance];
    if (!e || (pid !== undefined && e.pid !== pid)) return;
    delete this.entries[instance];
    this.save();
  }

  /**
   * Kill processes left by an earlier gateway that did not stop them (it was killed).
   * SECURITY: pids get reused and pids.json is only a file: a pid is signalled only when its work
   * dir lies inside `<dataDir>/lingma/` (the folder of pids.json) and the process still runs the
   * Lingma `binary` with exactly `--workDir=<that dir>` on its command line. Anything else in the
   * file is dropped (with a warning when the entry itself is wrong).
   */
  async cleanupLeftovers(binary: string | undefined, graceMs = 2000): Promise<number> {
    let killed = 0;
    const lingmaDir = resolvePath(dirname(this.file));
    for (const [instance, e] of Object.entries(this.entries)) {
      // Ours, or owned by another live gateway on the same data dir: not an orphan.
      if (e && e.owner === process.pid) continue;
      if (e && isAlive(e.owner)) continue;
      delete this.entries[instance];
      if (!e || typeof e.workDir !== 'string' || !e.workDir || !isAbsolute(e.workDir) || !isStrictlyInside(lingmaDir, resolvePath(e.workDir))) {
        this.log.warn({ instance, workDir: typeof e?.workDir === 'string' ? e.workDir.slice(0, 300) : undefined }, 'pids.json: entry ignored (its work dir is empty or outside the Lingma folder)');
        continue;
      }
      if (!binary || !isAlive(e.pid) || !runsWithWorkDir(e.pid, e.workDir, binary)) continue;
      this.log.warn({ instance, pid: e.pid }, 'stopping a Lingma process left over by an earlier run');
      try {
        process.kill(e.pid, 'SIGINT');
      } catch {
        /* gone */
      }
      const deadline = Date.now() + graceMs;
      while (isAlive(e.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (isAlive(e.pid)) {
        try {
          process.kill(e.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      killed++;
    }
    this.save();
    return killed;
  }

  private save(): void {
    try {
      writeFileAtomicSync(this.file, JSON.stringify(this.entries, null, 2));
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not write the Lingma pid file');
    }
  }
}

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolvePath(p);
  }
}

/** The command line of `pid` as arguments. Linux: /proc; macOS: `ps` (one string); else undefined. */
function commandLine(pid: number): { args: string[] } | { text: string } | undefined {
  try {
    return { args: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\u0000').filter((a, i, all) => a !== '' || i < all.length - 1) };
  } catch {
    if (process.platform !== 'darwin') return undefined;
    try {
      return { text: execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 }).trim() };
    } catch {
      return undefined;
    }
  }
}

/**
 * Does `pid` run the Lingma `binary` with exactly `--workDir=<workDir>`? The executable is the
 * first argument (as we spawn it) or the process image (`/proc/<pid>/exe`). Unknown platforms: false.
 */
export function runsWithWorkDir(pid: number, workDir: string, binary: string): boolean {
  const cl = commandLine(pid);
  if (!cl) return false;
  const flag = `--workDir=${workDir}`;
  if ('text' in cl) return cl.text.startsWith(`${binary} `) && (cl.text.endsWith(` ${flag}`) || cl.text.includes(` ${flag} `));
  if (!cl.args.includes(flag)) return false;
  const bin = realOr(binary);
  if (cl.args[0] === binary || (isAbsolute(cl.args[0] ?? '') && realOr(cl.args[0]) === bin)) return true;
  try {
    return realpathSync(`/proc/${pid}/exe`) === bin;
  } catch {
    return false;
  }
}
