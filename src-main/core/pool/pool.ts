/**
 * The pool: which instance of a provider serves a call, and per-instance concurrency slots.
 *
 * Among usable instances (not closed, not excluded by the dispatcher, healthy per the health
 * cache, with a free slot):
 *   1. the provider's preferred instance (e.g. the owner of a reusable Lingma session);
 *   2. sticky affinity: the client's session key, else `user`, else a hash of the system prompt,
 *      else of the first message, mapped by rendezvous hashing (adding or removing an instance
 *      only moves the keys that belonged to it); a busy favourite yields to the next in rank;
 *   3. least in-flight (requests with no messages, e.g. embeddings);
 * When no instance is healthy, round-robin over the others so that a request still tries.
 * When every candidate is busy, the call waits (FIFO per provider) for a slot.
 */
import { createHash } from 'node:crypto';
import type { CallContext, Instance, Provider } from '../backends/types';
import { textOf, type ChatRequest } from '../chat/model';
import { RelayError, errors } from '../errors';
import type { Metrics } from '../gateway/metrics';
import type { HealthCache } from '../routing/types';

export interface Lease {
  readonly instance: Instance;
  /** Idempotent. */
  release(): void;
}

export interface AcquireOptions {
  /** Instances that already failed this request. */
  exclude?: ReadonlySet<string>;
  signal?: AbortSignal;
  /** How long to wait for a free slot; then a 429 (retryable: the dispatcher may try the next target). */
  waitMs?: number;
  /** For `preferredInstance`. */
  callCtx?: CallContext;
}

export interface PoolInstanceStats {
  name: string;
  provider: string;
  state: string;
  inFlight: number;
  maxConcurrency: number;
  healthy: boolean;
}

export interface Pool {
  acquire(provider: Provider, req: ChatRequest | undefined, opts?: AcquireOptions): Promise<Lease>;
  inFlight(instance: string): number;
  /** Calls in flight across every instance. */
  totalInFlight(): number;
  /** Requests waiting for an instance slot. */
  waiting(): number;
  stats(providers: readonly Provider[]): PoolInstanceStats[];
}

export interface PoolOptions {
  health: HealthCache;
  metrics?: Metrics;
  /** Default slot wait when `acquire` is not given one. */
  waitMs?: number;
}

/** The affinity key of a request, hashed (never kept in clear: it may be a prompt). */
export function affinityKey(req: ChatRequest | undefined): string | undefined {
  if (!req) return undefined;
  let key: string | undefined;
  if (req.sessionKey) key = `s:${req.sessionKey}`;
  else if (req.user) key = `u:${req.user}`;
  else {
    const system = req.messages.filter((m) => m.role === 'system').map((m) => textOf(m.content)).join('\n');
    if (system) key = `p:${system}`;
    else {
      const first = req.messages.find((m) => m.role !== 'system');
      if (first) key = `m:${textOf(first.content)}`;
    }
  }
  return key === undefined ? undefined : createHash('sha1').update(key).digest('hex').slice(0, 16);
}

