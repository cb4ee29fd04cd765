/**
 * The availability model: feeds `availabilityOf` (./availability.ts) with the health cache, the
 * credit cool-downs and each instance's snapshot, and tells the pool when any instance's answer
 * may have changed (`events.change`), so waiting requests wait on the pool, not on one instance.
 *
 * Credit cool-downs (Lingma spec §8): a quota error from a call, or a snapshot that says
 * `quota.exceeded`, takes the instance out of service until its reset time when known, else for
 * an exponential cool-down (1 minute, doubling per consecutive strike, at most a day). When it
 * ends the instance is re-checked: `onDue` runs a probe round (the health prober asks `due`), and
 * a probe that throws a quota error again adds a strike. A successful call forgets the strikes.
 * `clear` (the dashboard's "clear cool-down") removes every trace: cool-down, strikes, health
 * backoff, a snapshot's stale "exceeded" flag, and the metric.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Instance, InstanceSnapshot, Provider } from '../backends/types';
import { QuotaError, type RelayError } from '../errors';
import { safeLabel, type AvailabilityMetrics } from '../metrics-port';
import { systemClock, type Clock } from '../ports';
import type { HealthCache } from '../routing/types';
import { availabilityOf, type Availability } from './availability';
import { backoffDelay } from '../backoff';

export const BASE_COOLDOWN_MS = 60_000;
export const MAX_COOLDOWN_MS = 24 * 60 * 60 * 1000;

/** What changed: an instance's own state/login, the health cache, a cool-down, a person's clear. */
export type ChangeSource = 'instance' | 'health' | 'quota' | 'clear';

export interface AvailabilityEvents {
  change: [name: string, source: ChangeSource];
}

export interface AvailabilityModelOptions {
  health: HealthCache & { clear?(instance: string): void };
  /** Where `view(name)` looks instances up (and what `sync` watches). */
  providers?: () => readonly Provider[];
  clock?: Clock;
  metrics?: AvailabilityMetrics;
  log?: Logger;
  /** A cool-down ended: re-check now (the relay runs a probe round). */
  onDue?: () => void;
  baseCooldownMs?: number;
  maxCooldownMs?: number;
}

export interface AvailabilityModel {
  readonly events: EventEmitter<AvailabilityEvents>;
  /** The one answer for an instance (watches it from here on). */
  of(instance: Instance): Availability;
  /** By name, through `providers`; undefined for an unknown name. */
  view(name: string): Availability | undefined;
  /** The instance's account is out of credits / rate-limited: cool it down. Returns the end (epoch ms). */
  recordQuota(name: string, err?: { resetsAt?: number; message?: string }): number;
  /** A call succeeded: consecutive quota strikes are forgotten. */
  recordSuccess(name: string): void;
  /** A person cleared it: no cool-down, no strikes, no health backoff, no stale exceeded flag. */
  clear(name: string): void;
  /** Should the prober probe it now although the health cache thinks it healthy (a cool-down ended)? */
  due(instance: Instance): boolean;
  /** A probe's outcome. True when the model consumed the failure (a quota error is not ill health). */
  probed(instance: Instance, err?: RelayError): boolean;
  /** Watch every instance of `providers` now (new accounts) and publish the metric. */
  sync(): void;
  stop(): void;
}

interface Cooldown {
  strikes: number;
  /** End of the current cool-down; undefined once re-checked (strikes are kept until a success). */
  until?: number;
  timer?: NodeJS.Timeout;
}

export const isQuotaError = (e: unknown): e is RelayError & { resetsAt?: number } =>
  e instanceof QuotaError || (typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'quota_exceeded');

const quotaKey = (s: InstanceSnapshot): string => {
  const q = s.quota;
  const fromLogin = s.login.state === 'logged_in' && s.login.quotaExceeded === true;
  return `${q?.exceeded === true || fromLogin}:${q?.resetsAt ?? ''}`;
};
/**
 * A computed answer kept until something it was computed from may have changed: the snapshot's
 * fields the answer reads (compared on every read, so a backend that changes them without an
 * event is still seen), the health cache's verdict (its transitions invalidate), the cool-downs and
 * a person's clear (invalidate), the instance object (a reload that replaces it), and the time
 * (`expires`: the first cool-down end or reset time still ahead, where the answer's wording turns).
 */
