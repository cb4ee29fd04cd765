/**
 * What routing knows about backends. A backend kind is a folder `core/backends/<kind>/` exporting
 * one `BackendKind` (config schema, hop-options schema, factory) from its `kind.ts`;
 * `registry.ts` lists the kinds. Routing and the pool only see `Provider` and `Instance`.
 *
 * - A Provider is one routable name (`lingma`, or a configured provider's `name`): the prefix of
 *   `provider/model`. It owns one or more Instances.
 * - An Instance is one thing that can serve a call: one Lingma process (one account), or one
 *   OpenAI-compatible base URL.
 */
import type { AccountLeases, ChatForwarder } from '../cluster/ports';
import type { EventEmitter } from 'node:events';
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { ChatEvent, ChatRequest, EmbeddingsRequest, EmbeddingsResult } from '../chat/model';
import type { Config } from '../config/schema';
import type { EventHub } from '../events';
import type { BackendMetrics } from '../metrics-port';
import type { Clock, LoginDriver, ProcessSpawner, SecretStore } from '../ports';
import type { InstanceState, LoginState } from '../state-types';

export type { InstanceState, LoginState } from '../state-types';

export interface ModelInfo {
  /** Upstream id (Lingma model key, or the provider's model id). Exposed as `<provider>/<id>`. */
  id: string;
  /** Other names a client may use (Lingma display name). Matched case-insensitively. */
  aliases?: string[];
  displayName?: string;
  /** Capabilities where known (undefined: unknown; `/v1/models` leaves unknown ones out). */
  reasoning?: boolean;
  vision?: boolean;
  /** Native tool calling for this model, where the upstream says (else the provider's `capabilities.tools`). */
  tools?: boolean;
  /** Model is for embeddings only. */
  embedding?: boolean;
  /** Input window in tokens (`/v1/models` `context_length`). */
  contextLength?: number;
  /** Longest answer in tokens (`/v1/models` `max_output_tokens`). */
  maxOutputTokens?: number;
}

export interface Capabilities {
  /** Native tool calling. */
  tools: boolean;
  /** Image inputs. */
  images: boolean;
  embeddings: boolean;
}

/** Per-call context handed to an instance. */
export interface CallContext {
  requestId: string;
  /** Short hash of the API key (never the key). Session reuse keys on it. */
  apiKeyId: string;
  /** Aborted when the client disconnects, a first-byte timeout fires, or the gateway stops. */
  signal: AbortSignal;
  log: Logger;
  /** Facts the instance reports back for the usage ledger and metrics. */
  meta: CallMeta;
}

export interface CallMeta {
  /** A cached upstream session was reused (Lingma session reuse hit). */
  sessionReuse?: boolean;
  /** Bytes of prompt text sent upstream (for the session-reuse benchmark). */
  promptBytes?: number;
  /**
   * What was actually sent upstream on this call, for the request inspector (core/inspector):
   * the body for an HTTP provider, the prompt text (after session reuse) for Lingma. Set by the
   * backend, read (and redacted) by the dispatcher's trace. Never headers or credentials.
   */
  upstream?: UpstreamRequest;
}

/** The request as a backend sent it (`CallMeta.upstream`). */
export interface UpstreamRequest {
  /** The backend kind (`openai`, `lingma`). */
  kind: string;
  /** HTTP providers: the JSON body posted (no headers). */
  body?: unknown;
  /** Lingma: the prompt text sent on this turn (only the new turn on a session-reuse hit). */
  prompt?: string;
  /** Short facts about the call (upstream model, session reused, image count, dialect ...). */
  info?: Record<string, string | number | boolean>;
}

export interface QuotaState {
  exceeded: boolean;
  /** Epoch ms when the account is expected to serve again, when known. */
  resetsAt?: number;
}

/** Everything an instance tells the dashboard. No secrets. */
export interface InstanceSnapshot {
  name: string;
  provider: string;
  kind: string;
  state: InstanceState;
  /** Why it is failed/reconnecting. Client-safe. */
  reason?: string;
  login: LoginState;
  startedAt?: number;
  restarts: number;
  lastError?: string;
  /**
   * Account limits the backend knows of (Lingma credits / rate limits, spec §8). `exceeded`: the
   * backend itself says the account cannot serve until `resetsAt` (ms since epoch, when known).
   */
  quota?: QuotaState;
  /** Kind-specific, JSON-safe extras (ports, pid, version, session-cache counts ...). */
  extra?: Record<string, unknown>;
}

export interface InstanceEvents {
  /** Every state transition. */
  state: [snapshot: InstanceSnapshot, previous: InstanceState];
  /** Login state changes. */
  login: [snapshot: InstanceSnapshot];
}

