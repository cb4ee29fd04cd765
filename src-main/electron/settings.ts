/**
 * Desktop settings (electron-store, in userData) and how they become the core's `Config`: the
 * optional config file in userData is loaded and validated by core's loader, then the desktop's
 * settings and secrets are laid over it and the result is validated again.
 * Settings hold no secrets: the admin token and the desktop API key live in the `SecretStore`
 * (safeStorage). Lingma accounts added in the dashboard are core's (`AccountStore` in the data dir,
 * passwords in the same SecretStore), so they are not duplicated here.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../core/config/schema';
import { validateConfig } from '../core/config/validate';
import type { SecretStore } from '../core/ports';
import { APP_ORIGIN } from './security';

export interface DesktopSettings {
  /** Gateway port; unset = the config file's (default 8420). */
  port?: number;
  startAtLogin: boolean;
  /** The gateway was paused from the tray; stays paused across restarts. */
  paused: boolean;
  /** Desktop notifications when an account starts needing a person or runs out of credits. */
  notifications: boolean;
  /** Auto-update (when a release feed is configured): check for updates at start and daily. */
  autoUpdate: boolean;
}

export const SETTINGS_DEFAULTS: DesktopSettings = {
  startAtLogin: false,
  paused: false,
  notifications: true,
  autoUpdate: true,
};

/** JSON schema for electron-store (it refuses to write values that do not match). */
export const SETTINGS_SCHEMA = {
  port: { type: 'integer', minimum: 0, maximum: 65535 },
  startAtLogin: { type: 'boolean', default: false },
  paused: { type: 'boolean', default: false },
  notifications: { type: 'boolean', default: true },
  autoUpdate: { type: 'boolean', default: true },
} as const;

/**
 * Reads settings from whatever the store holds, tolerating a hand-edited file: a bad value is
 * replaced by its default and reported (naming the key) instead of crashing the app.
 */
export function readSettings(raw: unknown, warn?: (msg: string) => void): DesktopSettings {
  const o = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const out: DesktopSettings = { ...SETTINGS_DEFAULTS };
  const bad = (key: string) => warn?.(`settings: ignoring invalid ${key}`);
  if (o.port !== undefined) {
    if (Number.isInteger(o.port) && (o.port as number) >= 0 && (o.port as number) <= 65535) out.port = o.port as number;
    else bad('port');
  }
  for (const k of ['startAtLogin', 'paused', 'notifications', 'autoUpdate'] as const) {
    if (o[k] === undefined) continue;
    if (typeof o[k] === 'boolean') out[k] = o[k] as boolean;
    else bad(k);
  }
  // The login window's own origin list became core's one sign-in policy.
  if (o.loginOrigins !== undefined) warn?.('settings: loginOrigins is no longer used; list extra sign-in origins in lingma.login.allowedOrigins');
  return out;
}

export const SECRET_KEYS = {
  adminToken: 'desktop/admin-token',
  apiKey: 'desktop/api-key',
};

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
function randomToken(n: number): string {
  let s = '';
  while (s.length < n) for (const b of randomBytes(n)) if (b < 248 && s.length < n) s += BASE62[b % 62];
  return s;
}

export interface DesktopSecrets {
  adminToken: string;
  apiKey: string;
}

/**
 * The desktop's admin token and API key, kept in the secret store (encrypted), generated on first
 * run. Passing them in the config means core never writes them to plain files.
 */
export async function ensureDesktopSecrets(secrets: SecretStore): Promise<DesktopSecrets> {
  let adminToken = await secrets.get(SECRET_KEYS.adminToken);
  if (!adminToken || adminToken.length < 16) {
    adminToken = `relay-admin-${randomToken(32)}`;
    await secrets.set(SECRET_KEYS.adminToken, adminToken);
  }
  let apiKey = await secrets.get(SECRET_KEYS.apiKey);
  if (!apiKey || apiKey.length < 8) {
    apiKey = `sk-relay-${randomToken(32)}`;
    await secrets.set(SECRET_KEYS.apiKey, apiKey);
  }
  return { adminToken, apiKey };
}

/** The first configured API key (the tray's "Copy API Key"). */
export function firstApiKey(config: Config): string | undefined {
  const k = config.server.apiKeys?.[0];
  return typeof k === 'string' ? k : k?.key;
}

/**
 * Lays the desktop settings and secrets over the loaded config and validates the result: port from
 * settings; the dashboard's origin (`app://relay`) allowed by the gateway; the admin token and, when
 * the config names no API key, the desktop's key.
 */
export function buildDesktopConfig(base: Config, settings: DesktopSettings, desktop: DesktopSecrets): Config {
  const c = structuredClone(base) as Config;
  if (settings.port !== undefined) c.server.port = settings.port;
  if (!c.server.corsOrigins.includes(APP_ORIGIN)) c.server.corsOrigins = [...c.server.corsOrigins, APP_ORIGIN];
  c.server.adminToken ??= desktop.adminToken;
  if (!c.server.apiKeys || c.server.apiKeys.length === 0) c.server.apiKeys = [{ key: desktop.apiKey, name: 'desktop' }];
  return validateConfig(c, 'desktop settings');
}
