/**
 * The admin API's wire types, shared by the gateway (src-main/core/admin) and the dashboard
 * (src-renderer). Pure types: no Node imports, because the renderer compiles this file with DOM
 * libs only. Shapes core also uses come from the import-free core/state-types.ts and
 * core/ledger/types.ts; the rest are the admin API's own.
 *
 * No field ever carries a password, an upstream API key or a login-automation detail. The only
 * secret in a snapshot is `apiKey` (the first client API key, for the copy button), which the
 * admin token holder may see anyway.
 */
import type { UsageRow } from '../ledger/types';
import type { AvailabilityView, DiscoveryView, HealthSnapshot, InstanceState, LiveRequest, LoginState, LogLine, ReloadOutcome } from '../state-types';

export type { AvailabilityStatus, AvailabilityView, DiscoveredServer, DiscoveryView, InstanceState, LoginState, StatusAction, StatusDisplay, StatusKind } from '../state-types';
export type { LogLevel } from '../state-types';
export type AdminLogLine = LogLine;
export type AdminLiveRequest = LiveRequest;

export type AdminHealth = HealthSnapshot;

export interface AdminInstance {
  name: string;
  provider: string;
  kind: string;
  state: InstanceState;
  reason?: string;
  login: LoginState;
  inFlight: number;
  limit: number;
  lastError?: string;
  startedAt?: number;
  restarts: number;
  health?: AdminHealth;
  /**
   * Can it serve, and why not: the one answer (core/pool/availability.ts) the pool routes by.
   * Absent only in the last event of an instance that was just removed.
   */
  availability?: AvailabilityView;
  /** Which actions this instance supports. */
  actions: { login: boolean; logout: boolean; restart: boolean };
  extra?: Record<string, unknown>;
}

/** `POST /admin/instances/:name/check`: the instance's own check, run now (the tiny-chat test is `/test`, core/inspector). */
export interface TestInstanceResult {
  ok: boolean;
  /** One client-safe sentence. */
  message: string;
  ms: number;
  availability: AvailabilityView;
}

export interface AdminAliasTarget {
  /** `provider/model` */
  label: string;
  provider: string;
  /** Instances of that provider that are serving / total. */
  ready: number;
  total: number;
  status: 'ok' | 'degraded' | 'down' | 'unknown';
  /** No provider lists this model (shown red: "unknown model"). */
  unknownModel?: boolean;
}

/** A target no provider lists, found when aliases are read or saved. */
export interface AliasWarning {
  alias: string;
  target: string;
  message: string;
}

/** `POST /admin/aliases/test`: one tiny chat through the gateway and the path it took. */
export interface AliasTestResult {
  ok: boolean;
  status: number;
  model: string;
  /** `x-relay-resolved`: the `provider/model` that answered. */
  resolved?: string;
  alias?: string;
  /** The attempts in order (from the inspector's timeline; empty with the inspector off). */
  path: { target: string; instance?: string; outcome: string; reason?: string }[];
  answer?: string;
  error?: string;
  requestId: string;
}

/** `409` from `PUT /admin/aliases` when the file on disk is broken and `confirm` was not sent. */
export interface AliasesBrokenBody extends AdminErrorBody {
  problem: string;
  diff: string;
}

export interface AdminAlias {
  name: string;
  description?: string;
  chain: string[];
  expanded: string[];
  pattern: boolean;
  targets: AdminAliasTarget[];
}

export type AdminReloadOutcome = ReloadOutcome;

export interface AdminAccount {
  /** Instance name. */
  name: string;
  username: string;
  dedicatedDomain?: string;
  maxConcurrency?: number;
  disabled?: boolean;
  hasPassword: boolean;
  /** `config` accounts are read-only here (edit the config file). */
  source: 'config' | 'runtime' | string;
}

