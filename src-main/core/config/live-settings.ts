/**
 * Settings the dashboard can change while the gateway runs. They apply at once and are saved in
 * `<data dir>/settings.json` (0600), which is laid over the config at the next start: a change
 * made in the dashboard is newer than the config file, so it wins (and the start says so).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { ProviderSchema, type Config, type ProviderConfig } from './schema';
import { writeSecretFile } from './datadir';

export interface LiveSettings {
  logLevel?: Config['server']['logLevel'];
  maxInFlight?: number;
  queueTimeoutMs?: number;
  perKeyConcurrency?: number;
  firstByteTimeoutMs?: number;
  loginAuto?: boolean;
  /**
   * Providers a person added from the dashboard (local servers discovery found and they
   * confirmed). Laid over `providers` by name: an entry here replaces a config entry of that name.
   */
  providers?: ProviderConfig[];
}

export const LIVE_SETTINGS_FILE = 'settings.json';

/** Lay settings over the config object (the one every module reads). */
export function applyLiveSettings(config: Config, s: LiveSettings): void {
  if (s.logLevel !== undefined) config.server.logLevel = s.logLevel;
  if (s.maxInFlight !== undefined) config.limits.maxInFlight = s.maxInFlight;
  if (s.queueTimeoutMs !== undefined) config.limits.queueTimeoutMs = s.queueTimeoutMs;
  if (s.perKeyConcurrency !== undefined) config.limits.perKeyConcurrency = s.perKeyConcurrency;
  if (s.firstByteTimeoutMs !== undefined) config.limits.firstByteTimeoutMs = s.firstByteTimeoutMs;
  if (s.loginAuto !== undefined) config.lingma.login.auto = s.loginAuto;
  for (const p of s.providers ?? []) {
    const i = config.providers.findIndex((c) => c.name === p.name);
    if (i >= 0) config.providers[i] = p;
    else config.providers.push(p);
  }
}

/**
 * The saved file's `providers` (written by the relay, not by the settings API): each checked
 * against the config's provider schema; throws naming the first bad entry.
 */
export function parseSavedProviders(raw: unknown): ProviderConfig[] {
  if (!Array.isArray(raw)) throw new Error('providers: expected a list');
  return raw.map((p, i) => {
    if (!Value.Check(ProviderSchema, p)) {
      const first = [...Value.Errors(ProviderSchema, p)][0];
      throw new Error(`providers[${i}]${first?.path ? first.path.replace(/\//g, '.') : ''}: ${first?.message ?? 'invalid'}`);
    }
    return p as ProviderConfig;
  });
}

/** The saved settings as stored (unvalidated JSON), or undefined when none were saved. Throws on unreadable JSON. */
export function readLiveSettingsFile(dataDir: string): unknown {
  const file = join(dataDir, LIVE_SETTINGS_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Merge a change into the saved settings (atomic write, 0600). */
export function saveLiveSettings(dataDir: string, change: LiveSettings, saved: LiveSettings = {}): LiveSettings {
  const next: LiveSettings = { ...saved, ...change };
  writeSecretFile(join(dataDir, LIVE_SETTINGS_FILE), `${JSON.stringify(next, null, 2)}\n`);
  return next;
}
