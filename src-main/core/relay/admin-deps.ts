/** The admin API's one typed `AdminDeps`, read from the relay. */
import type { AdminDeps } from '../admin/index';
import { defaultRendererDir } from '../admin/static';
import { LingmaProvider } from '../backends/lingma/provider';
import type { AliasSource } from '../routing/reload';
import { testBackend } from '../dispatch/backend-test';
import type { Relay } from './types';
import { keyUsage } from '../ledger/key-usage';

/** What the admin API gets from the relay (one typed object; nothing optional). */
export function adminDeps(relay: Relay, aliases: AliasSource): AdminDeps {
  const lingma = relay.providers.find((p): p is LingmaProvider => p instanceof LingmaProvider);
  return {
    config: relay.config,
    hub: relay.hub,
    providers: () => relay.providers,
    accounts: lingma?.accounts ?? null,
    sessionCache: lingma ? () => lingma.sessionCacheStats() : null,
    resolver: relay.resolver,
    aliases,
    health: relay.health,
    admission: relay.admission,
    availability: relay.availability,
    pool: relay.pool,
    keys: relay.keys,
    providerAdmin: relay.managedProviders,
    keyUsage: (ids) => keyUsage(relay.ledger, ids, Date.now()),
    ledger: relay.ledger,
    secrets: relay.secrets,
    url: () => relay.url(),
    applySettings: (patch) => relay.applySettings(patch),
    rendererDir: relay.rendererDir ?? defaultRendererDir(),
    version: relay.version ?? '0.1.0',
    dataDir: relay.dataDir,
    inspector: relay.inspector,
    testBackend: (name, req) =>
      testBackend({ providers: () => relay.providers, pool: relay.pool, firstByteTimeoutMs: () => relay.config.limits.firstByteTimeoutMs, log: relay.log }, name, req),
    // Read at call time: discovery is created after the providers, like the rest of the relay.
    discovery: {
      view: () => relay.discovery.view(),
      scan: () => relay.discovery.scan(),
      use: (id) => relay.discovery.use(id),
    },
  };
}