export interface AdminApiKey {
  id: string;
  name?: string;
  /** Like `sk-relay-ab…`: never the whole key. */
  prefix: string;
  source: string;
  revocable: boolean;
  createdAt?: number;
  /** rpm, tokensPerDay, expiresAt, concurrency as set. */
  limits?: { rpm?: number; tokensPerDay?: number; expiresAt?: string; concurrency?: number };
  /** The key the dashboard's snippets and the tray use: revoking it needs a replacement. */
  dashboard?: boolean;
  /** Limits can be changed here (created keys). */
  editable?: boolean;
  /** From the usage ledger (absent when it is off). */
  lastUsed?: number;
  requestsToday?: number;
  tokensToday?: number;
}

/** `POST /admin/keys/:id/replace`. */
export interface ReplaceKeyResult {
  ok: true;
  revoked: string;
  /** The key now used by the dashboard. */
  id: string;
  /** The whole new key, when one was created: shown once. */
  key?: string;
}

export interface AdminCounters {
  time: number;
  /** Requests finished in the last second. */
  rps: number;
  /** Failed requests finished in the last second. */
  errors: number;
  inFlight: number;
  queued: number;
}

export interface AdminSettings {
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
  maxInFlight: number;
  queueTimeoutMs: number;
  perKeyConcurrency: number;
  firstByteTimeoutMs: number;
  loginAuto: boolean;
}

export interface AdminLedgerStatus {
  state: 'ok' | 'degraded' | 'disabled' | string;
  reason?: string;
  queued?: number;
  written?: number;
  dropped?: number;
}

export interface AdminSnapshot {
  now: number;
  startedAt: number;
  version: string;
  /** Base URL clients use, e.g. `http://127.0.0.1:8420/v1`. */
  endpoint: string;
  /** The first client API key, for the copy button; absent when none can be shown. */
  apiKey?: string;
  instances: AdminInstance[];
  providers: { name: string; kind: string; models: string[] }[];
  /** The OpenAI-compatible providers with their settings (keys only as "set"); absent where not wired. */
  managedProviders?: AdminProviderView[];
  aliases: AdminAlias[];
  aliasesReload?: AdminReloadOutcome;
  /** Where an alias edit is written. */
  aliasesPath?: string;
  /** The raw alias config as last written/loaded (for the editor). */
  aliasesRaw?: Record<string, unknown>;
  sessionCache: { enabled: boolean; hits: number; misses: number; entries: number; maxEntries: number };
  admission: { inFlight: number; queued: number; rejected: number; max: number };
  ledger?: AdminLedgerStatus;
  accounts: AdminAccount[];
  /** False when no provider supports runtime accounts (no Lingma binary wired). */
  accountsEditable: boolean;
  keys: AdminApiKey[];
  settings: AdminSettings;
  secretProtection?: 'os' | 'basic' | 'file' | 'cluster';
  live: AdminLiveRequest[];
  /** Requests finished in the last few minutes, newest first (bounded): Live shows them after a reload. */
  finished?: AdminLiveRequest[];
  /** Per-second counters, oldest first (up to 120 s). */
  counters: AdminCounters[];
  /** Recent log lines, oldest first. */
  logs: AdminLogLine[];
  /** What discovery found (local servers, an installed Lingma); absent where it is not wired. */
  discovery?: DiscoveryView;
  /** Team mode: this node's name (the dashboard then shows its Nodes card, `GET /admin/cluster`). */
  team?: { node: string };
}

/** Messages on `GET /admin/events` (server → client, JSON text frames). */
export type AdminEvent =
  | { type: 'snapshot'; snapshot: AdminSnapshot }
  | { type: 'instance'; instance: AdminInstance }
  | { type: 'log'; line: AdminLogLine }
  | { type: 'request'; phase: 'start' | 'update' | 'end'; request: AdminLiveRequest }
  | { type: 'health'; health: AdminHealth }
  | { type: 'aliases'; outcome?: AdminReloadOutcome; aliases: AdminAlias[] }
  /** Accounts, keys, providers or settings changed: refetch `/admin/state`. */
  | { type: 'config'; what: string }
  /** Once a second: counters, per-instance calls in flight, session-cache figures. */
  | { type: 'tick'; counters: AdminCounters; inFlight?: Record<string, number>; sessionCache?: { hits: number; misses: number; entries: number } };

