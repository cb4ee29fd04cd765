/**
 * `npm run serve` as a child process: the listening line, first-run secrets once, config errors,
 * SIGHUP; the launcher bin/serve.mjs and the gateway process it starts (flags, signals passed on,
 * exit code, lifetime); `preserve`. Signals sent to npm alone: cli-signals.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { tempDir } from '../helpers/tmp';
import { startFakeOpenAI } from '../fakes/openai-upstream';
import { GATEWAY_NODE_FLAGS, gatewayNodeFlags } from '../../bin/serve-flags.mjs';
import { expectGatewayProcess, killLeftoversAfterEach, ppidOf, root, run, running, serveDirect, strays, until } from './cli-helpers';

killLeftoversAfterEach();

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
