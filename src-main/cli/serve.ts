/**
 * `npm run serve -- [flags]`: the gateway headless, no Electron.
 * Piped (stdout not a terminal), stdout gets exactly one line, `relay listening on http://HOST:PORT`
 * (plus, on first run only, the generated API key and admin token), and logs are JSON lines on
 * stderr. In a terminal a person reads it: one readable line per event (`pretty-log.ts`), then
 * the endpoint, key hint, dashboard and next steps (`start-summary.ts`). RELAY_LOG_FORMAT forces one.
 * SIGTERM/SIGINT: graceful stop, exit 0. SIGHUP: reload the aliases. The pid is kept in
 * `<data dir>/relay.pid` while running (`kill -HUP $(cat relay.pid)`). Started by the launcher
 * bin/serve.mjs (which `npm run serve` runs; it passes its pid in RELAY_LAUNCHER_PID), it stops
 * gracefully when the launcher goes away; run directly, the same with RELAY_EXIT_WITH_PARENT=1
 * (or under npm) for the process that started it.
 * `npm run serve -- configure <client> ...` writes a client's settings instead (cli/configure.ts).
 */
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, parseServeArgs, SERVE_USAGE } from '../core/config/load';
import { ensureDataDir } from '../core/config/datadir';
import { createLogger } from '../core/gateway/logging';
import { EventHub } from '../core/events';
import { wantsLingma } from '../core/backends/lingma/kind';
import { createCore, type Relay } from '../core/relay';
import { isAlive } from '../core/backends/lingma/process';
import type { LoginDriver } from '../core/ports';
import { runConfigure } from './configure';
import { nothingConfigured } from '../core/backends/discovery';
import { FileSecretStore } from './file-secrets';
import { loginProfilesDir } from './login-browser';
import { colorWanted, prettyDestination, wantsHumanOutput } from './pretty-log';
import { startLines } from './start-summary';
import { startIdleCollector } from './idle-gc';

const here = dirname(fileURLToPath(import.meta.url));

function packageVersion(): string | undefined {
  for (const p of [join(here, '..', '..', 'package.json'), join(process.cwd(), 'package.json')]) {
    try {
      const v = JSON.parse(readFileSync(p, 'utf8')).version;
      if (typeof v === 'string') return v;
    } catch {
      /* try the next */
    }
  }
  return undefined;
}

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

async function loginDriverFor(relayLog: import('pino').Logger, browser: string, dataDir: string): Promise<LoginDriver | undefined> {
  // The headless login driver (playwright-core + a system Chromium), loaded only when Lingma runs.
  try {
    const mod = await import('./playwright-login');
    return mod.createPlaywrightLoginDriver({ executablePath: browser, log: relayLog.child({ module: 'login' }), profilesDir: loginProfilesDir(dataDir) });
  } catch (e) {
    relayLog.warn({ err: (e as Error).message }, 'headless login driver unavailable; logins must be completed by hand');
    return undefined;
  }
}

