/**
 * A private PostgreSQL server for a test: `initdb` into a temporary folder, `pg_ctl start` on a
 * free loopback port (trust authentication, 127.0.0.1 only, its Unix socket inside the folder);
 * `stop()` ends it and removes the folder. `halt()` / `resume()` stop and start the same server
 * (same port, same data) to play an outage. initdb refuses to run as root, so as root the
 * binaries run as the `postgres` user (runuser) on a folder handed to it.
 * `postgresBinDir()` is undefined when the binaries are not installed: tests skip with NO_POSTGRES.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis';

const run = promisify(execFile);

export const NO_POSTGRES = 'PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql): PostgreSQL ledger tests skipped';

/** The folder holding initdb, pg_ctl and postgres (symlinks resolved), or undefined. */
export function postgresBinDir(): string | undefined {
  const candidates: string[] = [];
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) candidates.push(which.stdout.trim());
  candidates.push('/usr/local/bin/initdb');
  try {
    const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin/initdb`);
  } catch { /* not there */ }
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    const dir = dirname(realpathSync(c));
    if (existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'postgres'))) return dir;
  }
  return undefined;
}

/** As root: the postgres user's uid/gid (the binaries run as it); otherwise undefined (run as we are). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error('running as root and there is no postgres user to run initdb as');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export interface TestPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust auth: no password). */
  url: string;
  port: number;
  /** A URL of a fresh, empty database on this server. */
  createDatabase(name: string): Promise<string>;
  /** Stop the server (fast shutdown), keeping its data: clients get refused until `resume()`. */
  halt(): Promise<void>;
  /** Start it again on the same port. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(NO_POSTGRES);
  const user = runAs();
  const exec = (tool: string, args: string[]) => {
    const file = join(bin, tool);
    return user ? run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: '/' }) : run(file, args, { cwd: '/' });
  };
  const dir = mkdtempSync(join(tmpdir(), 'relay-pg-'));
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  try {
    await exec('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync', '--no-instructions']);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }
  let port = 0;
  const start = async () => {
    await exec('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=60`, 'start']);
  };
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (e) {
      if (attempt >= 3) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
      }
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let running = true;
  const halt = async () => {
    if (!running) return;
    await exec('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    running = false;
  };
  return {
    url,
    port,
    async createDatabase(name) {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    halt,
    async resume() {
      if (running) return;
      await start();
      running = true;
    },
    async stop() {
      await halt().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
