/** Builds the admin snapshot from the relay. Never includes a password or an upstream key. */
import { nodeNameOf } from '../cluster/index';
import type { Instance, InstanceSnapshot, Provider } from '../backends/types';
import { modelExists } from '../routing/alias-document';
import type { AvailabilityView } from '../pool/availability';
import type { AliasInfo, HealthSnapshot } from '../routing/types';
import type {
  AdminAccount, AdminAlias, AdminAliasTarget, AdminApiKey, AdminHealth, AdminInstance, AdminSettings, AdminSnapshot, LoginState,
} from './api-types';
import type { PublicAccount } from '../backends/lingma/accounts';
import type { AdminDeps } from './deps';
import type { LiveTracker } from './live';

export interface StateContext {
  deps: AdminDeps;
  tracker: LiveTracker;
  startedAt: number;
  /** Fallback base URL (from the request's Host) when the relay does not listen yet. */
  baseUrl?: string;
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
      return l.rejected ? { state: 'failed', reason: l.reason, rejected: true } : { state: 'failed', reason: l.reason };
    default:
      return { state: l.state };
  }
}

/** The one availability answer (the relay's model), without the pool's wait handle. */
function availabilityView(deps: AdminDeps, instance: Instance, snap: InstanceSnapshot): AvailabilityView {
  let a: AvailabilityView & { wait?: unknown };
  try {
    a = deps.availability.of(instance);
  } catch {
    a = {
      serving: false, status: 'stopped', reason: `${snap.name} cannot be read`, clearable: false,
      display: { kind: 'stopped', label: 'Stopped', detail: 'its state cannot be read', process: 'unknown' },
    };
  }
  const { wait: _wait, ...view } = a;
  return view;
}

