/** Builds the admin snapshot from the relay. Never includes a password or an upstream key. */
import type { Instance, InstanceSnapshot, Provider } from '../backends/types';
import { availabilityOf, type AvailabilityView } from '../pool/availability';
import type { AliasInfo, HealthSnapshot } from '../routing/types';
import type {
  AdminAccount, AdminAlias, AdminAliasTarget, AdminApiKey, AdminHealth, AdminInstance, AdminSettings, AdminSnapshot, LoginState,
} from './api-types';
import { accountsProvider, firstApiKey, providersOf, type RelayLike } from './deps';
import type { LiveTracker } from './live';

export interface StateContext {
  relay: RelayLike;
  tracker: LiveTracker;
  startedAt: number;
  /** Fallback base URL (from the request's Host) when the relay cannot tell its own. */
  baseUrl?: string;
  aliasesPath?: string;
  aliasesRaw?: () => Record<string, unknown> | undefined;
}

export function findInstance(relay: RelayLike, name: string): { provider: Provider; instance: Instance } | undefined {
  for (const provider of providersOf(relay)) {
    for (const instance of provider.instances()) if (instance.name === name) return { provider, instance };
  }
  return undefined;
}

function toHealth(h: HealthSnapshot | undefined): AdminHealth | undefined {
  if (!h) return undefined;
  return {
    instance: h.instance, healthy: h.healthy, consecutiveFailures: h.consecutiveFailures,
    lastError: h.lastError, lastErrorAt: h.lastErrorAt, unhealthyUntil: h.unhealthyUntil,
  };
}

function toLogin(l: InstanceSnapshot['login'] | undefined): LoginState {
  if (!l) return { state: 'not_applicable' };
  switch (l.state) {
    case 'logged_in':
      return { state: 'logged_in', user: l.user, quotaExceeded: l.quotaExceeded };
    case 'needs_manual':
      // SECURITY: the manual-login URL goes only to the admin-token holder (this channel), who must
      // open it to finish a captcha; it is never logged or put in client-facing errors.
      return { state: 'needs_manual', url: l.url, reason: l.reason };
    case 'failed':
      return { state: 'failed', reason: l.reason };
    default:
      return { state: l.state };
  }
}

/** The one availability answer (the relay's model; without one, the same function over what is known here). */
function availabilityView(relay: RelayLike, instance: Instance, snap: InstanceSnapshot, health: AdminHealth | undefined): AvailabilityView {
  let a: AvailabilityView & { wait?: unknown };
  try {
    a = relay.availability
      ? relay.availability.of(instance)
      : availabilityOf({
        name: snap.name, state: snap.state, stateReason: snap.reason, login: snap.login, quota: snap.quota, now: Date.now(),
        health: health ? { healthy: health.healthy, unhealthyUntil: health.unhealthyUntil, lastError: health.lastError } : undefined,
      });
  } catch {
    a = { serving: false, status: 'stopped', reason: `${snap.name} cannot be read`, clearable: false };
  }
  const { wait: _wait, ...view } = a;
  return view;
}

export function instanceView(ctx: StateContext, instance: Instance, snap: InstanceSnapshot = instance.snapshot()): AdminInstance {
  const { relay, tracker } = ctx;
  const poolCount = relay.pool?.inFlight?.(instance.name);
  const inFlight = typeof poolCount === 'number' ? poolCount : tracker.inFlightOf(instance.name);
  let health: AdminHealth | undefined;
  try {
    health = toHealth(relay.health?.snapshot(instance.name));
  } catch {
    health = undefined;
  }
  const availability = availabilityView(relay, instance, snap, health);
  return {
    name: snap.name,
    provider: snap.provider,
    kind: snap.kind,
    state: snap.state,
    reason: snap.reason,
    login: toLogin(snap.login),
    inFlight,
    limit: instance.maxConcurrency,
    lastError: snap.lastError,
    startedAt: snap.startedAt,
    restarts: snap.restarts ?? 0,
    health,
    availability,
    actions: {
      login: typeof instance.login === 'function',
      logout: typeof instance.logout === 'function',
      restart: typeof instance.restart === 'function' || typeof instance.start === 'function',
    },
    extra: snap.extra,
  };
}

