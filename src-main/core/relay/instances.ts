/**
 * Instance state -> `relay_backend_ready` and hub events (Lingma instances emit their own hub
 * events). `watch()` subscribes to instances it has not seen yet and drops the gauge of those
 * gone; call it after start and on every config change.
 */
import type { Instance, InstanceSnapshot, InstanceState } from '../backends/types';
import type { EventHub } from '../events';
import type { Metrics } from '../gateway/metrics';

export function instanceWatcher(deps: { metrics: Metrics; hub: EventHub; allInstances: () => Instance[] }): () => void {
  const { metrics, hub, allInstances } = deps;
  const watched = new WeakSet<Instance>();
  const known = new Set<string>();
  const onState = (snap: InstanceSnapshot, _prev: InstanceState, inst: Instance) => {
    metrics.backendReady.set({ backend: snap.name }, snap.state === 'ready' ? 1 : 0);
    if (inst.kind !== 'lingma') hub.emit('instance', snap);
  };
  const watchInstances = () => {
    const now = new Set<string>();
    for (const inst of allInstances()) {
      now.add(inst.name);
      metrics.backendReady.set({ backend: inst.name }, inst.state() === 'ready' ? 1 : 0);
      if (watched.has(inst)) continue;
      watched.add(inst);
      inst.events.on('state', (snap, prev) => onState(snap, prev, inst));
    }
    for (const name of known) if (!now.has(name)) metrics.backendReady.remove({ backend: name });
    known.clear();
    for (const n of now) known.add(n);
  };
  return watchInstances;
}
