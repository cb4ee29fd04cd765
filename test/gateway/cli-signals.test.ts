/**
 * `npm run serve` with signals sent to the npm process (or its process group) only, as a service
 * manager or a terminal does: the gateway stops gracefully, npm exits, nothing is left running.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp';
import { isAlive } from '../../src-main/core/backends/lingma/process';
import { argvOf, expectGatewayProcess, killLeftoversAfterEach, ppidOf, root, run, running, strays, until } from './cli-helpers';

killLeftoversAfterEach();

const SIM_BIN = join(root, 'test', 'sim', 'Lingma');

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
    // The simulator is a Node script spawned after the gateway listens: on a loaded 2-core machine
    // (Chromium files running alongside) that took over 20 s once. On a timeout the gateway's log
    // tells where it stood.
    const sim = await until(() => {
      try {
        const entries = JSON.parse(readFileSync(join(dataDir, 'lingma', 'pids.json'), 'utf8')) as Record<string, { pid: number }>;
        return Object.values(entries)[0]?.pid;
      } catch {
        return undefined;
      }
    }, 'the Lingma simulator to start', 40_000).catch((e: Error) => {
      throw new Error(`${e.message}; the gateway's stderr ends with:\n${r.stderr().slice(-3000)}`);
    });
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
