/**
 * Health → the outside: publishes every health transition of every instance to the metrics
 * (`relay_backend_healthy`) and the event hub (dashboard).
 */
import type { Provider } from '../backends/types';
import type { EventHub } from '../events';
import type { HealthMetrics } from '../metrics-port';
import { redactSecrets as redact } from '../redact';
import type { HealthCache, HealthSnapshot } from './types';

export function observeHealth(opts: { health: HealthCache; metrics?: HealthMetrics; hub?: EventHub; providers: () => readonly Provider[] }): { sync(): void; stop(): void } {
  const sync = (): void => {
    if (!opts.metrics) return;
    for (const p of opts.providers()) {
      for (const i of p.instances()) opts.metrics.backendHealthy.set({ backend: i.name }, opts.health.isHealthy(i.name) ? 1 : 0);
    }
  };
  const onTransition = (s: HealthSnapshot): void => {
    opts.metrics?.backendHealthy.set({ backend: s.instance }, s.healthy ? 1 : 0);
    opts.hub?.emit('health', s.lastError === undefined ? s : { ...s, lastError: redact(s.lastError) });
  };
  const onConfig = (): void => sync();
  opts.health.events.on('transition', onTransition);
  opts.hub?.on('config', onConfig);
  sync();
  return {
    sync,
    stop() {
      opts.health.events.off('transition', onTransition);
      opts.hub?.off('config', onConfig);
    },
  };
}