async function main(): Promise<void> {
  // The launcher: named by bin/serve.mjs, else our parent, noted before the slow part of the
  // start. If it dies meanwhile, the watch below sees it on its first look instead of adopting the
  // new parent as its launcher.
  const named = launcherPid(process.env);
  const launcher = named ?? process.ppid;
  // A reader that went away (`... | head`) must not crash the gateway.
  process.stdout.on('error', () => undefined);
  if (process.argv[2] === 'configure') {
    process.exitCode = await runConfigure(process.argv.slice(3));
    return;
  }
  let flags;
  try {
    flags = parseServeArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) fail(`${e.message}\n\n${SERVE_USAGE}`, 2);
    throw e;
  }
  if (flags.help) {
    process.stdout.write(`${SERVE_USAGE}\n`);
    return;
  }
  let loaded;
  try {
    loaded = loadConfig({ flags });
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 2);
    throw e;
  }
  const { config, dataDir } = loaded;
  let tightened: number | undefined;
  try {
    ensureDataDir(dataDir, { onTightened: (mode) => (tightened = mode) });
  } catch (e) {
    fail(`Cannot use the data dir ${dataDir}: ${(e as Error).message}`, 2);
  }

  const hub = new EventHub();
  const human = wantsHumanOutput(process.stdout.isTTY, process.stderr.isTTY, process.env);
  const log = createLogger({
    level: config.server.logLevel,
    hub,
    destination: human ? prettyDestination(process.stderr, { color: colorWanted(process.env) }) : undefined,
  });
  if (tightened !== undefined) log.info({ dataDir, was: tightened.toString(8), now: '700' }, 'data dir permissions tightened to owner-only');
  const loginDriver =
    config.lingma.login.auto && wantsLingma(config, dataDir) ? await loginDriverFor(log, config.lingma.login.browser, dataDir) : undefined;

  let relay: Relay;
  try {
    // The dashboard next to this file's package, from src-main/cli/ (sources) and dist/cli/ (bundle) alike.
    const rendererDir = join(here, '..', '..', 'dist', 'renderer');
    relay = await createCore({ config, dataDir, secrets: new FileSecretStore(dataDir), loginDriver, logger: log, hub, version: packageVersion(), rendererDir, discover: flags.discover });
  } catch (e) {
    fail(`Cannot start: ${(e as Error).message}`, 2);
  }

  let url: string;
  try {
    await relay.start();
    url = await relay.listen({ host: config.server.host, port: config.server.port });
  } catch (e) {
    await relay.stop().catch(() => undefined);
    fail(`Cannot start: ${(e as Error).message}`, 1);
  }
  const pidFile = writePidFile(dataDir, log);
  log.info({ url, dataDir, config: loaded.configPath ?? null, providers: relay.providers.map((p) => p.name), pid: process.pid, pidFile: pidFile ?? null }, 'relay listening');
  let out = `relay listening on ${url}\n`;
  // SECURITY: shown once, on the run that generated them; afterwards they live only in 0600 files.
  if (relay.firstRun.apiKey) out += `first run: generated API key ${relay.firstRun.apiKey} (kept in ${join(dataDir, 'api-key')})\n`;
  if (relay.firstRun.adminToken) out += `first run: generated admin token ${relay.firstRun.adminToken} (kept in ${join(dataDir, 'admin-token')}); dashboard: ${url}/ui/\n`;
  if (human) {
    const lines = startLines({
      url,
      dataDir,
      apiKey: relay.keys.primaryKey(),
      firstRun: relay.firstRun,
      providers: relay.providers.map((p) => p.name),
      accountsEditable: relay.providers.some((p) => p.kind === 'lingma'),
      nothingConfigured: nothingConfigured(config, existsSync(join(dataDir, 'accounts.json'))),
      discovery: relay.discovery.view(),
    });
    out = `${lines.join('\n')}\n`;
  }

  let stoppingAt = 0;
  const shutdown = (signal: string) => {
    if (stoppingAt) {
      // A process-group signal often arrives more than once (terminal, npm, the launcher each
      // pass it on): only a deliberate second signal, a moment later, cuts the graceful stop short.
      if (Date.now() - stoppingAt < 1000) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stoppingAt = Date.now();
    parentWatch?.stop();
    idleGc.stop();
    log.info({ signal }, 'stopping: finishing in-flight requests');
    relay
      .stop()
      .then(() => {
        removePidFile(pidFile);
        log.info('stopped');
        process.exit(0);
      })
      .catch((e) => {
        removePidFile(pidFile);
        log.error({ err: (e as Error).message }, 'stop failed');
        process.exit(1);
      });
  };
  process.on('exit', () => removePidFile(pidFile));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const parentWatch = named !== undefined || exitWithParent(process.env)
    ? watchParent(launcher, () => {
        log.warn({ parent: parentWatch?.parent }, 'the process that started the relay is gone; stopping');
        shutdown('parent exited');
      })
    : undefined;
  if (process.platform !== 'win32') {
    process.on('SIGHUP', () => {
      const outcome = relay.reloadAliases();
      log.info({ ok: outcome?.ok, aliases: outcome?.aliases, error: outcome?.error }, 'SIGHUP: aliases reloaded');
    });
  }
  // Dead objects of a busy spell are collected once the gateway goes quiet (./idle-gc.ts).
  const idleGc = startIdleCollector();
  // Announced only once the signals are handled: a launcher may signal as soon as it reads this.
  process.stdout.write(out);
}

/**
 * The pid bin/serve.mjs passes in RELAY_LAUNCHER_PID, taken out of the environment so that the
 * processes the gateway starts do not inherit it. Its launcher's lifetime is always followed: the
 * launcher is what passes signals on and reports the exit code, and it must not leave the gateway
 * running alone when it is killed.
 */
function launcherPid(env: NodeJS.ProcessEnv): number | undefined {
  const v = env.RELAY_LAUNCHER_PID;
  delete env.RELAY_LAUNCHER_PID;
  const pid = Number(v);
  return v && Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Run without the launcher: follow the parent's lifetime when run by npm (`npm_lifecycle_event`
 * is set) or when RELAY_EXIT_WITH_PARENT is 1/true; RELAY_EXIT_WITH_PARENT=0 turns it off. npm dies on SIGHUP or
 * SIGKILL without telling its child: the gateway must not live on, orphaned, holding the port.
 */
function exitWithParent(env: NodeJS.ProcessEnv): boolean {
  const v = env.RELAY_EXIT_WITH_PARENT?.trim().toLowerCase();
  if (v === '0' || v === 'false' || v === 'no') return false;
  if (v === '1' || v === 'true' || v === 'yes') return true;
  return !!env.npm_lifecycle_event;
}

/**
 * Poll five times a second (getppid and a signal-0 probe: next to nothing) so that a killed
 * launcher frees the port almost at once: the parent pid changed (re-parented) or no longer runs ->
 * `onGone` once.
 */
function watchParent(parent: number, onGone: () => void): { parent: number; stop(): void } {
  const timer = setInterval(() => {
    if (process.ppid !== parent || !isAlive(parent)) {
      clearInterval(timer);
      onGone();
    }
  }, 200);
  timer.unref();
  return { parent, stop: () => clearInterval(timer) };
}

/** `<dataDir>/relay.pid` with our pid (0600), so `kill -HUP $(cat relay.pid)` reaches the gateway. */
function writePidFile(dataDir: string, log: import('pino').Logger): string | undefined {
  const file = join(dataDir, 'relay.pid');
  try {
    writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
    return file;
  } catch (e) {
    log.warn({ file, err: (e as Error).message }, 'could not write the pid file');
    return undefined;
  }
}

/** Remove the pid file if it still names us (another gateway on the same data dir may own it now). */
function removePidFile(file: string | undefined): void {
  if (!file) return;
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    /* already gone */
  }
}

main().catch((e) => {
  process.stderr.write(`Fatal: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
