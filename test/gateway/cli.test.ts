/**
 * `npm run serve` as a child process: the listening line, first-run secrets once, config errors,
 * signals; the launcher bin/serve.mjs and the gateway process it starts (flags, signals passed on,
 * exit code, lifetime).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { startFakeOpenAI } from '../fakes/openai-upstream';
import { isAlive } from '../../src-main/core/backends/lingma/process';
import { GATEWAY_NODE_FLAGS, gatewayNodeFlags } from '../../bin/serve-flags.mjs';

const root = join(__dirname, '..', '..');
const SIM_BIN = join(root, 'test', 'sim', 'Lingma');
const children: ChildProcess[] = [];
/** Pids started outside the test's process groups (the gateway's Lingma children have their own). */
const strays: number[] = [];

afterEach(() => {
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
});
afterAll(cleanupTempDirs);

interface Run {
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
const serveDirect = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, ['bin/serve.mjs', ...args], env);

describe('serve CLI', () => {
  it('prints the listening line, first-run secrets once, and stops with 0 on SIGTERM', async () => {
    const dataDir = join(tempDir(), 'data');
    const a = serveDirect(['--port', '0', '--data-dir', dataDir]);
    const line = await a.line;
    expect(line).toMatch(/^relay listening on http:\/\/127\.0\.0\.1:\d+$/);
    const url = line.slice('relay listening on '.length);
    // wait for the whole first-run block
    await a.printed('stdout', 'admin token');
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
    b.child.kill('SIGINT');
    expect((await b.exited).code).toBe(0);
    await b.closed;
    expect(b.stdout().trim().split('\n')).toHaveLength(1); // no secrets on later runs (its whole output)
  });

  it('exits 2 with a message naming the bad key (the gateway\'s exit code, through the launcher)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'relay.yaml'), 'limits:\n  maxInFlight: lots\nserver:\n  hots: x\n');
    // Two separate starts, side by side.
    const r = serveDirect(['--config', join(dir, 'relay.yaml'), '--data-dir', join(dir, 'data')]);
    const f = serveDirect(['--prot', '1']);
    expect((await r.exited).code).toBe(2);
    expect(r.stderr()).toContain('limits.maxInFlight: expected an integer >= 1, got "lots"');
    expect(r.stderr()).toContain('server.hots: unknown key');
    expect(r.stdout()).toBe('');
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
    // The reload is logged once it took effect.
    await r.printed('stderr', 'SIGHUP: aliases reloaded');
    expect(await names()).toEqual(['second']);
    r.child.kill('SIGTERM');
    expect((await r.exited).code).toBe(0);
  });

  it('works as `npm run serve`, and a process-group SIGTERM stops it gracefully', async () => {
    const dataDir = join(tempDir(), 'data');
    const r = run('npm', ['run', '-s', 'serve', '--', '--port', '0', '--data-dir', dataDir], { RELAY_API_KEYS: 'sk-relay-from-env-0001' });
    const line = await r.line;
    expect(line).toMatch(/^relay listening on http:\/\/127\.0\.0\.1:\d+$/);
    process.kill(-r.child.pid!, 'SIGTERM');
    await r.exited;
    // The gateway closes the pipes last: then its output is complete. It finished its graceful
    // stop (npm reports the signal on its own behalf) and never printed a key: one was configured
    // via RELAY_API_KEYS.
    await r.closed;
    expect(r.stderr()).toContain('"msg":"stopped"');
    expect(r.stdout()).not.toContain('generated API key');
  });
});

/** The parent pid of a running process (Linux). */
function ppidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
const argvOf = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);

/** The gateway process: node with the gateway's V8 flags running the compiled bundle, no TypeScript loader (Linux). */
function expectGatewayProcess(gateway: number): void {
  const argv = argvOf(gateway);
  expect(argv[0]).toBe(process.execPath);
  expect(argv.slice(1, 1 + GATEWAY_NODE_FLAGS.length)).toEqual([...GATEWAY_NODE_FLAGS]);
  expect(GATEWAY_NODE_FLAGS).toContain('--max-semi-space-size=2');
  expect(GATEWAY_NODE_FLAGS).toContain('--heap-growing-percent=50');
  expect(argv[1 + GATEWAY_NODE_FLAGS.length]).toMatch(/dist[\\/]cli[\\/]serve\.mjs$/);
  expect(argv.join(' ')).not.toMatch(/tsx/);
}

