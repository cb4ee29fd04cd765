/** Settings saved from the dashboard (`<data dir>/settings.json`), laid over the config at start. */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { applyLiveSettings, LIVE_SETTINGS_FILE, parseSavedProviders, readLiveSettingsFile, type LiveSettings } from '../config/live-settings';
import type { Config } from '../config/schema';
import { parseSettings } from '../admin/validate';

/** The saved settings file: the settings API's keys plus the providers added while running. */
function parseSavedSettings(raw: unknown): LiveSettings {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return parseSettings(raw);
  const { providers, ...rest } = raw as Record<string, unknown>;
  const out: LiveSettings = parseSettings(rest);
  if (providers !== undefined) out.providers = parseSavedProviders(providers);
  return out;
}

/** Reads the saved settings and applies them to `config`; a broken file is reported (by `report`) and ignored. */
export function applySavedSettings(config: Config, dataDir: string): { saved: LiveSettings; report(log: Logger): void } {
  let savedSettings: LiveSettings = {};
  let settingsProblem: string | undefined;
  try {
    const raw = readLiveSettingsFile(dataDir);
    if (raw !== undefined) savedSettings = parseSavedSettings(raw);
  } catch (e) {
    settingsProblem = e instanceof Error ? e.message : String(e);
  }
  applyLiveSettings(config, savedSettings);
  return {
    saved: savedSettings,
    report(log) {
      if (settingsProblem) log.warn({ file: join(dataDir, LIVE_SETTINGS_FILE), problem: settingsProblem }, 'saved dashboard settings ignored');
      else if (Object.keys(savedSettings).length) log.info({ settings: Object.keys(savedSettings) }, 'settings saved from the dashboard applied over the config');
    },
  };
}
