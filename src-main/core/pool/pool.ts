/**
 * The pool: which instance of a provider serves a call, and per-instance concurrency slots.
 *
 * Only serving instances are picked (the one answer: ./availability.ts, through the model in
 * ./availability-model.ts), among those not excluded by the dispatcher and with a free slot:
 *   1. the provider's preferred instance (e.g. the owner of a reusable Lingma session);
 *   2. the instance the shared session-owner map (`PoolOptions.owners`, team mode) names for the
 *      conversation: it holds the conversation's upstream session, maybe on another node;
 *   3. sticky affinity: the client's session key, else `user`, else a hash of the system prompt,
 *      else of the first message, mapped by rendezvous hashing (adding or removing an instance
 *      only moves the keys that belonged to it); a busy favourite yields to the next in rank;
 *   4. least in-flight (requests with no messages, e.g. embeddings).
 * A favourite (preferred or affinity) that cannot serve yields to one that can.
 *
 * When no instance of the provider serves:
 *   - one is becoming serving on its own (starting, signing in): the call waits on the pool for
 *     the first instance that becomes serving (any of them), up to `readyWaitMs`;
 *   - else one a request may kick (stopped, failed, signed out, health backoff): round-robin over
 *     those, so a request still tries (the dispatcher's `ensureReady` starts it);
 *   - else every account is out of credits: a 429 with `Retry-After` until the earliest reset;
 *     or they need a person: a retryable 503 naming why.
 * When every serving candidate is busy, the call waits (FIFO per provider) for a slot.
 */
import type { CallContext, Instance, Provider } from '../backends/types';
import type { ChatRequest } from '../chat/model';
import { RelayError, errors } from '../errors';
import type { AvailabilityMetrics, PoolMetrics } from '../metrics-port';
import { systemClock, type Clock } from '../ports';
import type { HealthCache, Target } from '../routing/types';
import type { SessionOwners } from '../cluster/ports';
import type { Availability } from './availability';
import { createAvailability, type AvailabilityModel } from './availability-model';
import { affinityKey, weight } from './affinity';

export { affinityKey } from './affinity';

export interface Lease {
  readonly instance: Instance;
  /** Idempotent. */
  release(): void;
}

/**
 * One hop of a request's chain, resolved: what the pool picks an instance for. The request is the
 * one this hop sends upstream (the target's model, the alias options merged), so the provider's
 * preferred instance sees the options that apply (e.g. an alias's agent mode).
 */
export interface Hop {
  provider: Provider;
  /** The chain entry (target and its options) this hop serves; absent for a direct pick. */
  target?: Target;
  /** The request as this hop sends it; absent for calls without a conversation (embeddings). */
  request?: ChatRequest;
  /** The request's affinity key (`affinityKey`), hashed once per request by the caller. */
  affinity?: string;
  /** Set by the pool: the instance the session-owner map names for this conversation. */
  owner?: string;
}

/** A hop for `request` on `provider` (hashes the affinity key: callers that make several hops build one key and reuse it). */
export function hopOf(provider: Provider, request?: ChatRequest, target?: Target): Hop {
  return { provider, request, target, affinity: affinityKey(request) };
}

export interface AcquireOptions {
  /** Instances that already failed this request. */
  exclude?: ReadonlySet<string>;
  signal?: AbortSignal;
  /** How long to wait for a free slot; then a 429 (retryable: the dispatcher may try the next target). */
  waitMs?: number;
  /**
   * How long to wait for an instance to become serving when none is (the first-byte timeout);
   * then a retryable 503. Default: `waitMs`.
   */
  readyWaitMs?: number;
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
  serving: boolean;
}

export interface Pool {
  /** The one availability answer the pool picks by (the dispatcher, /healthz and admin read it too). */
  readonly availability: AvailabilityModel;
  acquire(hop: Hop, opts?: AcquireOptions): Promise<Lease>;
  /**
   * A slot on one named instance of `provider`, under the same rules (availability, slots,
   * waits): a call another node forwarded for an account this node runs.
   */
  acquireOn(provider: Provider, instance: string, opts?: AcquireOptions): Promise<Lease>;
  inFlight(instance: string): number;
  /** Calls in flight across every instance. */
  totalInFlight(): number;
  /** Requests waiting for an instance slot. */
  waiting(): number;
  stats(providers: readonly Provider[]): PoolInstanceStats[];
}

