/** Every secret value the relay knows, for the inspector's masking. */
import type { Config } from '../config/schema';

/** Every secret value the config holds (provider keys, account passwords, API keys, team-mode secrets) plus the admin token. */
export function knownSecrets(config: Config, adminToken: string, primaryKey: string | undefined): string[] {
  const out = [adminToken];
  if (primaryKey) out.push(primaryKey);
  for (const p of config.providers) {
    if (p.apiKey) out.push(p.apiKey);
    out.push(...Object.values(p.headers ?? {}));
  }
  for (const a of config.lingma?.accounts ?? []) if (a.password) out.push(a.password);
  for (const k of config.server.apiKeys ?? []) out.push(typeof k === 'string' ? k : k.key);
  if (config.server.metricsToken) out.push(config.server.metricsToken);
  // Team mode: the cluster secret and the passwords inside the Redis and PostgreSQL URLs.
  const c = config.cluster;
  if (c?.secret) out.push(c.secret);
  for (const u of [c?.redisUrl, c?.postgresUrl]) {
    const pw = urlPassword(u);
    if (pw) out.push(pw);
  }
  return out;
}

/** The password part of a connection URL (decoded too, when it was percent-encoded), if any. */
function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const raw = new URL(url).password;
    if (!raw) return undefined;
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  } catch {
    return undefined;
  }
}