export function instancesView(ctx: StateContext): AdminInstance[] {
  const out: AdminInstance[] = [];
  for (const p of providersOf(ctx.relay)) {
    for (const i of p.instances()) {
      try {
        out.push(instanceView(ctx, i));
      } catch {
        // A broken snapshot must not take the whole dashboard down.
      }
    }
  }
  return out;
}

function targetView(label: string, instances: AdminInstance[], knownProviders: Set<string>): AdminAliasTarget {
  const slash = label.indexOf('/');
  const provider = slash > 0 ? label.slice(0, slash) : label;
  const mine = instances.filter((i) => i.provider === provider);
  const ready = mine.filter((i) => i.availability?.serving === true).length;
  let status: AdminAliasTarget['status'] = 'unknown';
  if (knownProviders.has(provider) && mine.length) status = ready === mine.length ? 'ok' : ready > 0 ? 'degraded' : 'down';
  else if (knownProviders.has(provider)) status = 'down';
  return { label, provider, ready, total: mine.length, status };
}

export function aliasesView(ctx: StateContext, instances = instancesView(ctx)): AdminAlias[] {
  let infos: AliasInfo[] = [];
  try {
    infos = ctx.relay.resolver?.aliases() ?? [];
  } catch {
    infos = [];
  }
  const known = new Set(providersOf(ctx.relay).map((p) => p.name));
  return infos.map((a) => ({
    name: a.name,
    description: a.description,
    chain: a.chain,
    expanded: a.expanded,
    pattern: a.pattern,
    targets: a.expanded.map((l) => targetView(l, instances, known)),
  }));
}

export async function keysView(relay: RelayLike): Promise<AdminApiKey[]> {
  if (!relay.keys) return [];
  const list = await relay.keys.list();
  return list.map((k) => ({
    id: String(k.id),
    name: typeof k.name === 'string' ? k.name : undefined,
    // SECURITY: only the store's prefix is shown; a whole key never leaves `create`.
    prefix: typeof k.prefix === 'string' ? k.prefix : `${String(k.id).slice(0, 6)}…`,
    source: typeof k.source === 'string' ? k.source : 'config',
    revocable: typeof k.revocable === 'boolean' ? k.revocable : k.source !== 'config' && k.source !== 'env',
    createdAt: typeof k.createdAt === 'number' ? k.createdAt : undefined,
  }));
}

/** Only whitelisted, non-secret fields of an account. */
export function accountView(raw: unknown): AdminAccount | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const a = raw as Record<string, unknown>;
  const username = typeof a.username === 'string' ? a.username : undefined;
  const name = typeof a.name === 'string' ? a.name : typeof a.instance === 'string' ? a.instance : username;
  if (!username || !name) return undefined;
  return {
    name,
    username,
    dedicatedDomain: typeof a.dedicatedDomain === 'string' ? a.dedicatedDomain : undefined,
    maxConcurrency: typeof a.maxConcurrency === 'number' ? a.maxConcurrency : undefined,
    disabled: typeof a.disabled === 'boolean' ? a.disabled : undefined,
    hasPassword: a.hasPassword === true,
    source: typeof a.source === 'string' ? a.source : 'runtime',
  };
}

export async function accountsView(relay: RelayLike): Promise<AdminAccount[]> {
  const p = accountsProvider(relay);
  if (!p) return [];
  const list = await p.listAccounts();
  return list.map(accountView).filter((a): a is AdminAccount => !!a);
}