export interface PoolOptions {
  health: HealthCache;
  metrics?: PoolMetrics & AvailabilityMetrics;
  /** Default slot wait when `acquire` is not given one. */
  waitMs?: number;
  /** The availability model; default: one over `health` alone. */
  availability?: AvailabilityModel;
  /** Wait deadlines and credit resets (the relay's one clock). */
  clock?: Clock;
  /** Which instance holds each conversation's session (team mode: shared by the nodes). Absent: none kept. */
  owners?: SessionOwners;
}

interface Waiter {
  /** What it waits for: a slot on a serving instance, or an instance to become serving. */
  kind: 'slot' | 'serving';
  hop: Hop;
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
  const clock = opts.clock ?? systemClock;
  const availability = opts.availability ?? createAvailability({ health, metrics, clock });

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

  /** Picks among serving instances with a free slot (preferred, affinity, least in-flight). */
  const pick = (hop: Hop, o: AcquireOptions, free: Instance[]): Lease => {
    const { provider, request } = hop;
    if (request && o.callCtx && provider.preferredInstance) {
      const want = provider.preferredInstance(request, o.callCtx);
      const hit = want === undefined ? undefined : free.find((i) => i.name === want);
      if (hit) return lease(hit);
    }
    if (hop.owner !== undefined) {
      const hit = free.find((i) => i.name === hop.owner);
      if (hit) return lease(hit);
    }
    if (free.length === 1) return lease(free[0]);
    const key = hop.affinity;
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
    // Least in-flight, round-robin among ties.
    const n = rr.get(provider.name) ?? 0;
    rr.set(provider.name, n + 1);
    let best: Instance | undefined;
    for (let k = 0; k < free.length; k++) {
      const i = free[(n + k) % free.length];
      if (!best || count(i.name) < count(best.name)) best = i;
    }
    return lease(best!);
  };

  /** Nothing can serve and nothing will on its own: the error that says why. */
  const cannotServe = (provider: Provider, views: Array<[Instance, Availability]>): RelayError => {
    const now = clock.now();
    if (views.every(([, a]) => a.status === 'out_of_credits')) {
      const resets = views.map(([, a]) => a.until).filter((t): t is number => t !== undefined && t > now);
      const earliest = resets.length ? Math.min(...resets) : undefined;
      return errors.quotaExceeded(
        `Every account of '${provider.name}' is out of credits or rate-limited${earliest ? ` until ${new Date(earliest).toISOString()}` : ''}.`,
        { code: 'quota_exceeded', retryAfter: Math.max(1, Math.ceil(((earliest ?? now + 60_000) - now) / 1000)), resetsAt: earliest },
      );
    }
    return errors.unavailable(`No instance of '${provider.name}' can serve: ${views.map(([, a]) => a.reason).join('; ')}.`, {
      code: 'no_instance_serving', retryable: true, retryAfter: 5,
    });
  };

  type Take = Lease | { wait: 'slot' | 'serving' };

  /** Synchronous pick-and-take, or what to wait for. Throws when nothing can serve. */
  const tryTake = (hop: Hop, o: AcquireOptions): Take => {
    const { provider } = hop;
    const all = candidates(provider, o.exclude);
    if (all.length === 0) {
      throw errors.unavailable(`No instance of '${provider.name}' is available.`, { code: 'no_instance', retryable: true });
    }
    const views = all.map((i): [Instance, Availability] => [i, availability.of(i)]);
    const serving = views.filter(([, a]) => a.serving).map(([i]) => i);
    if (serving.length) {
      const free = serving.filter(hasSlot);
      return free.length ? pick(hop, o, free) : { wait: 'slot' };
    }
    // Nothing serves. Something that will on its own: wait on the pool for the first one.
    if (views.some(([, a]) => a.wait === 'self')) return { wait: 'serving' };
    // Something a request may kick (start, reconnect, sign in, retry after a backoff): try it.
    const kick = views.filter(([, a]) => a.wait === 'kick').map(([i]) => i);
    if (kick.length) {
      const free = kick.filter(hasSlot);
      if (free.length === 0) return { wait: 'slot' };
      const n = rr.get(provider.name) ?? 0;
      rr.set(provider.name, n + 1);
      return lease(free[n % free.length]);
    }
    throw cannotServe(provider, views);
  };