/** 32-bit FNV-1a with a final avalanche: cheap, well-spread rendezvous weights. */
function weight(key: string, name: string): number {
  let h = 0x811c9dc5;
  const s = `${key}\u0000${name}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Waiter {
  provider: Provider;
  req: ChatRequest | undefined;
  opts: AcquireOptions;
  resolve(lease: Lease): void;
  reject(e: RelayError): void;
  cleanup(): void;
}

export function createPool(opts: PoolOptions): Pool {
  const inFlight = new Map<string, number>();
  const rr = new Map<string, number>();
  const waiters: Waiter[] = [];
  const { health, metrics } = opts;

  const count = (name: string): number => inFlight.get(name) ?? 0;
  const hasSlot = (i: Instance): boolean => !(i.maxConcurrency > 0) || count(i.name) < i.maxConcurrency;

  // Requests waiting for an instance slot count in `relay_queued` with the admission queues.
  const publishWaiting = (): void => {
    metrics?.setQueued('pool', waiters.length);
  };

  const setGauge = (name: string): void => {
    metrics?.backendInFlight.set({ backend: name }, count(name));
  };

  const lease = (inst: Instance): Lease => {
    inFlight.set(inst.name, count(inst.name) + 1);
    setGauge(inst.name);
    let released = false;
    return {
      instance: inst,
      release() {
        if (released) return;
        released = true;
        const n = count(inst.name) - 1;
        if (n <= 0) inFlight.delete(inst.name);
        else inFlight.set(inst.name, n);
        setGauge(inst.name);
        drain();
      },
    };
  };

  const candidates = (provider: Provider, exclude?: ReadonlySet<string>): Instance[] =>
    provider.instances().filter((i) => i.state() !== 'closed' && !exclude?.has(i.name));

  /** Synchronous pick-and-take; undefined when every candidate is busy. Throws when there is no candidate. */
  const tryTake = (provider: Provider, req: ChatRequest | undefined, o: AcquireOptions): Lease | undefined => {
    const all = candidates(provider, o.exclude);
    if (all.length === 0) {
      throw errors.unavailable(`No instance of '${provider.name}' is available.`, { code: 'no_instance', retryable: true });
    }
    const healthy = all.filter((i) => health.isHealthy(i.name) && i.state() !== 'failed');
    if (healthy.length === 0) {
      // Nothing is healthy: round-robin over the rest so a request still gets a chance.
      const free = all.filter(hasSlot);
      if (free.length === 0) return undefined;
      const n = rr.get(provider.name) ?? 0;
      rr.set(provider.name, n + 1);
      return lease(free[n % free.length]);
    }
    const free = healthy.filter(hasSlot);
    if (free.length === 0) return undefined;
    if (req && o.callCtx && provider.preferredInstance) {
      const want = provider.preferredInstance(req, o.callCtx);
      const hit = want === undefined ? undefined : free.find((i) => i.name === want);
      if (hit) return lease(hit);
    }
    // One choice left: skip hashing the prompt (the common single-instance provider).
    if (free.length === 1) return lease(free[0]);
    const key = affinityKey(req);
    if (key !== undefined) {
      let best = free[0];
      let bestW = -1;
      for (const i of free) {
        const w = weight(key, i.name);
        if (w > bestW) {
          best = i;
          bestW = w;
        }
      }
      return lease(best);
    }
    // Least in-flight; ties go to a ready instance, then round-robin.
    const n = rr.get(provider.name) ?? 0;
    rr.set(provider.name, n + 1);
    let best: Instance | undefined;
    for (let k = 0; k < free.length; k++) {
      const i = free[(n + k) % free.length];
      if (
        !best ||
        count(i.name) < count(best.name) ||
        (count(i.name) === count(best.name) && i.state() === 'ready' && best.state() !== 'ready')
      ) best = i;
    }
    return lease(best!);
  };

  /** Serve waiters in FIFO order after a slot frees up. */
  const drain = (): void => {
    for (let k = 0; k < waiters.length; ) {
      const w = waiters[k];
      let got: Lease | undefined;
      try {
        got = tryTake(w.provider, w.req, w.opts);
      } catch (e) {
        waiters.splice(k, 1);
        w.cleanup();
        w.reject(e as RelayError);
        continue;
      }
      if (got) {
        waiters.splice(k, 1);
        w.cleanup();
        w.resolve(got);
        continue;
      }
      k++;
    }
    publishWaiting();
  };

  const acquire = (provider: Provider, req: ChatRequest | undefined, o: AcquireOptions = {}): Promise<Lease> => {
    if (o.signal?.aborted) return Promise.reject(errors.cancelled());
    let first: Lease | undefined;
    try {
      first = tryTake(provider, req, o);
    } catch (e) {
      return Promise.reject(e);
    }
    if (first) return Promise.resolve(first);
    const waitMs = o.waitMs ?? opts.waitMs ?? 30_000;
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = (): void => {
        remove();
        reject(errors.cancelled());
      };
      const timer = setTimeout(() => {
        remove();
        reject(errors.rateLimited(`Every instance of '${provider.name}' is busy.`, Math.max(1, waitMs / 1000), 'instances_busy'));
      }, waitMs);
      timer.unref();
      const w: Waiter = {
        provider, req, opts: o, resolve, reject,
        cleanup() {
          clearTimeout(timer);
          o.signal?.removeEventListener('abort', onAbort);
        },
      };
      const remove = (): void => {
        const i = waiters.indexOf(w);
        if (i >= 0) waiters.splice(i, 1);
        w.cleanup();
        publishWaiting();
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      waiters.push(w);
      publishWaiting();
    });
  };

  return {
    acquire,
    inFlight: count,
    totalInFlight: () => {
      let n = 0;
      for (const v of inFlight.values()) n += v;
      return n;
    },
    waiting: () => waiters.length,
    stats: (providers) =>
      providers.flatMap((p) =>
        p.instances().map((i) => ({
          name: i.name,
          provider: p.name,
          state: i.state(),
          inFlight: count(i.name),
          maxConcurrency: i.maxConcurrency,
          healthy: health.isHealthy(i.name),
        })),
      ),
  };
}