export function instanceView(ctx: StateContext, instance: Instance, snap: InstanceSnapshot = instance.snapshot()): AdminInstance {
  const { deps } = ctx;
  const inFlight = deps.pool.inFlight(instance.name);
  let health: AdminHealth | undefined;
  try {
    health = toHealth(deps.health.snapshot(instance.name));
  } catch {
    health = undefined;
  }
  const availability = availabilityView(deps, instance, snap);
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
  for (const p of ctx.deps.providers()) {
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

function targetView(label: string, instances: AdminInstance[], knownProviders: Set<string>, providers: readonly Provider[]): AdminAliasTarget {
  const slash = label.indexOf('/');
  const provider = slash > 0 ? label.slice(0, slash) : label;
  const mine = instances.filter((i) => i.provider === provider);
  const ready = mine.filter((i) => i.availability?.serving === true).length;
  let status: AdminAliasTarget['status'] = 'unknown';
  if (knownProviders.has(provider) && mine.length) status = ready === mine.length ? 'ok' : ready > 0 ? 'degraded' : 'down';
  else if (knownProviders.has(provider)) status = 'down';
  const view: AdminAliasTarget = { label, provider, ready, total: mine.length, status };
  if (!modelExists(label, providers)) view.unknownModel = true;
  return view;
}

export function aliasesView(ctx: StateContext, instances = instancesView(ctx)): AdminAlias[] {
  let infos: AliasInfo[] = [];
  try {
    infos = ctx.deps.resolver.aliases();
  } catch {
    infos = [];
  }
  const providers = ctx.deps.providers();
  const known = new Set(providers.map((p) => p.name));
  return infos.map((a) => ({
    name: a.name,
    description: a.description,
    chain: a.chain,
    expanded: a.expanded,
    pattern: a.pattern,
    targets: a.expanded.map((l) => targetView(l, instances, known, providers)),
  }));
}

export function keysView(deps: AdminDeps): AdminApiKey[] {
  // SECURITY: only the store's prefix is shown; a whole key never leaves `create`.
  const primary = deps.keys.primaryId();
  return deps.keys.list().map((k) => ({
    id: k.id, name: k.name, prefix: k.prefix, source: k.source, revocable: k.revocable, createdAt: k.createdAt,
    limits: { ...k.limits }, dashboard: k.id === primary, editable: k.source !== 'config',
  }));
}

/** The keys with their usage today and last use (from the ledger, when it is on). */
export async function keysUsageView(deps: AdminDeps): Promise<AdminApiKey[]> {
  const keys = keysView(deps);
  const usage = await deps.keyUsage(keys.map((k) => k.id)).catch(() => ({}) as Awaited<ReturnType<AdminDeps['keyUsage']>>);
  return keys.map((k) => ({ ...k, ...usage[k.id] }));
}

/** Only whitelisted, non-secret fields of an account. */
export function accountView(a: PublicAccount): AdminAccount {
  return {
    name: a.name, username: a.username, dedicatedDomain: a.dedicatedDomain, maxConcurrency: a.maxConcurrency,
    disabled: a.disabled, hasPassword: a.hasPassword, source: a.source,
  };
}

export async function accountsView(deps: AdminDeps): Promise<AdminAccount[]> {
  if (!deps.accounts) return [];
  return (await deps.accounts.list()).map(accountView);
}

export function settingsView(deps: AdminDeps): AdminSettings {
  const c = deps.config;
  return {
    logLevel: c.server.logLevel,
    maxInFlight: c.limits.maxInFlight,
    queueTimeoutMs: c.limits.queueTimeoutMs,
    perKeyConcurrency: c.limits.perKeyConcurrency,
    firstByteTimeoutMs: c.limits.firstByteTimeoutMs,
    loginAuto: c.lingma.login.auto,
  };
}

export function sessionCacheView(deps: AdminDeps): AdminSnapshot['sessionCache'] {
  const cfg = deps.config.sessionCache;
  const s = deps.sessionCache?.();
  return { enabled: cfg.enabled, hits: s?.hits ?? 0, misses: s?.misses ?? 0, entries: s?.entries ?? 0, maxEntries: s?.maxEntries ?? cfg.maxEntries };
}

export function admissionView(ctx: StateContext): AdminSnapshot['admission'] {
  const s = ctx.deps.admission.stats();
  return { inFlight: s.inFlight, queued: s.queued, rejected: s.rejected, max: s.max ?? ctx.deps.config.limits.maxInFlight };
}

export function endpointOf(ctx: StateContext): string {
  const base = ctx.deps.url() || ctx.baseUrl || `http://127.0.0.1:${ctx.deps.config.server.port}`;
  return `${base.replace(/\/+$/, '')}/v1`;
}

export async function buildSnapshot(ctx: StateContext): Promise<AdminSnapshot> {
  const { deps, tracker } = ctx;
  const instances = instancesView(ctx);
  let ledger: AdminSnapshot['ledger'];
  try {
    const s = deps.ledger.status();
    ledger = { state: s.state, reason: s.reason, queued: s.queued, written: s.written, dropped: s.dropped };
  } catch {
    ledger = { state: 'degraded', reason: 'status unavailable' };
  }
  const reload = deps.resolver.lastReload();
  return {
    now: Date.now(),
    startedAt: ctx.startedAt,
    version: deps.version,
    endpoint: endpointOf(ctx),
    apiKey: deps.keys.primaryKey(),
    instances,
    providers: deps.providers().map((p) => {
      let models: string[] = [];
      try {
        models = p.models().map((m) => `${p.name}/${m.id}`);
      } catch {
        models = [];
      }
      return { name: p.name, kind: p.kind, models };
    }),
    managedProviders: deps.providerAdmin.list(),
    aliases: aliasesView(ctx, instances),
    aliasesReload: reload ? { ...reload } : undefined,
    aliasesPath: deps.aliases.file,
    aliasesRaw: deps.aliases.raw(),
    sessionCache: sessionCacheView(deps),
    admission: admissionView(ctx),
    ledger,
    accounts: await accountsView(deps),
    accountsEditable: deps.accounts !== null,
    keys: await keysUsageView(deps),
    settings: settingsView(deps),
    secretProtection: deps.secrets.protection,
    live: [...tracker.live.values()],
    finished: tracker.recentFinished(),
    counters: [...tracker.counters],
    discovery: deps.discovery.view(),
    team: deps.config.cluster?.redisUrl ? { node: nodeNameOf(deps.config.cluster) } : undefined,
    logs: [...tracker.logs],
  };
}
