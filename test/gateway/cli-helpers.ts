/**
 * `npm run serve` and the launcher bin/serve.mjs as child processes, for the CLI tests
 * (cli.test.ts, cli-signals.test.ts): start one with its output captured, wait for a line, look at
 * the processes under it (Linux /proc), and kill whatever a test left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, expect } from 'vitest';
import { cleanupTempDirs } from '../helpers/tmp';
import { isAlive } from '../../src-main/core/backends/lingma/process';
import { GATEWAY_NODE_FLAGS } from '../../bin/serve-flags.mjs';

export const root = join(__dirname, '..', '..');
const children: ChildProcess[] = [];
/** Pids started outside the test's process groups (the gateway's Lingma children have their own). */
export const strays: number[] = [];

/** Registers, in the calling test file, the kill of every child and stray left by a test. */
export function killLeftoversAfterEach(): void {
  afterEach(killLeftovers);
  afterAll(cleanupTempDirs);
}

function killLeftovers(): void {
  for (const pid of strays.splice(0)) {
    try {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL');
      } catch {
        c.kill('SIGKILL');
      }
    }
  }
}

export interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every process holding the pipes (npm and the gateway under it) has closed them: the output is complete. */
  closed: Promise<void>;
  line: Promise<string>;
  /** Resolves when `text` appears on the stream (checked on every chunk); rejects if the pipes close first. */
  printed(stream: 'stdout' | 'stderr', text: string): Promise<void>;
}

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const child = spawn(cmd, args, {
    cwd: root,
    env: { ...process.env, RELAY_CONFIG: '', RELAY_DATA_DIR: '', RELAY_API_KEYS: '', LINGMA_ACCOUNTS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group, like a terminal session
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  const line = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: string) => {
      out += c;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.on('exit', () => reject(new Error(`exited before printing a line; stderr: ${err.slice(-2000)}`)));
  });
  line.catch(() => undefined);
  child.stderr!.on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const printed = (stream: 'stdout' | 'stderr', text: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const has = (): boolean => (stream === 'stdout' ? out : err).includes(text);
      if (has()) return resolve();
      const onData = (): void => {
        if (!has()) return;
        child[stream]!.off('data', onData);
        resolve();
      };
      // Listeners run in order: the accumulating one above was added first.
      child[stream]!.on('data', onData);
      void closed.then(() => (has() ? resolve() : reject(new Error(`the process closed its ${stream} without printing ${JSON.stringify(text)}`))));
    });
  return { child, stdout: () => out, stderr: () => err, exited, closed, line, printed };
}

// The launcher npm runs, without npm: the compiled gateway (built once, shared by these tests).
export const serveDirect = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, ['bin/serve.mjs', ...args], env);


/** The parent pid of a running process (Linux). */
export function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
export const argvOf = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);

/** The gateway process: node with the gateway's V8 flags running the compiled bundle, no TypeScript loader (Linux). */
export function expectGatewayProcess(gateway: number): void {
  const argv = argvOf(gateway);
  expect(argv[0]).toBe(process.execPath);
  expect(argv.slice(1, 1 + GATEWAY_NODE_FLAGS.length)).toEqual([...GATEWAY_NODE_FLAGS]);
  expect(GATEWAY_NODE_FLAGS).toContain('--max-semi-space-size=2');
  expect(GATEWAY_NODE_FLAGS).toContain('--heap-growing-percent=50');
  expect(argv[1 + GATEWAY_NODE_FLAGS.length]).toMatch(/dist[\\/]cli[\\/]serve\.mjs$/);
  expect(argv.join(' ')).not.toMatch(/tsx/);
}

export async function until<T>(fn: () => T, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `pid` still runs. An exited process whose parent died (npm, killed) stays a zombie until init
 * gets round to reaping it, a second or two here: it holds no port, no file, no child, so it
 * counts as gone (Linux; elsewhere any pid that answers counts as running).
 */
export function running(pid: number): boolean {
  if (!isAlive(pid)) return false;
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false; // gone between the two looks
  }
}

