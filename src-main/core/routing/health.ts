/**
 * Health cache: per instance, consecutive failures, last error, unhealthy-until with capped
 * exponential backoff plus jitter. An unhealthy instance stays unhealthy until a call or a
 * background probe succeeds; the prober only retries it once its backoff has expired.
 *
 * Listeners hear transitions: healthy flips, and a changed backoff of an unhealthy instance. This module imports no metrics or dashboard
 * code: those subscribe to `events`.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Instance } from '../backends/types';
import { type RelayError, toRelayError } from '../errors';
import { systemClock, type Clock } from '../ports';
import type { HealthCache, HealthEvents, HealthSnapshot } from './types';
import { backoffDelay } from '../backoff';

export interface HealthOptions {
  /** Consecutive failures before an instance is unhealthy. */
  failureThreshold: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  clock?: Clock;
  /** 0..1 random source for jitter (tests pin it). */
  random?: () => number;
  log?: Logger;
}

export interface Prober {
  stop(): void;
  /** Run one probe round now (tests; also used right after start). Resolves when it is done. */
  tick(): Promise<void>;
}

/** How the availability model (core/pool/availability-model.ts) takes part in probing. */
export interface ProbeHooks {
  /** Probe this instance now although it is healthy (e.g. its credit cool-down ended). */
  due?(instance: Instance): boolean;
  /** Sees every outcome first; returning true consumes a failure (a quota error is not ill health). */
  outcome?(instance: Instance, error: RelayError | undefined): boolean;
}

export interface RelayHealthCache extends HealthCache {
  /**
   * Probe unhealthy instances whose backoff expired, every `intervalMs`. A success marks the
   * instance healthy; a failure extends its backoff.
   */
  startProbing(instances: () => readonly Instance[], intervalMs: number, probeTimeoutMs?: number, hooks?: ProbeHooks): Prober;
  /** Forget an instance (removed account). */
  forget(instance: string): void;
  /** A person cleared it: healthy, no failures, no backoff (listeners hear the flip). */
  clear(instance: string): void;
}

interface Entry {
  healthy: boolean;
  consecutiveFailures: number;
  lastError?: string;
  lastErrorAt?: number;
  unhealthyUntil?: number;
}

/** Fraction of the backoff added at random, so instances that failed together are not probed in lockstep. */
const JITTER = 0.2;

