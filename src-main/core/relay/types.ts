/** What a host gives `createCore`, and the running relay it gets back. */
import type { Inspector } from '../inspector/index';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Discovery } from '../backends/discovery';
import type { LingmaMode, RegistryDeps } from '../backends/registry';
import type { Provider } from '../backends/types';
import type { KeyStore } from '../config/keys';
import type { LiveSettings } from '../config/live-settings';
import type { Config, ProviderConfig } from '../config/schema';
import type { Admission } from '../dispatch/admission';
import type { EventHub } from '../events';
import type { GatewayPlugin } from '../gateway/build';
import type { Metrics } from '../gateway/metrics';
import type { Ledger } from '../ledger/index';
import type { AvailabilityModel } from '../pool/availability-model';
import type { Pool } from '../pool/pool';
import type { Clock, LoginDriver, ProcessSpawner, SecretStore } from '../ports';
import type { RelayResolver } from '../routing/aliases';
import type { RelayHealthCache } from '../routing/health';
import type { ReloadOutcome } from '../routing/types';
import type { ProviderManager } from './providers';

export interface CoreDeps {
  config: Config;
  dataDir: string;
  secrets: SecretStore;
  loginDriver?: LoginDriver;
  spawner?: ProcessSpawner;
  clock?: Clock;
  /** Default: JSON lines on stderr at `server.logLevel`, forwarded to the hub. */
  logger?: Logger;
  /** The event hub (pass the one your logger forwards to); default: a new one. */
  hub?: EventHub;
  /**
   * The backends (default: every configured kind, through the registry's `createProviders`).
   * Tests pass fakes here; the rest of the wiring stays the production one.
   */
  providers?: (deps: RegistryDeps) => Provider[];
  /** Run the Lingma pool: `auto` (default: when accounts exist), `always` (desktop), `never`. */
  lingma?: LingmaMode;
  /** Extra allowed origins (e.g. the desktop app's custom protocol). */
  extraOrigins?: string[];
  /** More fastify plugins, registered after the built-in ones. */
  extraPlugins?: GatewayPlugin[];
  /** Where the built dashboard lives (default `<repo>/dist/renderer`). */
  rendererDir?: string;
  /** Process metrics (`relay_process_*`) on /metrics. Default true. */
  processMetrics?: boolean;
  version?: string;
  env?: NodeJS.ProcessEnv;
  /** `serve --discover`: scan for local servers at start and use every one found, unasked. */
  discover?: boolean;
}

export interface Relay {
  readonly config: Config;
  readonly dataDir: string;
  readonly hub: EventHub;
  readonly metrics: Metrics;
  readonly keys: KeyStore;
  readonly providers: readonly Provider[];
  readonly resolver: RelayResolver;
  readonly health: RelayHealthCache;
  readonly admission: Admission;
  readonly pool: Pool;
  /** The one "can this instance serve?" answer and its credit cool-downs (`pool.availability`). */
  readonly availability: AvailabilityModel;
  readonly ledger: Ledger;
  /** Redacted captures of recent requests (core/inspector). */
  readonly inspector: Inspector;
  readonly secrets: SecretStore;
  readonly app: FastifyInstance;
  readonly log: Logger;
  readonly version?: string;
  readonly rendererDir?: string;
  /** The admin token in force. */
  adminToken(): string;
  /** Secrets generated on this start (first run only): the host shows them once. */
  readonly firstRun: { apiKey?: string; adminToken?: string };
  start(): Promise<void>;
  /** Listen; resolves with the base URL (real port when 0 was asked for). */
  listen(opts?: { host?: string; port?: number }): Promise<string>;
  /** Base URL once listening (`http://127.0.0.1:8420`); empty before. */
  url(): string;
  stop(): Promise<void>;
  /** Resolves once every finished request has reached its observers (metrics, live hub, ledger queue, inspector). */
  observed(): Promise<void>;
  reloadAliases(): ReloadOutcome | undefined;
  /** Apply live settings already written into `config` (admission limits). */
  /** Apply a settings change at once and save it for the next start (`<data dir>/settings.json`). */
  applySettings(change: LiveSettings): void;
  /** Local servers and an installed Lingma found on this machine, offered to a person. */
  readonly discovery: Discovery;
  /**
   * Add an OpenAI-compatible provider while running (routing, health and the dashboard see it at
   * once) and keep it for the next start (`settings.json`). Throws when the name is taken.
   */
  addProvider(cfg: ProviderConfig): Promise<void>;
  /** OpenAI-compatible providers added, edited and removed from the dashboard (keys in the secret store). */
  readonly managedProviders: ProviderManager;
}
