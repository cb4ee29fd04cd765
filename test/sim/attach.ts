/**
 * Test helpers for attaching to a running app (spec §7): start the simulator the way a user's
 * Lingma / Qoder CN app runs (its own work dir, already signed in or not, optionally on a Unix
 * socket too), and advertise it in a fake home's `SharedClientCache` the way the app does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../src-main/core/backends/lingma/process';

const SIM_BIN = fileURLToPath(new URL('./Lingma', import.meta.url));

export interface SimApp {
  pid: number;
  socketPort: number;
  httpPort: number;
  workDir: string;
  /** Unix socket path when started with `ipc: true`. */
  ipcPath?: string;
  /** Still running (signal 0). */
  alive(): boolean;
  /** `/__sim/stats`, optionally after a `/__sim/control` body. */
  sim(control?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Quit the app (test clean-up; the relay never does this). */
  kill(): Promise<void>;
}

export interface StartAppOptions {
  /** Signed in as this user (pre-written `<workDir>/cache/user`); `false`: signed out. */
  signedInAs?: string | false;
  /** Also listen on a Unix socket (`--ipcPath`). */
  ipc?: boolean;
  env?: Record<string, string>;
}

/** The sign-in record the simulator keeps in `<workDir>/cache/user`. */
function writeSignedIn(workDir: string, name: string): void {
  mkdirSync(join(workDir, 'cache'), { recursive: true });
  const id = `uid-app-${name}`;
  const rec = { id, name, accountId: `acc-${name}`, token: 'tok-app', refreshToken: 'rt-app', expireTime: Date.now() + 86_400_000, userType: 'personal_standard' };
  writeFileSync(join(workDir, 'cache', 'user'), JSON.stringify(rec));
  writeFileSync(join(workDir, 'cache', 'id'), id);
}

export async function startSimApp(opts: StartAppOptions = {}): Promise<SimApp> {
  const workDir = mkdtempSync(join(tmpdir(), 'lingma-app-'));
  if (opts.signedInAs !== false) writeSignedIn(workDir, opts.signedInAs ?? 'app-user');
  const [socketPort, httpPort] = await freePorts();
  // Unix socket paths are short (~104 bytes): keep it in the temp root.
  const ipcPath = opts.ipc ? join(workDir, 'app.sock') : undefined;
  const args = ['start', `--workDir=${workDir}`, `--socketPort=${socketPort}`, `--httpPort=${httpPort}`, ...(ipcPath ? [`--ipcPath=${ipcPath}`] : [])];
  const child: ChildProcess = spawn(SIM_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let err = '';
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('started')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the simulated app exited (${code}): ${err.slice(-500)}`)));
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const pid = child.pid!;
  const app: SimApp = {
    pid,
    socketPort,
    httpPort,
    workDir,
    ipcPath,
    alive() {
      if (child.exitCode !== null || child.signalCode !== null) return false;
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    },
    async sim(control) {
      if (control) {
        const r = await fetch(`http://127.0.0.1:${httpPort}/__sim/control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(control) });
        if (!r.ok) throw new Error(`sim control failed: ${await r.text()}`);
      }
      return (await (await fetch(`http://127.0.0.1:${httpPort}/__sim/stats`)).json()) as Record<string, unknown>;
    },
    async kill() {
      if (app.alive()) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  return app;
}

export type InfoForm = 'json' | 'legacy';

export interface AdvertiseOptions {
  /** Folder under the fake home holding `SharedClientCache` (default `.lingma`). */
  under?: string;
  form?: InfoForm;
  /** Leave the port out (IPC only). */
  noPort?: boolean;
  /** Override the advertised pid (e.g. a dead one). */
  pid?: number;
}

/** Write the app's `SharedClientCache/.info.json` (or `.info`) in `home`, atomically. */
export function advertise(home: string, app: Pick<SimApp, 'socketPort' | 'pid' | 'ipcPath'>, o: AdvertiseOptions = {}): string {
  const form = o.form ?? 'json';
  const file = join(home, o.under ?? '.lingma', 'SharedClientCache', form === 'json' ? '.info.json' : '.info');
  mkdirSync(dirname(file), { recursive: true });
  const pid = o.pid ?? app.pid;
  const port = o.noPort ? undefined : app.socketPort;
  const body =
    form === 'json'
      ? JSON.stringify({ websocketPort: port, pid, ipcServerPath: app.ipcPath ?? '' })
      : `${port ?? ''}\n${pid}\n${app.ipcPath ?? ''}\n`;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, body);
  renameSync(tmp, file);
  return file;
}

export function fakeHome(): string {
  return mkdtempSync(join(tmpdir(), 'lingma-home-'));
}
