/**
 * `npm run serve -- [flags]`: the gateway headless, no Electron.
 * stdout gets exactly one line, `relay listening on http://HOST:PORT` (plus, on first run only,
 * the generated API key and admin token). Logs are JSON lines on stderr.
 * SIGTERM/SIGINT: graceful stop, exit 0. SIGHUP: reload the aliases.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, parseServeArgs, SERVE_USAGE } from '../core/config/load';
import { ensureDataDir } from '../core/config/datadir';
import { createLogger } from '../core/gateway/logging';
import { EventHub } from '../core/events';
import { wantsLingma } from '../core/backends/registry';
import { createRelay, type Relay } from '../core/relay';
import type { LoginDriver } from '../core/ports';
import { FileSecretStore } from './file-secrets';

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

async function loginDriverFor(relayLog: import('pino').Logger, browser: string): Promise<LoginDriver | undefined> {
  // The headless login driver (playwright-core + a system Chromium), loaded only when Lingma runs.
  try {
    const mod = await import('./playwright-login');
    return mod.createPlaywrightLoginDriver({ executablePath: browser, log: relayLog.child({ module: 'login' }) });
  } catch (e) {
    relayLog.warn({ err: (e as Error).message }, 'headless login driver unavailable; logins must be completed by hand');
    return undefined;
  }
}

async function main(): Promise<void> {
  // A reader that went away (`... | head`) must not crash the gateway.
  process.stdout.on('error', () => undefined);
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
  try {
    ensureDataDir(dataDir);
  } catch (e) {
    fail(`Cannot use the data dir ${dataDir}: ${(e as Error).message}`, 2);
  }

  const hub = new EventHub();
  const log = createLogger({ level: config.server.logLevel, hub });
  const loginDriver =
    config.lingma.login.auto && wantsLingma(config, dataDir) ? await loginDriverFor(log, config.lingma.login.browser) : undefined;

  let relay: Relay;
  try {
    relay = await createRelay({ config, dataDir, secrets: new FileSecretStore(dataDir), loginDriver, logger: log, hub, version: packageVersion() });
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
  log.info({ url, dataDir, config: loaded.configPath ?? null, providers: relay.providers.map((p) => p.name) }, 'relay listening');
  let out = `relay listening on ${url}\n`;
  // SECURITY: shown once, on the run that generated them; afterwards they live only in 0600 files.
  if (relay.firstRun.apiKey) out += `first run: generated API key ${relay.firstRun.apiKey} (kept in ${join(dataDir, 'api-key')})\n`;
  if (relay.firstRun.adminToken) out += `first run: generated admin token ${relay.firstRun.adminToken} (kept in ${join(dataDir, 'admin-token')}); dashboard: ${url}/ui/\n`;
  process.stdout.write(out);

  let stoppingAt = 0;
  const shutdown = (signal: string) => {
    if (stoppingAt) {
      // A process-group signal often arrives twice (terminal/npm/tsx each pass it on): only a
      // deliberate second signal, a moment later, cuts the graceful stop short.
      if (Date.now() - stoppingAt < 1000) return;
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stoppingAt = Date.now();
    log.info({ signal }, 'stopping: finishing in-flight requests');
    relay
      .stop()
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((e) => {
        log.error({ err: (e as Error).message }, 'stop failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (process.platform !== 'win32') {
    process.on('SIGHUP', () => {
      const outcome = relay.reloadAliases();
      log.info({ ok: outcome?.ok, aliases: outcome?.aliases, error: outcome?.error }, 'SIGHUP: aliases reloaded');
    });
  }
}

main().catch((e) => {
  process.stderr.write(`Fatal: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