async function until<T>(fn: () => T, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
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
function running(pid: number): boolean {
  if (!isAlive(pid)) return false;
  if (process.platform !== 'linux') return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false; // gone between the two looks
  }
}

describe('`npm run serve` and signals sent to the npm process only', () => {
  /** npm in its own process group (like a service manager's child), with a Lingma simulator instance. */
  async function startUnderNpm() {
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    writeFileSync(
      join(dir, 'relay.yaml'),
      `server:\n  apiKeys: [sk-relay-npm-signal-0001]\nlingma:\n  binary: ${JSON.stringify(SIM_BIN)}\n  login: { auto: false }\n`,
    );
    const r = run('npm', ['run', '-s', 'serve', '--', '--port', '0', '--data-dir', dataDir, '--config', join(dir, 'relay.yaml')], { LINGMA_BIN: '' });
    expect(await r.line).toMatch(/^relay listening on http:\/\/127\.0\.0\.1:\d+$/);
    const pidFile = join(dataDir, 'relay.pid');
    const gateway = Number(readFileSync(pidFile, 'utf8').trim());
    expect(gateway).toBeGreaterThan(0);
    expect(gateway).not.toBe(r.child.pid); // npm is not the gateway
    // npm -> (npm's `sh -c`, unless the shell execs) -> the launcher bin/serve.mjs -> the gateway.
    let shell: number | undefined;
    if (process.platform === 'linux') {
      const launcher = ppidOf(gateway);
      expect(argvOf(launcher)[1]).toMatch(/bin[\\/]serve\.mjs$/);
      if (ppidOf(launcher) !== r.child.pid) {
        shell = ppidOf(launcher);
        expect(ppidOf(shell)).toBe(r.child.pid);
        expect(argvOf(shell).slice(0, 2)).toEqual([expect.stringMatching(/sh$/), '-c']);
      }
      expectGatewayProcess(gateway);
    }
    await r.printed('stderr', `"pidFile":${JSON.stringify(pidFile)}`); // logged
    const sim = await until(() => {
      try {
        const entries = JSON.parse(readFileSync(join(dataDir, 'lingma', 'pids.json'), 'utf8')) as Record<string, { pid: number }>;
        return Object.values(entries)[0]?.pid;
      } catch {
        return undefined;
      }
    }, 'the Lingma simulator to start');
    strays.push(gateway, sim);
    return { r, dataDir, pidFile, gateway, sim, shell };
  }

  // SIGINT goes to the process group, as Ctrl-C sends it: sent to npm alone it reaches npm's
  // `sh -c` only, and dash waits for its child on SIGINT without passing it on (README "serve").
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const toGroup = signal === 'SIGINT';
    it(`${signal} to ${toGroup ? "npm's process group (Ctrl-C)" : 'npm'}: the gateway stops gracefully, npm exits, nothing is left running`, async () => {
      const { r, pidFile, gateway, sim, shell } = await startUnderNpm();
      if (signal === 'SIGTERM') {
        // SIGHUP to the gateway's pid (from relay.pid) reloads the aliases and keeps it running.
        process.kill(gateway, 'SIGHUP');
        await r.printed('stderr', 'SIGHUP: aliases reloaded');
        expect(isAlive(gateway)).toBe(true);
      }
      process.kill(toGroup ? -r.child.pid! : r.child.pid!, signal);
      // npm passes the signal to its child. The launcher itself (no shell in between): it passes
      // it on, the gateway stops, npm exits 0 after it. npm's `sh -c` (dash): the shell ends by
      // the signal (SIGTERM: at once, and the launcher sees its shell gone; SIGINT: once the
      // launcher has exited 0) and npm ends by the same signal; the gateway stops gracefully.
      const ended = await r.exited;
      if (shell !== undefined) expect(ended).toEqual({ code: null, signal });
      else if (toGroup) expect([JSON.stringify({ code: 0, signal: null }), JSON.stringify({ code: null, signal })]).toContain(JSON.stringify(ended));
      else expect(ended).toEqual({ code: 0, signal: null });
      await r.printed('stderr', '"msg":"stopped"');
      expect(r.stderr()).toContain('"msg":"stopping: finishing in-flight requests"');
      await until(() => !running(gateway) && !running(sim), 'the gateway and the simulator to be gone', 10_000);
      expect(existsSync(pidFile)).toBe(false);
    }, 60_000);
  }

  for (const signal of ['SIGHUP', 'SIGKILL'] as const) {
    it(`${signal} kills npm: the gateway notices its launcher is gone and stops gracefully`, async () => {
      const { r, pidFile, gateway, sim } = await startUnderNpm();
      process.kill(r.child.pid!, signal);
      expect((await r.exited).signal).toBe(signal); // npm itself does not survive this one
      await r.printed('stderr', '"msg":"stopped"');
      expect(r.stderr()).toContain('the process that started the relay is gone');
      await until(() => !running(gateway) && !running(sim), 'the gateway and the simulator to be gone', 10_000);
      expect(existsSync(pidFile)).toBe(false);
    }, 60_000);
  }
});