  const isLease = (t: Take): t is Lease => 'release' in t;

  let draining = false;
  let again = false;
  /** Serve waiters in FIFO order after a slot frees up or an instance's availability changes. */
  const drain = (): void => {
    // A change announced while draining (e.g. a lease's release) runs one more round after this one.
    if (draining) {
      again = true;
      return;
    }
    draining = true;
    try {
      do {
        again = false;
        drainOnce();
      } while (again);
    } finally {
      draining = false;
    }
  };
  const drainOnce = (): void => {
    for (let k = 0; k < waiters.length; ) {
      const w = waiters[k];
      let got: Take;
      try {
        got = tryTake(w.hop, w.opts);
      } catch (e) {
        waiters.splice(k, 1);
        w.cleanup();
        w.reject(e as RelayError);
        continue;
      }
      if (isLease(got)) {
        waiters.splice(k, 1);
        w.cleanup();
        w.resolve(got);
        continue;
      }
      w.kind = got.wait;
      k++;
    }
    publishWaiting();
  };
  availability.events.on('change', drain);

  /** With an owner map: look the conversation up first, remember the instance it gets. */
  const acquire = (hop: Hop, o: AcquireOptions = {}): Promise<Lease> => {
    const owners = opts.owners;
    const affinity = hop.affinity;
    if (!owners || affinity === undefined || !hop.request) return take(hop, o);
    const key = `${hop.provider.name}:${o.callCtx?.apiKeyId ?? ''}:${affinity}`;
    const remember = (l: Lease): Lease => {
      owners.set(key, l.instance.name);
      return l;
    };
    // A copy with the owner (the caller's hop stays as it was), field by field: no spread, which
    // would drop an `affinity` getter (the dispatcher's hop has one on its prototype).
    const owned = (owner: string | undefined): Hop => ({ provider: hop.provider, target: hop.target, request: hop.request, affinity, owner });
    const known = owners.get(key);
    if (known === undefined || typeof known === 'string') return take(owned(known), o).then(remember);
    return known.then((owner) => take(owned(owner), o)).then(remember);
  };

  const take = (hop: Hop, o: AcquireOptions): Promise<Lease> => {
    if (o.signal?.aborted) return Promise.reject(errors.cancelled());
    const { provider } = hop;
    let first: Take;
    try {
      first = tryTake(hop, o);
    } catch (e) {
      return Promise.reject(e);
    }
    if (isLease(first)) return Promise.resolve(first);
    const slotMs = o.waitMs ?? opts.waitMs ?? 30_000;
    const waitMs = first.wait === 'serving' ? (o.readyWaitMs ?? slotMs) : slotMs;
    return new Promise<Lease>((resolve, reject) => {
      const onAbort = (): void => {
        remove();
        reject(errors.cancelled());
      };
      const timer = clock.setTimeout(() => {
        remove();
        if (w.kind === 'slot') {
          reject(errors.rateLimited(`Every instance of '${provider.name}' is busy.`, Math.max(1, waitMs / 1000), 'instances_busy'));
          return;
        }
        const why = candidates(provider, o.exclude).map((i) => availability.of(i).reason).join('; ');
        reject(errors.unavailable(`No instance of '${provider.name}' became ready within ${waitMs} ms (${why}).`, {
          code: 'no_instance_ready', retryable: true, retryAfter: 5,
        }));
      }, waitMs);
      timer.unref();
      const w: Waiter = {
        kind: first.wait, hop, opts: o, resolve, reject,
        cleanup() {
          clock.clearTimeout(timer);
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
    availability,
    acquire,
    acquireOn: (provider, instance, o) => {
      // The provider as far as the pool reads it, narrowed to the one instance.
      const one = { name: provider.name, instances: () => provider.instances().filter((i) => i.name === instance) } as Pick<Provider, 'name' | 'instances'>;
      return take({ provider: one as Provider }, o ?? {});
    },
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
          serving: availability.of(i).serving,
        })),
      ),
  };
}