/** WebSocket subprotocols: browsers cannot send headers, so the token rides in the protocol list. */
export { ADMIN_WS_PROTOCOL, ADMIN_WS_TOKEN_PREFIX } from '../state-types';

// ---- actions ----

export interface AccountInput {
  username: string;
  /** Write-only. On edit, omitted or empty = unchanged. */
  password?: string;
  name?: string;
  dedicatedDomain?: string;
  maxConcurrency?: number;
  disabled?: boolean;
}

export interface CreateKeyInput {
  name: string;
  rpm?: number;
  tokensPerDay?: number;
  expiresAt?: string;
  concurrency?: number;
}

export interface CreateKeyResult {
  id: string;
  /** Shown once. */
  key: string;
}

export type SettingsPatch = Partial<AdminSettings>;

export interface ActionResult {
  ok: true;
  message?: string;
}

export interface AdminErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

// ---- usage (ledger routes under /admin/usage): the ledger's own shapes; core/ledger/types.ts is
// pure types with no imports, so the renderer compiles it too. ----

export type { Percentiles, UsageAggregate, UsageGroup, UsageLatency, UsageRow, UsageSeries, UsageTotals } from '../ledger/types';

export interface UsageRecent {
  rows: UsageRow[];
  nextBefore: number | null;
}

/** "Connect a client" (`core/clients`, `GET /admin/clients`). */
export interface ClientStatusView {
  id: string;
  title: string;
  /** The settings file it would write (absolute). */
  path: string;
  format: 'json' | 'toml' | 'yaml';
  exists: boolean;
  /** The file already says what the relay would write. */
  configured: boolean;
  /** "Restore previous" is possible. */
  hasBackup: boolean;
  backupAt?: number;
  /** Why it cannot be planned (e.g. the file does not parse). */
  problem?: string;
}

export interface ClientsView {
  /** The model (alias) the clients will be pointed at. */
  model?: string;
  /** Why nothing can be written right now (no API key, no model). */
  problem?: string;
  clients: ClientStatusView[];
}

/** `POST /admin/clients/:id/plan` (and, with `written`, `/apply`). */
export interface ClientPlanView {
  id: string;
  title: string;
  path: string;
  format: 'json' | 'toml' | 'yaml';
  exists: boolean;
  changed: boolean;
  /** Unified diff with secret values shortened; '' when nothing changes. */
  diff: string;
  note?: string;
  written?: boolean;
}

export interface ClientRestoreView {
  id: string;
  path: string;
  action: 'restored' | 'removed';
  diff: string;
}

/** `GET /admin/providers`: an OpenAI-compatible provider; its key is write-only (only whether one is set). */
export interface AdminProviderView {
  name: string;
  baseUrl: string;
  /** A key is set (kept in the secret store); the key itself is never sent. */
  hasApiKey: boolean;
  /** Header names only: values may be secrets. */
  headerNames: string[];
  /** Configured model ids; absent: the server's `/models` list is used. */
  models?: string[];
  maxConcurrency?: number;
  timeoutMs?: number;
  tools?: boolean;
  images?: boolean;
  /** `config`: from the config file (edit it there); `dashboard`: added here (or from discovery). */
  source: 'config' | 'dashboard';
}

export interface ProviderInput {
  name: string;
  baseUrl: string;
  /** Write-only. On edit, omitted = unchanged. */
  apiKey?: string;
  headers?: Record<string, string>;
  models?: string[];
  maxConcurrency?: number;
  timeoutMs?: number;
  tools?: boolean;
  images?: boolean;
}
