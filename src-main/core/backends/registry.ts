/**
 * Backend kinds -> Providers. The only place that knows which folders exist under
 * `core/backends/`: `openai` (one provider per `providers[]` entry) and `lingma` (one provider
 * over all Lingma accounts). Routing and the pool see only the resulting `Provider`s.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { childEnv } from '../child-env';
import type { Config, ProviderConfig } from '../config/schema';
import type { EventHub } from '../events';
import type { BackendMetrics } from '../metrics-port';
import type { LoginDriver, ProcessSpawner, SecretStore } from '../ports';
import { discoverAttach } from './lingma/attach/discover';
import { createLingmaProvider } from './lingma/index';
import { createOpenAIProvider } from './openai/index';
import type { Provider } from './types';

/**
 * Node's child_process, piped stdio, no console window on Windows, a filtered environment. On Unix each child gets its own
 * process group (`detached`), so a Ctrl-C or a group signal meant for the gateway does not reach
 * the Lingma processes: the gateway stops them itself, in order (orphans of a killed gateway are
 * cleaned up at the next start through `lingma/pids.json`).
 */
export const nodeSpawner: ProcessSpawner = {
  // SECURITY: without an explicit environment a child gets the filtered one, never ours whole.
  spawn: (command, args, options) =>
    spawn(command, args, { ...options, env: options.env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, detached: process.platform !== 'win32' }),
};

/**
 * When to run the Lingma pool: `auto` = when accounts are configured (config, LINGMA_ACCOUNTS, or
 * added in the dashboard earlier) or a binary is named explicitly; `always` (the desktop app, so a
 * new user can add an account); `never`.
 */
export type LingmaMode = 'auto' | 'always' | 'never';

export interface RegistryDeps {
  config: Config;
  dataDir: string;
  secrets: SecretStore;
  log: Logger;
  hub?: EventHub;
  metrics?: BackendMetrics;
  spawner?: ProcessSpawner;
  loginDriver?: LoginDriver;
  lingma?: LingmaMode;
  env?: NodeJS.ProcessEnv;
}

export function wantsLingma(config: Config, dataDir: string, mode: LingmaMode = 'auto', env: NodeJS.ProcessEnv = process.env): boolean {
  if (mode !== 'auto') return mode === 'always';
  return (
    config.lingma.accounts.length > 0 ||
    config.lingma.binary !== 'auto' ||
    existsSync(join(dataDir, 'accounts.json')) ||
    // Zero configuration: a signed-in Lingma / Qoder CN app is already running (spec §7).
    (config.lingma.attach === 'auto' && discoverAttach({ env }).target !== undefined)
  );
}

export function createProviders(deps: RegistryDeps): Provider[] {
  const out: Provider[] = [];
  if (wantsLingma(deps.config, deps.dataDir, deps.lingma, deps.env)) {
    out.push(
      createLingmaProvider({
        config: () => deps.config,
        dataDir: deps.dataDir,
        spawner: deps.spawner ?? nodeSpawner,
        secrets: deps.secrets,
        // The provider binds `provider` itself; binding it here too repeated the key in every line.
        log: deps.log,
        hub: deps.hub,
        metrics: deps.metrics,
        loginDriver: deps.loginDriver,
        env: deps.env,
      }),
    );
  }
  for (const p of deps.config.providers) out.push(createConfiguredProvider(p, deps.log));
  return out;
}

/** One `providers[]` entry -> its provider (at start, and when one is added while running). */
export function createConfiguredProvider(cfg: ProviderConfig, log: Logger): Provider {
  return createOpenAIProvider(cfg, { log: log.child({ provider: cfg.name }) });
}
