/**
 * What the admin API needs from the running relay. `adminPlugin(relay)` takes the Relay object
 * from `core/relay.ts` (or anything shaped like it: tests pass fakes). Every member is read lazily
 * at request time, so the plugin can be registered before the relay has finished wiring itself,
 * and optional members that are missing simply show as "not available" in the dashboard.
 */
import type { Config, AliasConfig } from '../config/schema';
import type { EventHub } from '../events';
import type { Instance, Provider } from '../backends/types';
import type { AvailabilityView, DiscoveredServer, DiscoveryView } from '../state-types';
import type { HealthCache, Resolver, ReloadOutcome } from '../routing/types';
import type { AdminLedgerStatus, AccountInput, SettingsPatch } from './api-types';

export interface KeyListEntry {
  id: string;
  name?: string;
  prefix?: string;
  source?: string;
  revocable?: boolean;
  createdAt?: number;
  [k: string]: unknown;
}

/** The gateway's KeyStore (core/config/keys.ts), as far as the admin API uses it. */
export interface KeyStoreLike {
  list(): KeyListEntry[] | Promise<KeyListEntry[]>;
  create(name: string, limits?: Record<string, unknown>): { id: string; key: string } | Promise<{ id: string; key: string }>;
  revoke(id: string): unknown;
  /** The first usable key in full, for the dashboard's copy button (optional). */
  primaryKey?(): string | undefined;
}

/** The Lingma provider's account methods (core/backends/lingma). Duck-typed on providers. */
export interface AccountsProvider extends Provider {
  listAccounts(): unknown[] | Promise<unknown[]>;
  addAccount(input: AccountInput): unknown;
  updateAccount(name: string, patch: Partial<AccountInput>): unknown;
  removeAccount(name: string): unknown;
  login?(name: string): unknown;
  loginAll?(): unknown;
  logout?(name: string): unknown;
  restart?(name: string): unknown;
  sessionCacheStats?(): { hits?: number; misses?: number; entries?: number; maxEntries?: number };
}

export interface AdmissionLike {
  stats(): { inFlight: number; queued: number; rejected: number; max?: number };
}

export interface MetricsLike {
  sessionCacheHits?: { get(): Promise<{ values: { value: number }[] }> };
  sessionCacheMisses?: { get(): Promise<{ values: { value: number }[] }> };
}

export interface RelayLike {
  config: Config;
  hub: EventHub;
  dataDir?: string;
  /** The admin token (when it is not in `config.server.adminToken`, e.g. generated into the data dir). */
  adminToken?: string | (() => string | undefined);
  providers: readonly Provider[] | Map<string, Provider> | (() => readonly Provider[]);
  resolver?: Resolver;
  health?: HealthCache;
  admission?: AdmissionLike;
  /** The one availability answer and its cool-downs (core/pool/availability-model.ts). */
  availability?: {
    of(instance: Instance): AvailabilityView;
    clear(name: string): void;
  };
  /** Per-instance calls in flight (the pool). Without it, counted from live requests. */
  pool?: { inFlight?(instance: string): number };
  keys?: KeyStoreLike;
  ledger?: { status(): AdminLedgerStatus };
  metrics?: MetricsLike;
  secrets?: { protection: 'os' | 'basic' | 'file' };
  /** Base URL of the listening gateway, e.g. `http://127.0.0.1:8420`. */
  url?(): string;
  reloadAliases?(): ReloadOutcome | undefined | Promise<ReloadOutcome | undefined | void> | void;
  /** Optional aliases validator (routing's parseAliases); throws with a message naming the problem. */
  validateAliases?(raw: Record<string, AliasConfig>): void;
  /** Called after live settings were changed in `config` (e.g. to resize admission). */
  applySettings?(patch: SettingsPatch): void | Promise<void>;
  /** Where the built dashboard lives (defaults to `<repo>/dist/renderer`). */
  rendererDir?: string;
  version?: string;
  /** Local servers and an installed Lingma found on this machine (core/backends/discovery.ts). */
  discovery?: {
    view(): DiscoveryView;
    scan(): Promise<DiscoveryView>;
    use(id: string): Promise<DiscoveredServer>;
  };
}

export function providersOf(relay: RelayLike): readonly Provider[] {
  const p = relay.providers;
  if (typeof p === 'function') return p();
  if (p instanceof Map) return [...p.values()];
  return p ?? [];
}

export function accountsProvider(relay: RelayLike): AccountsProvider | undefined {
  return providersOf(relay).find(
    (p): p is AccountsProvider => typeof (p as Partial<AccountsProvider>).listAccounts === 'function',
  );
}

export function adminTokenOf(relay: RelayLike): string | undefined {
  const t = typeof relay.adminToken === 'function' ? relay.adminToken() : relay.adminToken;
  return t || relay.config.server.adminToken || undefined;
}

export function firstApiKey(relay: RelayLike): string | undefined {
  const fromStore = relay.keys?.primaryKey?.();
  if (fromStore) return fromStore;
  const k = relay.config.server.apiKeys?.[0];
  if (!k) return undefined;
  return typeof k === 'string' ? k : k.key;
}
