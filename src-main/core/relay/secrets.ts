/** Every secret value the relay knows, for the inspector's masking. */
import type { Config } from '../config/schema';

/** Every secret value the config holds (provider keys, account passwords, API keys) plus the admin token. */
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
  return out;
}
