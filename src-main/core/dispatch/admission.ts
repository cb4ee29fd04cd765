/**
 * Admission control: a per-API-key concurrency limit with a bounded wait queue, then a global
 * in-flight guard with a FIFO wait queue bounded in time. A waiting request whose client leaves
 * stops waiting and frees its place at once. Every permit is released exactly once.
 */
import { errors, type RelayError } from '../errors';
import type { KeySlot, KeySlots } from '../cluster/ports';
import type { AdmissionMetrics } from '../metrics-port';
import { systemClock, type Clock, type TimerHandle } from '../ports';
import type { Caller } from './types';

export interface AdmissionLimits {
  maxInFlight: number;
  queueTimeoutMs: number;
  perKeyConcurrency: number;
  perKeyQueue: number;
}

export interface Permit {
  /** Idempotent. */
  release(): void;
  /** The queues this request waited in before it got in (none: it went straight in). */
  readonly queued?: ReadonlyArray<'key' | 'global'>;
}

export interface AdmissionStats {
  inFlight: number;
  queued: number;
  rejected: number;
  max: number;
}

export interface Admission {
  acquire(caller: Caller, signal?: AbortSignal): Promise<Permit>;
  stats(): AdmissionStats;
  /** Resolves when no request holds a global slot (graceful stop). */
  idle(): Promise<void>;
  /** Change limits live (settings screen). Waiters are re-examined at once. */
  setLimits(limits: Partial<AdmissionLimits>): void;
  /**
   * Count requests waiting elsewhere (the pool's instance slots) in `stats().queued`, so the
   * dashboard and `relay_queued` (which the pool feeds through `Metrics.setQueued`) agree.
   */
  addQueueSource?(waiting: () => number): void;
}

interface Waiter {
  resolve(): void;
  reject(e: RelayError): void;
  done: boolean;
}

class Gate {
  active = 0;
  readonly queue: Waiter[] = [];
  constructor(public limit: number) {}
  free(): boolean {
    return this.active < this.limit;
  }
}

/**
 * `shared` (team mode): the key's concurrency counted across every node, taken after this node's
 * own per-key slot (which still orders this node's waiters) and before the global one.
 */
export function createAdmission(initial: AdmissionLimits, metrics?: AdmissionMetrics, clock: Clock = systemClock, shared?: KeySlots): Admission {
  const limits = { ...initial };
  const global = new Gate(limits.maxInFlight);
  const perKey = new Map<string, Gate>();
  let rejected = 0;
  let idleWaiters: Array<() => void> = [];
  const sources: Array<() => number> = [];

  const queuedCount = (): number => {
    let n = global.queue.length;
    for (const g of perKey.values()) n += g.queue.length;
    return n;
  };
  const publish = (): void => {
    metrics?.inFlight.set(global.active);
    metrics?.setQueued('admission', queuedCount());
  };
  const reject = (reason: string, e: RelayError): RelayError => {
    rejected++;
    metrics?.rejected.inc({ reason });
    return e;
  };

  const pump = (g: Gate): void => {
    while (g.free() && g.queue.length) {
      const w = g.queue.shift()!;
      if (w.done) continue;
      w.done = true;
      g.active++;
      w.resolve();
    }
  };

  /** Wait for a slot of gate `g`; `timeoutMs` undefined = no time limit. */
  const wait = (g: Gate, signal: AbortSignal | undefined, timeoutMs: number | undefined, onTimeout: () => RelayError): Promise<void> =>
    new Promise<void>((resolve, rejectP) => {
      let timer: TimerHandle | undefined;
      const finish = (): void => {
        clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = g.queue.indexOf(w);
        if (i >= 0) g.queue.splice(i, 1);
        publish();
      };
      const w: Waiter = {
        done: false,
        resolve: () => {
          finish();
          resolve();
        },
        reject: (e) => {
          finish();
          rejectP(e);
        },
      };
      const onAbort = (): void => {
        if (w.done) return;
        w.done = true;
        w.reject(errors.cancelled());
      };
      if (timeoutMs !== undefined) {
        timer = clock.setTimeout(() => {
          if (w.done) return;
          w.done = true;
          w.reject(onTimeout());
        }, timeoutMs);
        timer.unref();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      g.queue.push(w);
      publish();
    });

  const keyGate = (caller: Caller): Gate => {
    const limit = caller.limits?.concurrency ?? limits.perKeyConcurrency;
    let g = perKey.get(caller.keyId);
    if (!g) {
      g = new Gate(limit);
      perKey.set(caller.keyId, g);
    }
    g.limit = limit;
    return g;
  };

  const releaseGate = (g: Gate, keyId?: string): void => {
    g.active--;
    pump(g);
    if (keyId !== undefined && g.active === 0 && g.queue.length === 0) perKey.delete(keyId);
  };

  const acquire = async (caller: Caller, signal?: AbortSignal): Promise<Permit> => {
    if (signal?.aborted) throw errors.cancelled();
    const kg = keyGate(caller);
    const queued: Array<'key' | 'global'> = [];
    if (kg.free() && kg.queue.length === 0) kg.active++;
    else {
      queued.push('key');
      if (kg.queue.length >= limits.perKeyQueue) {
        throw reject('per_key_queue_full', errors.rateLimited('Too many pending requests for this API key.', 1, 'too_many_pending_requests'));
      }
      await wait(kg, signal, limits.queueTimeoutMs, () =>
        reject('per_key_queue_timeout', errors.rateLimited('Too many concurrent requests for this API key.', 1, 'too_many_pending_requests')),
      );
    }
    // Holding the per-key slot; in team mode the cluster-wide one too; now the global one.
    let sharedSlot: KeySlot | undefined;
    try {
      if (shared) sharedSlot = await shared.acquire(caller.keyId, kg.limit, signal, limits.queueTimeoutMs);
      if (global.free() && global.queue.length === 0) global.active++;
      else {
        queued.push('global');
        if (limits.queueTimeoutMs === 0) {
          throw reject('queue_full', errors.rateLimited('The relay is at capacity; retry shortly.', 1, 'capacity'));
        }
        await wait(global, signal, limits.queueTimeoutMs, () =>
          reject('queue_timeout', errors.rateLimited('The relay is at capacity; retry shortly.', Math.min(5, Math.max(1, limits.queueTimeoutMs / 4000)), 'capacity')),
        );
      }
    } catch (e) {
      sharedSlot?.release();
      if ((e as RelayError).code === 'too_many_pending_requests') reject('per_key_queue_timeout', e as RelayError);
      releaseGate(kg, caller.keyId);
      publish();
      throw e;
    }
    publish();
    let released = false;
    return {
      queued,
      release() {
        if (released) return;
        released = true;
        releaseGate(global);
        sharedSlot?.release();
        releaseGate(kg, caller.keyId);
        publish();
        if (global.active === 0 && idleWaiters.length) {
          const ws = idleWaiters;
          idleWaiters = [];
          for (const w of ws) w();
        }
      },
    };
  };

  return {
    acquire,
    stats: () => {
      let queued = queuedCount();
      for (const s of sources) {
        try {
          queued += s();
        } catch {
          // a broken source must not break the stats
        }
      }
      return { inFlight: global.active, queued, rejected, max: global.limit };
    },
    addQueueSource(waiting) {
      sources.push(waiting);
    },
    idle: () => (global.active === 0 ? Promise.resolve() : new Promise<void>((r) => idleWaiters.push(r))),
    setLimits(next) {
      Object.assign(limits, next);
      global.limit = limits.maxInFlight;
      pump(global);
      publish();
    },
  };
}
