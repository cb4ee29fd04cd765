/**
 * What the admin API needs from the running relay: one required, typed `AdminDeps`, built once by
 * `core/relay.ts` (tests build the same from real parts: test/helpers/admin.ts). Functions are
 * called at request time, so the plugin always shows the live state.
 */
import type { Config } from '../config/schema';
import type { KeyStore } from '../config/keys';
import type { SecretStore } from '../ports';
import type { EventHub } from '../events';
import type { Instance, Provider } from '../backends/types';
import type { LingmaAccountsApi } from '../backends/lingma/accounts-api';
import type { SessionCacheStats } from '../backends/lingma/session-cache';
import type { Admission } from '../dispatch/admission';
import type { AvailabilityView, DiscoveredServer, DiscoveryView } from '../state-types';
import type { AliasSource } from '../routing/reload';
import type { HealthCache, Resolver } from '../routing/types';
import type { Inspector } from '../inspector/index';
import type { BackendTestResult } from '../inspector/types';
import type { AdminLedgerStatus, AdminProviderView, SettingsPatch } from './api-types';
import type { ProviderAddBody, ProviderEditBody } from './schemas';
import type { KeyUsage } from '../ledger/key-usage';

export interface AdminDeps {
  config: Config;
  hub: EventHub;
  providers: () => readonly Provider[];
  /** The Lingma provider's account API; `null` when no Lingma backend runs (accounts not editable). */
  accounts: LingmaAccountsApi | null;
  /** Session-reuse counters (the Lingma provider's); `null` without one. */
  sessionCache: (() => SessionCacheStats) | null;
  resolver: Resolver;
  /** Routing's alias source: the file, its raw definitions, and `save(text)`. */
  aliases: AliasSource;
  health: HealthCache;
  admission: Pick<Admission, 'stats'>;
  /** The one availability answer and its cool-downs (core/pool/availability-model.ts). */
  availability: { of(instance: Instance): AvailabilityView; clear(name: string): void };
  /** Calls in flight per instance (the pool). */
  pool: { inFlight(instance: string): number };
  keys: Pick<KeyStore, 'list' | 'create' | 'revoke' | 'primaryKey' | 'primaryId' | 'setLimits' | 'replacePrimary' | 'replayTicket'>;
  /** Per key id: last use, requests and tokens today (core/ledger/key-usage.ts); {} with the ledger off. */
  keyUsage(ids: readonly string[]): Promise<Record<string, KeyUsage>>;
  /** The request inspector's captures (core/inspector). */
  inspector: Pick<Inspector, 'get' | 'list' | 'capturing' | 'persisted' | 'linkReplay'>;
  /** One tiny chat on the named instance (core/dispatch/backend-test.ts). */
  testBackend(instance: string, req: { model?: string; prompt?: string }): Promise<BackendTestResult>;
  ledger: { status(): AdminLedgerStatus };
  secrets: { protection: SecretStore['protection'] };
  /** Base URL of the listening gateway (`http://127.0.0.1:8420`); empty before it listens. */
  url(): string;
  /** Apply a settings change everywhere (config, loggers, admission) and save it for the next start. */
  applySettings(patch: SettingsPatch): void;
  /** Where the built dashboard lives. */
  rendererDir: string;
  version: string;
  /** The data folder (client-config backups live under it). */
  dataDir: string;
  /** OpenAI-compatible providers managed from the dashboard (core/relay/providers.ts). */
  providerAdmin: {
    list(): AdminProviderView[];
    add(body: ProviderAddBody): Promise<void>;
    edit(name: string, patch: ProviderEditBody): Promise<void>;
    remove(name: string): Promise<void>;
  };
  /** Local servers and an installed Lingma found on this machine (core/backends/discovery.ts). */
  discovery: {
    view(): DiscoveryView;
    scan(): Promise<DiscoveryView>;
    use(id: string): Promise<DiscoveredServer>;
  };
}

export function findInstance(deps: Pick<AdminDeps, 'providers'>, name: string): { provider: Provider; instance: Instance } | undefined {
  for (const provider of deps.providers()) {
    for (const instance of provider.instances()) if (instance.name === name) return { provider, instance };
  }
  return undefined;
}