export function createHealthCache(opts: HealthOptions): RelayHealthCache {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const threshold = Math.max(1, opts.failureThreshold);
  const entries = new Map<string, Entry>();
  const events = new EventEmitter<HealthEvents>();
  events.setMaxListeners(0);

  const entry = (name: string): Entry => {
    let e = entries.get(name);
    if (!e) {
      e = { healthy: true, consecutiveFailures: 0 };
      entries.set(name, e);
    }
    return e;
  };

  const snap = (name: string, e: Entry | undefined): HealthSnapshot => {
    const s: HealthSnapshot = { instance: name, healthy: e?.healthy ?? true, consecutiveFailures: e?.consecutiveFailures ?? 0 };
    if (e?.lastError !== undefined) s.lastError = e.lastError;
    if (e?.lastErrorAt !== undefined) s.lastErrorAt = e.lastErrorAt;
    if (e && !e.healthy && e.unhealthyUntil !== undefined) s.unhealthyUntil = e.unhealthyUntil;
    return s;
  };

  const emit = (name: string, e: Entry): void => {
    const s = snap(name, e);
    // A throwing listener must not break request handling.
    try {
      events.emit('transition', s);
    } catch (err) {
      opts.log?.error({ instance: name, error: (err as Error).message }, 'health listener failed');
    }
  };

  const recordSuccess = (name: string): void => {
    const e = entry(name);
    const was = e.healthy;
    e.healthy = true;
    e.consecutiveFailures = 0;
    e.unhealthyUntil = undefined;
    if (!was) emit(name, e);
  };

  const recordFailure = (name: string, error: RelayError): void => {
    const e = entry(name);
    const was = e.healthy;
    const until = e.unhealthyUntil;
    e.consecutiveFailures++;
    // SECURITY: only the client-safe message is kept (RelayError messages hold no secrets by
    // contract; `detail` may hold upstream text and is never stored here).
    e.lastError = error.message;
    e.lastErrorAt = clock.now();
    if (e.consecutiveFailures >= threshold) {
      const backoff = backoffDelay(e.consecutiveFailures - threshold, { baseMs: opts.baseBackoffMs, maxMs: opts.maxBackoffMs, jitter: JITTER, random });
      e.healthy = false;
      e.unhealthyUntil = clock.now() + backoff;
    }
    // A flip to unhealthy, and also a longer backoff of an instance already unhealthy: its
    // "cooling down, retry in …" must show the new time, not count down to a stale one.
    if (!e.healthy && (was || e.unhealthyUntil !== until)) emit(name, e);
  };

  const startProbing = (instances: () => readonly Instance[], intervalMs: number, probeTimeoutMs = 10_000, hooks: ProbeHooks = {}): Prober => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const probing = new Set<string>();
    const probeOne = async (inst: Instance): Promise<void> => {
      probing.add(inst.name);
      const ctrl = new AbortController();
      const t = clock.setTimeout(() => ctrl.abort(), probeTimeoutMs);
      try {
        const wasHealthy = entries.get(inst.name)?.healthy ?? true;
        await inst.probe(ctrl.signal);
        if (!stopped) {
          hooks.outcome?.(inst, undefined);
          recordSuccess(inst.name);
          if (!wasHealthy) opts.log?.info({ instance: inst.name }, 'instance healthy again after probe');
        }
      } catch (err) {
        if (!stopped) {
          const e = toRelayError(err);
          if (!hooks.outcome?.(inst, e)) recordFailure(inst.name, e);
        }
      } finally {
        clock.clearTimeout(t);
        probing.delete(inst.name);
      }
    };
    const lastState = new Map<string, string>();
    const tick = async (): Promise<void> => {
      const now = clock.now();
      const due = instances().filter((i) => {
        const state = i.state();
        // Process state and login state together: an instance that just became ready, or just got
        // logged in while ready, is probed at once whatever its backoff.
        const login = state === 'ready' ? i.snapshot().login.state : '';
        const marker = `${state}:${login}`;
        const was = lastState.get(i.name);
        lastState.set(i.name, marker);
        if (probing.has(i.name) || state === 'closed') return false;
        if (state === 'ready' && hooks.due?.(i)) return true;
        const e = entries.get(i.name);
        if (!e || e.healthy) {
          // A backend that needs no login (an HTTP provider) is checked once as soon as it is
          // ready, so a dead base URL shows as unhealthy before the first request hits it.
          return state === 'ready' && login === 'not_applicable' && was !== marker;
        }
        return (e.unhealthyUntil ?? 0) <= now || (state === 'ready' && was !== undefined && was !== marker);
      });
      await Promise.all(due.map(probeOne));
    };
    const schedule = (): void => {
      if (stopped) return;
      timer = clock.setTimeout(() => {
        void tick().finally(schedule);
      }, intervalMs);
      timer.unref?.();
    };
    schedule();
    return {
      tick,
      stop() {
        stopped = true;
        if (timer) clock.clearTimeout(timer);
      },
    };
  };

  return {
    events,
    isHealthy: (name) => entries.get(name)?.healthy ?? true,
    recordSuccess,
    recordFailure,
    snapshot: (name) => snap(name, entries.get(name)),
    all: () => [...entries].map(([name, e]) => snap(name, e)),
    startProbing,
    forget: (name) => void entries.delete(name),
    clear: (name) => {
      const e = entries.get(name);
      entries.delete(name);
      if (e && !e.healthy) emit(name, { healthy: true, consecutiveFailures: 0 });
    },
  };
}
