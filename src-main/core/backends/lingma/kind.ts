/**
 * The `lingma` backend kind: one provider, `lingma`, over every Lingma account (the `lingma:`
 * config section), run when `wantsLingma` says so.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigSchema, type Config } from '../../config/schema';
import { defineKind, type LingmaMode } from '../types';
import { discoverAttach } from './attach/discover';
import { createLingmaProvider } from './index';
import { LingmaOptionsSchema } from './options';

/**
 * Run the Lingma pool? `auto` = when accounts are configured (config, LINGMA_ACCOUNTS, or added in
 * the dashboard earlier), a binary is named explicitly, or a signed-in app is running; `always`;
 * `never`.
 */
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

export const lingmaKind = defineKind({
  name: 'lingma',
  configSchema: ConfigSchema.properties.lingma,
  optionsSchema: LingmaOptionsSchema,
  entries: (config) => [{ provider: 'lingma', entry: config.lingma }],
  wanted: (_entry, deps) => wantsLingma(deps.config, deps.dataDir, deps.lingma, deps.env),
  // The provider reads the whole config (session cache, limits) through a getter; it binds `provider` in its log itself.
  create: (_entry, deps) =>
    createLingmaProvider({
      config: () => deps.config,
      dataDir: deps.dataDir,
      spawner: deps.spawner,
      secrets: deps.secrets,
      log: deps.log,
      hub: deps.hub,
      metrics: deps.metrics,
      loginDriver: deps.loginDriver,
      env: deps.env,
      leases: deps.accountLeases,
      forwarder: deps.forwarder,
      clock: deps.clock,
    }),
});
