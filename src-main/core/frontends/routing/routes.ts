/**
 * `GET /v1/aliases` and `GET /v1/health` (a fastify plugin for `buildGateway`'s `extraPlugins`,
 * behind the API key). Health transitions reach metrics and the hub through
 * `routing/observe.ts`.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Provider } from '../../backends/types';
import type { AliasInfo, HealthCache, HealthSnapshot, ReloadOutcome, Resolver } from '../../routing/types';
import { redactSecrets } from '../../redact';
import { guardScope } from '../../gateway/plugins/auth';

export interface RoutingRoutesOptions {
  resolver: () => Resolver | undefined;
  health: HealthCache;
  providers: () => readonly Provider[];
  /** Calls in flight per instance (the pool). */
  inFlight?: (instance: string) => number;
}

export interface HealthEntry {
  instance: string;
  provider: string;
  kind: string;
  state: string;
  /** Why the instance is not ready, when it says. */
  reason?: string;
  healthy: boolean;
  consecutiveFailures: number;
  lastError?: string;
  lastErrorAt?: number;
  unhealthyUntil?: number;
  inFlight: number;
}

/** Health and reload texts are scrubbed before they leave (see core/redact.ts). */
export const redact = (text: string): string => redactSecrets(text);

export function healthEntries(opts: Pick<RoutingRoutesOptions, 'health' | 'providers' | 'inFlight'>): HealthEntry[] {
  const out: HealthEntry[] = [];
  for (const p of opts.providers()) {
    for (const i of p.instances()) {
      const h = opts.health.snapshot(i.name);
      const snap = i.snapshot();
      const e: HealthEntry = {
        instance: i.name,
        provider: p.name,
        kind: i.kind,
        state: i.state(),
        healthy: h.healthy,
        consecutiveFailures: h.consecutiveFailures,
        inFlight: opts.inFlight?.(i.name) ?? 0,
      };
      if (snap.reason) e.reason = redact(snap.reason);
      if (h.lastError !== undefined) e.lastError = redact(h.lastError);
      if (h.lastErrorAt !== undefined) e.lastErrorAt = h.lastErrorAt;
      if (h.unhealthyUntil !== undefined) e.unhealthyUntil = h.unhealthyUntil;
      out.push(e);
    }
  }
  return out;
}

export const routingRoutes: FastifyPluginAsync<RoutingRoutesOptions> = async (app, opts) => {
  // SECURITY: these routes are for API-key holders only (guardScope throws without the gateway's
  // auth plugin, so they are never exposed unguarded).
  guardScope(app, 'apiKey');

  app.get('/v1/aliases', async (): Promise<{ object: 'list'; data: AliasInfo[]; lastReload: ReloadOutcome | null }> => {
    const resolver = opts.resolver();
    const lastReload = resolver?.lastReload();
    return {
      object: 'list',
      data: resolver?.aliases() ?? [],
      lastReload: lastReload ? { ...lastReload, ...(lastReload.error ? { error: redact(lastReload.error) } : {}) } : null,
    };
  });

  app.get('/v1/health', async () => {
    const data = healthEntries(opts);
    return { object: 'list', healthy: data.filter((d) => d.healthy).length, total: data.length, data };
  });
};

/**
 * Publish health transitions: `relay_backend_healthy{backend}` and hub `health` events. Call
 * `sync()` after instances are added. Returns a function that unsubscribes.
 */