export function settingsView(relay: RelayLike): AdminSettings {
  const c = relay.config;
  return {
    logLevel: c.server.logLevel,
    maxInFlight: c.limits.maxInFlight,
    queueTimeoutMs: c.limits.queueTimeoutMs,
    perKeyConcurrency: c.limits.perKeyConcurrency,
    firstByteTimeoutMs: c.limits.firstByteTimeoutMs,
    loginAuto: c.lingma.login.auto,
  };
}

async function counterValue(c: { get(): Promise<{ values: { value: number }[] }> } | undefined): Promise<number> {
  if (!c) return 0;
  try {
    const v = await c.get();
    return v.values.reduce((s, x) => s + x.value, 0);
  } catch {
    return 0;
  }
}

export async function sessionCacheView(relay: RelayLike): Promise<AdminSnapshot['sessionCache']> {
  const cfg = relay.config.sessionCache;
  const fromProvider = accountsProvider(relay)?.sessionCacheStats?.();
  const hits = fromProvider?.hits ?? (await counterValue(relay.metrics?.sessionCacheHits));
  const misses = fromProvider?.misses ?? (await counterValue(relay.metrics?.sessionCacheMisses));
  return {
    enabled: cfg.enabled,
    hits,
    misses,
    entries: fromProvider?.entries ?? 0,
    maxEntries: fromProvider?.maxEntries ?? cfg.maxEntries,
  };
}

export function admissionView(ctx: StateContext): AdminSnapshot['admission'] {
  const max = ctx.relay.config.limits.maxInFlight;
  try {
    const s = ctx.relay.admission?.stats();
    if (s) return { inFlight: s.inFlight, queued: s.queued, rejected: s.rejected, max: s.max ?? max };
  } catch {
    // fall through to the tracker's view
  }
  return { inFlight: ctx.tracker.live.size, queued: 0, rejected: 0, max };
}

export function endpointOf(ctx: StateContext): string {
  let base = ctx.baseUrl ?? `http://127.0.0.1:${ctx.relay.config.server.port}`;
  try {
    const u = ctx.relay.url?.();
    if (u) base = u;
  } catch {
    // not listening yet: keep the fallback
  }
  return `${base.replace(/\/+$/, '')}/v1`;
}

export async function buildSnapshot(ctx: StateContext): Promise<AdminSnapshot> {
  const { relay, tracker } = ctx;
  const instances = instancesView(ctx);
  let ledger: AdminSnapshot['ledger'] = relay.ledger || relay.config.ledger.enabled ? undefined : { state: 'disabled' };
  try {
    const s = relay.ledger?.status();
    if (s) ledger = { state: s.state, reason: s.reason, queued: s.queued, written: s.written, dropped: s.dropped };
  } catch {
    ledger = { state: 'degraded', reason: 'status unavailable' };
  }
  const reload = relay.resolver?.lastReload();
  return {
    now: Date.now(),
    startedAt: ctx.startedAt,
    version: relay.version ?? '0.1.0',
    endpoint: endpointOf(ctx),
    apiKey: firstApiKey(relay),
    instances,
    providers: providersOf(relay).map((p) => {
      let models: string[] = [];
      try {
        models = p.models().map((m) => `${p.name}/${m.id}`);
      } catch {
        models = [];
      }
      return { name: p.name, kind: p.kind, models };
    }),
    aliases: aliasesView(ctx, instances),
    aliasesReload: reload ? { ...reload } : undefined,
    aliasesPath: ctx.aliasesPath,
    aliasesRaw: ctx.aliasesRaw?.(),
    sessionCache: await sessionCacheView(relay),
    admission: admissionView(ctx),
    ledger,
    accounts: await accountsView(relay),
    accountsEditable: !!accountsProvider(relay),
    keys: await keysView(relay),
    settings: settingsView(relay),
    secretProtection: relay.secrets?.protection,
    live: [...tracker.live.values()],
    counters: [...tracker.counters],
    discovery: relay.discovery?.view(),
    logs: [...tracker.logs],
  };
}
