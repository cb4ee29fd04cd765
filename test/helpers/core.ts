/**
 * The whole engine as the hosts run it (`createCore`: providers, health, pool, admission,
 * dispatcher with its observers, error rules, budgets, ledger, live hub, gateway with every front
 * end and the admin API), with the parts a test wants to control injected:
 * - `config`: a raw config object (validated like a config file) or a validated `Config`;
 * - `providers`: fake backends instead of the configured kinds (default: from `config`);
 * - `clock`, `hub`, `secrets`, `spawner`, `logger`: the ports (defaults: system clock, a new hub,
 *   a 0600 file store in the data folder, silent logs unless `TEST_LOG` is set);
 * - the data folder (and so the ledger's `usage.db`): a temp folder removed by `close()`, unless
 *   `dataDir` is given.
 * By default the relay is started and listens on 127.0.0.1:0.
 */
import { rmSync } from 'node:fs';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import type { Config } from '../../src-main/core/config/schema';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createCore, type Relay, type CoreDeps } from '../../src-main/core/relay';
import { tempDir } from './tmp';

export interface TestCoreOptions extends Partial<Omit<CoreDeps, 'config'>> {
  /** Raw config (validated) or a validated `Config`. Default: `{}`. */
  config?: Config | Record<string, unknown>;
  /** Call `relay.start()` (default true). */
  start?: boolean;
  /** Listen on 127.0.0.1:0 (default true; implies start). */
  listen?: boolean;
}

export interface TestCore {
  relay: Relay;
  /** Base URL (`http://127.0.0.1:port`); empty when not listening. */
  url: string;
  port: number;
  dataDir: string;
  /** The API key generated on this first start (empty when the config names keys). */
  apiKey: string;
  adminToken: string;
  /** Stops the relay and removes the temp data folder (once). */
  close(): Promise<void>;
}

const isConfig = (c: TestCoreOptions['config']): c is Config =>
  !!c && typeof c === 'object' && 'server' in c && 'limits' in c && 'health' in c && 'ledger' in c;

export async function startCore(opts: TestCoreOptions = {}): Promise<TestCore> {
  const { config: raw, start = true, listen = true, ...rest } = opts;
  const config = isConfig(raw) ? raw : validateConfig(raw ?? {});
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? tempDir('relay-core-');
  const relay = await createCore({
    lingma: 'never',
    processMetrics: false,
    logger: createLogger({ level: process.env.TEST_LOG ? 'debug' : 'silent' }),
    ...rest,
    secrets: opts.secrets ?? new FileSecretStore(dataDir),
    config,
    dataDir,
  });
  let url = '';
  if (start || listen) await relay.start();
  if (listen) url = await relay.listen({ host: '127.0.0.1', port: 0 });
  let closing: Promise<void> | undefined;
  return {
    relay,
    url,
    port: url ? Number(new URL(url).port) : 0,
    dataDir,
    apiKey: relay.firstRun.apiKey ?? '',
    adminToken: relay.adminToken(),
    close: () =>
      (closing ??= (async () => {
        await relay.stop();
        if (ownDir) rmSync(dataDir, { recursive: true, force: true });
      })()),
  };
}