interface Cached {
  inst: Instance;
  a: Availability;
  expires: number;
  healthy: boolean;
  /** The quota key matched `seenQuota` when cached (no notice pending). */
  noted: boolean;
  state: InstanceSnapshot['state'];
  reason: string | undefined;
  login: InstanceSnapshot['login'];
  quotaExceeded: boolean | undefined;
  resetsAt: number | undefined;
  hasQuota: boolean;
}

const loginSame = (a: InstanceSnapshot['login'], b: InstanceSnapshot['login']): boolean => {
  if (a === b) return true;
  if (a.state !== b.state) return false;
  switch (a.state) {
    case 'logged_in': {
      const o = b as typeof a;
      return a.user === o.user && a.quotaExceeded === o.quotaExceeded;
    }
    case 'failed': {
      const o = b as typeof a;
      return a.reason === o.reason && a.rejected === o.rejected;
    }
    case 'needs_manual': {
      const o = b as typeof a;
      return a.reason === o.reason && a.url === o.url;
    }
    default:
      return true;
  }
};

const snapshotExceeded = (s: InstanceSnapshot): boolean => s.quota?.exceeded === true || (s.login.state === 'logged_in' && s.login.quotaExceeded === true);

export function createAvailability(opts: AvailabilityModelOptions): AvailabilityModel {
  const clock = opts.clock ?? systemClock;
  const base = opts.baseCooldownMs ?? BASE_COOLDOWN_MS;
  const max = opts.maxCooldownMs ?? MAX_COOLDOWN_MS;
  const events = new EventEmitter<AvailabilityEvents>();
  events.setMaxListeners(0);
  const cooldowns = new Map<string, Cooldown>();
  /** A person cleared a snapshot's "exceeded": ignored until the snapshot's quota changes. */
  const overridden = new Map<string, string>();
  /** Last quota key seen per instance (to notice the backend's own transitions). */
  const seenQuota = new Map<string, string>();
  const watched = new WeakSet<Instance>();
  const byName = new Map<string, Instance>();
  const published = new Map<string, { provider: string; value: number }>();
  const unwatch: Array<() => void> = [];
  /** The last answer per instance name (see `Cached`); every change below drops it. */
  const cache = new Map<string, Cached>();
  const forget = (name: string): void => void cache.delete(name);

  const emit = (name: string, source: ChangeSource): void => {
    try {
      events.emit('change', name, source);
    } catch (err) {
      opts.log?.error({ instance: name, error: (err as Error).message }, 'availability listener failed');
    }
  };

  const compute = (inst: Instance, snap: InstanceSnapshot = inst.snapshot()): Availability => {
    const now = clock.now();
    const ignore = overridden.get(inst.name);
    const quotaStale = ignore !== undefined && ignore === quotaKey(snap);
    const login = quotaStale && snap.login.state === 'logged_in' ? { ...snap.login, quotaExceeded: undefined } : snap.login;
    const h = opts.health.snapshot(inst.name);
    return availabilityOf({
      name: inst.name,
      state: snap.state,
      stateReason: snap.reason,
      login,
      quota: quotaStale ? undefined : snap.quota,
      cooldownUntil: cooldowns.get(inst.name)?.until,
      health: { healthy: h.healthy, unhealthyUntil: h.unhealthyUntil, lastError: h.lastError, lastErrorAt: h.lastErrorAt },
      now,
    });
  };

  const publish = (inst: Instance, a: Availability = compute(inst)): void => {
    const m = opts.metrics;
    if (!m) return;
    const value = a.status === 'out_of_credits' ? 1 : 0;
    const was = published.get(inst.name);
    if (was && was.value === value && was.provider === inst.provider) return;
    // Bounded labels: configured provider and account names only.
    if (was && was.provider !== inst.provider) m.accountQuotaExceeded.remove({ provider: safeLabel(was.provider), instance: safeLabel(inst.name) });
    m.accountQuotaExceeded.set({ provider: safeLabel(inst.provider), instance: safeLabel(inst.name) }, value);
    published.set(inst.name, { provider: inst.provider, value });
  };

  const changed = (name: string, source: ChangeSource): void => {
    forget(name);
    const inst = byName.get(name);
    if (inst) publish(inst);
    emit(name, source);
  };

  const armTimer = (name: string, c: Cooldown): void => {
    if (c.timer) clock.clearTimeout(c.timer);
    c.timer = undefined;
    if (c.until === undefined) return;
    const ms = Math.max(0, c.until - clock.now());
    c.timer = clock.setTimeout(() => {
      c.timer = undefined;
      changed(name, 'quota');
      try {
        opts.onDue?.();
      } catch (err) {
        opts.log?.warn({ instance: name, error: (err as Error).message }, 're-check after cool-down failed to start');
      }
    }, ms);
    c.timer.unref?.();
  };

  const recordQuota = (name: string, err: { resetsAt?: number; message?: string } = {}): number => {
    const now = clock.now();
    let c = cooldowns.get(name);
    if (!c) {
      c = { strikes: 0 };
      cooldowns.set(name, c);
    }
    c.strikes++;
    const backoff = backoffDelay(c.strikes - 1, { baseMs: base, maxMs: max });
    const until = err.resetsAt !== undefined && err.resetsAt > now ? err.resetsAt : now + backoff;
    // A later report never shortens a known cool-down.
    c.until = Math.max(until, c.until !== undefined && c.until > now ? c.until : 0);
    armTimer(name, c);
    opts.log?.warn({ instance: name, until: new Date(c.until).toISOString(), strikes: c.strikes }, 'account out of credits or rate-limited; cooling down');
    changed(name, 'quota');
    return c.until;
  };

  /** Notice the backend's own quota transitions (new "exceeded" = one strike; cleared = re-checked). */
  const noticeSnapshot = (inst: Instance, snap: InstanceSnapshot): boolean => {
    const key = quotaKey(snap);
    const prev = seenQuota.get(inst.name);
    if (prev === key) return false;
    seenQuota.set(inst.name, key);
    const ignore = overridden.get(inst.name);
    if (ignore !== undefined && ignore !== key) overridden.delete(inst.name);
    if (overridden.has(inst.name)) return false;
    if (snapshotExceeded(snap)) {
      recordQuota(inst.name, { resetsAt: snap.quota?.resetsAt });
      return true;
    }
    const c = cooldowns.get(inst.name);
    if (prev !== undefined && prev.startsWith('true') && c?.until !== undefined) {
      // The backend says it serves again.
      c.until = undefined;
      armTimer(inst.name, c);
      changed(inst.name, 'quota');
      return true;
    }
    return false;
  };

  const watch = (inst: Instance): void => {
    byName.set(inst.name, inst);
    if (watched.has(inst)) return;
    watched.add(inst);
    const onEvent = (snap: InstanceSnapshot): void => {
      if (!noticeSnapshot(inst, snap)) changed(inst.name, 'instance');
    };
    inst.events.on('state', onEvent);
    inst.events.on('login', onEvent);
    unwatch.push(() => {
      inst.events.off('state', onEvent);
      inst.events.off('login', onEvent);
    });
    // Not from inside `of` (the pool may be choosing right now): after this call.
    queueMicrotask(() => {
      try {
        noticeSnapshot(inst, inst.snapshot());
      } catch {
        // a broken snapshot shows up in `of`
      }
    });
  };

  const onHealth = (s: { instance: string }): void => changed(s.instance, 'health');
  opts.health.events.on('transition', onHealth);

  const of = (inst: Instance): Availability => {
    watch(inst);
    const snap = inst.snapshot();
    const c = cache.get(inst.name);
    const now = clock.now();
    if (
      c !== undefined && c.inst === inst && c.noted && now < c.expires && c.state === snap.state && c.reason === snap.reason &&
      loginSame(c.login, snap.login) && c.hasQuota === (snap.quota !== undefined) && c.quotaExceeded === snap.quota?.exceeded &&
      c.resetsAt === snap.quota?.resetsAt && c.healthy === opts.health.isHealthy(inst.name)
    ) {
      return c.a;
    }
    const seen = seenQuota.get(inst.name);
    const noted = seen !== undefined && seen === quotaKey(snap);
    if (seen !== undefined && !noted) {
      // The backend changed its quota without an event: take note, tell listeners after this call.
      queueMicrotask(() => noticeSnapshot(inst, inst.snapshot()));
    }
    const a = compute(inst, snap);
    // Where the answer's wording turns with time: the first cool-down end or reset still ahead.
    let expires = Infinity;
    const cd = cooldowns.get(inst.name)?.until;
    if (cd !== undefined && cd > now) expires = cd;
    const r = snap.quota?.resetsAt;
    if (r !== undefined && r > now && r < expires) expires = r;
    cache.set(inst.name, {
      inst, a, expires, noted, healthy: opts.health.isHealthy(inst.name),
      state: snap.state, reason: snap.reason, login: snap.login,
      hasQuota: snap.quota !== undefined, quotaExceeded: snap.quota?.exceeded, resetsAt: snap.quota?.resetsAt,
    });
    return a;
  };

  const find = (name: string): Instance | undefined => {
    for (const p of opts.providers?.() ?? []) for (const i of p.instances()) if (i.name === name) return i;
    return byName.get(name);
  };

  return {
    events,
    of,
    view: (name) => {
      const inst = find(name);
      return inst ? of(inst) : undefined;
    },
    recordQuota,
    recordSuccess(name) {
      const c = cooldowns.get(name);
      if (!c || c.until !== undefined) return;
      cooldowns.delete(name);
    },
    clear(name) {
      const c = cooldowns.get(name);
      if (c?.timer) clock.clearTimeout(c.timer);
      cooldowns.delete(name);
      const inst = find(name);
      if (inst) {
        try {
          const snap = inst.snapshot();
          if (snapshotExceeded(snap)) overridden.set(name, quotaKey(snap));
          seenQuota.set(name, quotaKey(snap));
        } catch {
          // nothing to override
        }
      }
      opts.health.clear?.(name);
      opts.log?.info({ instance: name }, 'cool-down cleared by hand');
      changed(name, 'clear');
    },
    due(inst) {
      const c = cooldowns.get(inst.name);
      if (c?.until !== undefined && c.until <= clock.now()) return true;
      return false;
    },
    probed(inst, err) {
      const c = cooldowns.get(inst.name);
      if (err && isQuotaError(err)) {
        recordQuota(inst.name, { resetsAt: err.resetsAt, message: err.message });
        return true;
      }
      if (!err && c?.until !== undefined && c.until <= clock.now()) {
        let still = false;
        try {
          const snap = inst.snapshot();
          still = snapshotExceeded(snap) && overridden.get(inst.name) !== quotaKey(snap);
        } catch {
          still = false;
        }
        // The backend still says "exceeded": another, longer cool-down.
        if (still) {
          recordQuota(inst.name);
          return false;
        }
        // Re-checked and fine: serving again (strikes stay until a call succeeds).
        c.until = undefined;
        armTimer(inst.name, c);
        changed(inst.name, 'quota');
      }
      return false;
    },
    sync() {
      for (const p of opts.providers?.() ?? []) {
        for (const i of p.instances()) {
          watch(i);
          publish(i);
        }
      }
      // Removed accounts: drop their series.
      const live = new Set((opts.providers?.() ?? []).flatMap((p) => p.instances().map((i) => i.name)));
      for (const [name, was] of published) {
        if (live.has(name)) continue;
        opts.metrics?.accountQuotaExceeded.remove({ provider: safeLabel(was.provider), instance: safeLabel(name) });
        published.delete(name);
        byName.delete(name);
        forget(name);
      }
    },
    stop() {
      cache.clear();
      opts.health.events.off('transition', onHealth);
      for (const u of unwatch.splice(0)) u();
      for (const c of cooldowns.values()) if (c.timer) clock.clearTimeout(c.timer);
    },
  };
}
