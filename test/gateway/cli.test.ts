/** `npm run serve` as a child process: the listening line, first-run secrets once, config errors, signals. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const root = join(__dirname, '..', '..');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        if (c.pid) process.kill(-c.pid, 'SIGKILL');
      } catch {
        c.kill('SIGKILL');
      }
    }
  }
});
afterAll(cleanupTempDirs);

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  line: Promise<string>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
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
  return { child, stdout: () => out, stderr: () => err, exited, line };
}

const serveDirect = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, ['--import', 'tsx', 'src-main/cli/serve.ts', ...args], env);

describe('serve CLI', () => {
  it('prints the listening line, first-run secrets once, and stops with 0 on SIGTERM', async () => {
    const dataDir = join(tempDir(), 'data');
    const a = serveDirect(['--port', '0', '--data-dir', dataDir]);
    const line = await a.line;
    expect(line).toMatch(/^relay listening on http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.slice('relay listening on '.length);
    // wait for the whole first-run block
    for (let i = 0; i < 100 && !a.stdout().includes('admin token'); i++) await new Promise((r) => setTimeout(r, 20));
    const key = /generated API key (sk-relay-\w+)/.exec(a.stdout())?.[1];
    expect(key).toBeTruthy();
    expect(a.stdout()).toMatch(/generated admin token relay-admin-\w+/);
    const h = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    expect(h.status).toBe(200);
    a.child.kill('SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(a.stderr()).toContain('"msg":"stopped"');
    expect(a.stderr()).not.toContain(key!);

    const b = serveDirect(['--port', '0', '--data-dir', dataDir]);
    await b.line;
    await new Promise((r) => setTimeout(r, 200));
    expect(b.stdout().trim().split('\n')).toHaveLength(1); // no secrets on later runs
    b.child.kill('SIGINT');
    expect((await b.exited).code).toBe(0);
  });

  it('exits 2 with a message naming the bad key', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'relay.yaml'), 'limits:\n  maxInFlight: lots\nserver:\n  hots: x\n');
    const r = serveDirect(['--config', join(dir, 'relay.yaml'), '--data-dir', join(dir, 'data')]);
    expect((await r.exited).code).toBe(2);
    expect(r.stderr()).toContain('limits.maxInFlight: expected an integer >= 1, got "lots"');
    expect(r.stderr()).toContain('server.hots: unknown key');
    expect(r.stdout()).toBe('');
    const f = serveDirect(['--prot', '1']);
    expect((await f.exited).code).toBe(2);
    expect(f.stderr()).toContain('--prot: unknown flag');
  });

  it('reloads the aliases on SIGHUP', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'aliases.yaml'), 'first: up/m1\n');
    writeFileSync(
      join(dir, 'relay.yaml'),
      'server:\n  apiKeys: [sk-relay-hup-test-0001]\nproviders:\n  - { name: up, type: openai, baseUrl: "http://127.0.0.1:9/v1", models: [m1] }\naliasesFile: aliases.yaml\n',
    );
    const r = serveDirect(['--config', join(dir, 'relay.yaml'), '--data-dir', join(dir, 'data'), '--port', '0']);
    const url = (await r.line).slice('relay listening on '.length);
    const names = async () => {
      const res = await fetch(`${url}/v1/aliases`, { headers: { authorization: 'Bearer sk-relay-hup-test-0001' } });
      return ((await res.json()) as { data: Array<{ name: string }> }).data.map((a) => a.name);
    };
    expect(await names()).toContain('first');
    writeFileSync(join(dir, 'aliases.yaml'), 'second: up/m1\n');
    r.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !(await names()).includes('second'); i++) await new Promise((res) => setTimeout(res, 50));
    expect(await names()).toEqual(['second']);
    for (let i = 0; i < 100 && !r.stderr().includes('SIGHUP: aliases reloaded'); i++) await new Promise((res) => setTimeout(res, 50));
    expect(r.stderr()).toContain('SIGHUP: aliases reloaded');
    r.child.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);
  });

  it('works as `npm run serve`, and a process-group SIGTERM stops it gracefully', async () => {
    const dataDir = join(tempDir(), 'data');
    const r = run('npm', ['run', '-s', 'serve', '--', '--port', '0', '--data-dir', dataDir], { RELAY_API_KEYS: 'sk-relay-from-env-0001' });
    const line = await r.line;
    expect(line).toMatch(/^relay listening on http:\/\/127\.0\.0\.1:\d+$/);
    await new Promise((res) => setTimeout(res, 200));
    expect(r.stdout()).not.toContain('generated API key'); // a key was configured via RELAY_API_KEYS
    process.kill(-r.child.pid!, 'SIGTERM');
    await r.exited;
    // the gateway itself finished its graceful stop (npm reports the signal on its own behalf)
    for (let i = 0; i < 100 && !r.stderr().includes('"msg":"stopped"'); i++) await new Promise((res) => setTimeout(res, 50));
    expect(r.stderr()).toContain('"msg":"stopped"');
  });
});