describe('the launcher bin/serve.mjs and its gateway process', () => {
  const KEY = 'sk-relay-launcher-test-0001';

  /** The launcher (serveDirect) with an answering upstream; the ledger writes nothing before the stop. */
  async function startLauncher() {
    const up = await startFakeOpenAI({ models: ['m1'] });
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    writeFileSync(
      join(dir, 'relay.json'),
      JSON.stringify({
        server: { apiKeys: [KEY] },
        providers: [{ name: 'up', type: 'openai', baseUrl: up.url, models: ['m1'] }],
        ledger: { flushIntervalMs: 3_600_000, batchSize: 100_000 },
        lingma: { attach: 'off' },
      }),
    );
    const r = serveDirect(['--config', join(dir, 'relay.json'), '--data-dir', dataDir, '--port', '0']);
    const url = (await r.line).slice('relay listening on '.length);
    const pidFile = join(dataDir, 'relay.pid');
    const gateway = Number(readFileSync(pidFile, 'utf8').trim());
    strays.push(gateway);
    // relay.pid names the gateway, a child of the launcher.
    expect(gateway).toBeGreaterThan(0);
    expect(gateway).not.toBe(r.child.pid);
    if (process.platform === 'linux') expect(ppidOf(gateway)).toBe(r.child.pid);
    return { r, up, url, dataDir, pidFile, gateway };
  }

  it('SIGTERM to the launcher: the gateway (node --max-semi-space-size=2, the bundle) stops gracefully, exit 0, every ledger row kept', async () => {
    const { r, up, url, dataDir, pidFile, gateway } = await startLauncher();
    try {
      if (process.platform === 'linux') expectGatewayProcess(gateway);
      const N = 5;
      for (let i = 0; i < N; i++) {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'up/m1', messages: [{ role: 'user', content: `hello ${i}` }] }),
        });
        expect(res.status).toBe(200);
        await res.text();
      }
      r.child.kill('SIGTERM');
      expect(await r.exited).toEqual({ code: 0, signal: null });
      await r.closed;
      expect(r.stderr()).toContain('"signal":"SIGTERM","msg":"stopping: finishing in-flight requests"');
      expect(r.stderr()).toContain('"msg":"stopped"');
      expect(running(gateway)).toBe(false);
      expect(existsSync(pidFile)).toBe(false);
      // Written only by the stop's final flush (the batch is held back by the config).
      const db = new Database(join(dataDir, 'usage.db'), { readonly: true });
      try {
        expect((db.prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n).toBe(N);
      } finally {
        db.close();
      }
    } finally {
      await up.close();
    }
  }, 60_000);

  it('SIGKILL of the launcher: the gateway notices at once and stops gracefully', async () => {
    const { r, up, pidFile, gateway } = await startLauncher();
    try {
      r.child.kill('SIGKILL');
      expect((await r.exited).signal).toBe('SIGKILL');
      await r.printed('stderr', '"msg":"stopped"'); // the gateway still holds the pipes
      expect(r.stderr()).toContain('the process that started the relay is gone');
      await until(() => !running(gateway), 'the gateway to be gone', 5_000);
      expect(existsSync(pidFile)).toBe(false);
    } finally {
      await up.close();
    }
  }, 60_000);

  it('the gateway killed by a signal: the launcher ends by the same signal', async () => {
    const { r, up, gateway } = await startLauncher();
    try {
      process.kill(gateway, 'SIGKILL');
      expect(await r.exited).toEqual({ code: null, signal: 'SIGKILL' });
    } finally {
      await up.close();
    }
  }, 60_000);

  it('V8 flags: NODE_OPTIONS applies to the gateway and overrides a flag of the same name', () => {
    expect(gatewayNodeFlags(undefined)).toEqual([...GATEWAY_NODE_FLAGS]);
    expect(gatewayNodeFlags('--no-deprecation --max-old-space-size=512')).toEqual([...GATEWAY_NODE_FLAGS]);
    expect(gatewayNodeFlags('--max-semi-space-size=16')).toEqual(GATEWAY_NODE_FLAGS.filter((f) => !f.startsWith('--max-semi-space-size')));
    expect(gatewayNodeFlags('--max_semi_space_size=16')).not.toContain('--max-semi-space-size=2');
  });
});