export interface Instance {
  readonly name: string;
  readonly provider: string;
  readonly kind: string;
  /** Max concurrent calls; the pool enforces it. */
  readonly maxConcurrency: number;
  readonly events: EventEmitter<InstanceEvents>;
  state(): InstanceState;
  snapshot(): InstanceSnapshot;
  /**
   * Make it usable if it is not (start the process, reconnect, log in). Resolves when ready or
   * throws a RelayError (503 `service_unavailable` when it cannot become ready in time).
   * Called by the dispatcher before `chat` when `state() !== 'ready'`.
   */
  ensureReady(signal: AbortSignal): Promise<void>;
  /** Stream a chat. `req.model` is the upstream model id. Throws RelayError on failure. */
  chat(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent>;
  embed?(req: EmbeddingsRequest, ctx: CallContext): Promise<EmbeddingsResult>;
  /** Cheap health check for the health cache's background probe (model listing, `auth/status`). */
  probe(signal: AbortSignal): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart?(): Promise<void>;
  login?(): Promise<void>;
  logout?(): Promise<void>;
}

export interface ProviderEvents {
  /** The model list changed (login, refresh). */
  models: [];
}

export interface Provider {
  /** Routable name: `lingma` or a configured provider's `name`. */
  readonly name: string;
  readonly kind: string;
  readonly capabilities: Capabilities;
  readonly events: EventEmitter<ProviderEvents>;
  instances(): readonly Instance[];
  /** Known models (cached; refreshed by the provider itself). */
  models(): ModelInfo[];
  /**
   * Resolve a client-facing model name (id, or alias/display name, case-insensitive) to the
   * upstream id. Undefined when this provider does not know it.
   */
  resolveModel(name: string): string | undefined;
  /**
   * Optional: the instance this request should stick to (e.g. the owner of a reusable Lingma
   * session). The pool prefers it when usable.
   */
  preferredInstance?(req: ChatRequest, ctx: CallContext): string | undefined;
  start(): Promise<void>;
  /**
   * Optional: the gateway begins a graceful stop. From here on the provider must not restart or
   * reconnect anything (in-flight calls finish; `stop()` follows).
   */
  prepareStop?(): void;
  stop(): Promise<void>;
  /**
   * Optional: this provider was replaced or removed while running (the dashboard edited it): take
   * no new call, let the calls in flight finish, then close. Without it, `stop()`.
   */
  retire?(): Promise<void>;
}

/**
 * When to run a kind whose config section is optional (today the Lingma pool): `auto` = when the
 * kind finds something to serve; `always` (the desktop app, so a new user can add an account); `never`.
 */
export type LingmaMode = 'auto' | 'always' | 'never';

/** What every kind's factory may use: the config, the data folder and the host's ports. */
export interface BackendDeps {
  config: Config;
  dataDir: string;
  secrets: SecretStore;
  log: Logger;
  hub?: EventHub;
  metrics?: BackendMetrics;
  spawner: ProcessSpawner;
  loginDriver?: LoginDriver;
  lingma?: LingmaMode;
  env?: NodeJS.ProcessEnv;
  /** Team mode: which node runs each Lingma account (absent: all run here). */
  accountLeases?: AccountLeases;
  /** Team mode: calls for an account another node runs go there. */
  forwarder?: ChatForwarder;
  /** The relay's one clock (default: the system's). */
  clock?: Clock;
}

/** One config entry of a kind and the provider name it routes as. */
export interface KindEntry<Entry> {
  provider: string;
  entry: Entry;
}

/**
 * A backend kind (cf. Portkey's provider folders): what its config entry looks like, which
 * options an alias hop targeting it may carry, and how to build its provider.
 */
export interface BackendKind<C extends TSchema = TSchema, O extends TObject = TObject> {
  /** `Provider.kind` of what `create` builds. */
  readonly name: string;
  /** One config entry of this kind (the `lingma:` section; one `providers[]` item of its `type`). */
  readonly configSchema: C;
  /** A hop's `options` when its target is a provider of this kind; extends `HopOptionsSchema`. */
  readonly optionsSchema: O;
  /**
   * This kind's entries in a validated config, each with the provider name it routes as; all of
   * them, whether or not they run now (alias options are checked against these names).
   */
  entries(config: Config): Array<KindEntry<Static<C>>>;
  /** Run this entry now? Default: yes. */
  wanted?(entry: Static<C>, deps: BackendDeps): boolean;
  create(entry: Static<C>, deps: BackendDeps): Provider;
}

/** Typed kinds in one list: `defineKind` keeps each one's entry type tied to its schema. */
export function defineKind<C extends TSchema, O extends TObject>(kind: BackendKind<C, O>): BackendKind<C, O> {
  return kind;
}
