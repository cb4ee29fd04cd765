/**
 * A private redis-server for a test: a free loopback port, a temporary folder, no persistence;
 * `stop()` ends it and removes the folder. `redisServerPath()` is undefined when redis-server is
 * not installed (tests skip with a message saying so; `.ci/run` installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function redisServerPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

export const NO_REDIS = 'redis-server is not installed (apt-get install redis-server; .ci/run does it): team-mode tests skipped';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const bin = redisServerPath();
  if (!bin) throw new Error(NO_REDIS);
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'relay-redis-'));
    const port = await freePort();
    const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ok = await new Promise<boolean>((resolve) => {
      let out = '';
      const onData = (b: Buffer) => {
        out += b.toString();
        if (out.includes('Ready to accept connections')) resolve(true);
      };
      child.stdout!.on('data', onData);
      child.once('exit', () => resolve(false));
    });
    if (ok) {
      child.stdout!.resume();
      child.stderr!.resume();
      return { url: `redis://127.0.0.1:${port}`, port, stop: () => stopChild(child, dir) };
    }
    rmSync(dir, { recursive: true, force: true });
    if (attempt >= 3) throw new Error(`redis-server did not start on 127.0.0.1:${port}`);
  }
}

function stopChild(child: ChildProcess, dir: string): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      rmSync(dir, { recursive: true, force: true });
      resolve();
    };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    child.kill('SIGTERM');
  });
}