describe('preserve: the dashboard is built when missing', () => {
  const ensure = (out: string, script = join(root, 'test', 'tools', 'ensure-renderer.mjs')) =>
    spawnSync(process.execPath, [script], {
      cwd: root,
      env: { ...process.env, RELAY_RENDERER_OUT: out },
      encoding: 'utf8',
      timeout: 300_000,
    });

  // A tiny project around the same script and the real Vite: what is tested is the script (build
  // when missing, one line, then nothing; a failed build does not fail the start), not the
  // dashboard, which `npm test` builds anyway (build:renderer). ~1 s instead of ~25 s here.
  const tinyProject = (viteConfig: string, page?: string): string => {
    const project = tempDir();
    mkdirSync(join(project, 'test', 'tools'), { recursive: true });
    cpSync(join(root, 'test', 'tools', 'ensure-renderer.mjs'), join(project, 'test', 'tools', 'ensure-renderer.mjs'));
    writeFileSync(join(project, 'package.json'), '{ "private": true, "type": "module" }\n');
    mkdirSync(join(project, 'node_modules'));
    symlinkSync(dirname(createRequire(join(root, 'package.json')).resolve('vite/package.json')), join(project, 'node_modules', 'vite'), 'junction');
    writeFileSync(join(project, 'vite.config.mjs'), viteConfig);
    if (page) writeFileSync(join(project, 'index.html'), page);
    return project;
  };

  it('builds once with one line on stderr, then does nothing; a failed build does not fail the start', () => {
    const ok = tinyProject("export default { base: './' };\n", '<!doctype html><html><body><p>relay</p><script type="module">document.body.dataset.ok = "1";</script></body></html>\n');
    const script = join(ok, 'test', 'tools', 'ensure-renderer.mjs');
    const out = join(tempDir(), 'renderer');
    const first = ensure(out, script);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe(''); // stdout of `npm run serve` is the listening line only
    expect(first.stderr.trim().split('\n')).toHaveLength(1);
    expect(first.stderr).toContain('building it once');
    expect(existsSync(join(out, 'index.html'))).toBe(true);

    const again = ensure(out, script);
    expect(again.status).toBe(0);
    expect(again.stdout + again.stderr).toBe('');

    // A failing build: Vite (the real one) fails at once on a broken config, rather than after a
    // whole build as with an unwritable output folder.
    const project = tinyProject("throw new Error('this Vite config is broken on purpose');\n");
    const failed = ensure(join(project, 'dist', 'renderer'), join(project, 'test', 'tools', 'ensure-renderer.mjs'));
    expect(failed.status).toBe(0);
    expect(failed.stdout).toBe('');
    expect(failed.stderr).toContain('broken on purpose'); // Vite did run, and failed
    expect(failed.stderr).toMatch(/dashboard build failed \(.+\); starting without it/);
  }, 300_000);
});
