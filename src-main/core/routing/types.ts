/**
 * Routing contracts: how a requested model name becomes an ordered chain of targets, and how the
 * health of instances is tracked. The dispatcher (core/dispatch/) walks the chain; the
 * resolver (./aliases.ts) and the health cache (./health.ts) implement these interfaces.
 */
import type { EventEmitter } from 'node:events';
import type { HopOptions } from '../config/schema';
import type { RelayError } from '../errors';
import type { HealthSnapshot, ReloadOutcome } from '../state-types';

export interface Target {
  /** Provider name (`lingma`, or a configured provider). */
  provider: string;
  /** Upstream model id within that provider. */
  model: string;
  /** `provider/model`, the name reported in `x-relay-resolved` and streamed chunks' `model`. */
  label: string;
  firstByteTimeoutMs?: number;
  /** Backend options from the alias (e.g. `{ lingmaMode: 'agent', toolEmulation: true }`). */
  options?: TargetOptions;
}

/**
 * A hop's options: the ones every kind takes, typed, plus the target kind's own (checked against
 * its `optionsSchema` when aliases load; each backend reads them through its own type).
 */
export type TargetOptions = HopOptions & { readonly [key: string]: unknown };

export interface Resolution {
  /** The model name as the client sent it. */
  requested: string;
  /** The alias (or pattern) that matched, if any. */
  alias?: string;
  targets: Target[];
}

export interface AliasInfo {
  name: string;
  description?: string;
  /** Targets as written (`provider/model`, bare model, or another alias). */
  chain: string[];
  /** Fully expanded `provider/model` labels, in order. */
  expanded: string[];
  pattern: boolean;
}

export type { HealthSnapshot, ReloadOutcome } from '../state-types';

export interface Resolver {
  /** Throws RelayError 404 model_not_found (with suggestions) when nothing matches. */
  resolve(model: string): Resolution;
  aliases(): AliasInfo[];
  lastReload(): ReloadOutcome | undefined;
}


export interface HealthEvents {
  /** Fired when healthy flips, and when an unhealthy instance's backoff changes (`unhealthyUntil`). */
  transition: [snapshot: HealthSnapshot];
}

export interface HealthCache {
  readonly events: EventEmitter<HealthEvents>;
  isHealthy(instance: string): boolean;
  recordSuccess(instance: string): void;
  recordFailure(instance: string, error: RelayError): void;
  snapshot(instance: string): HealthSnapshot;
  all(): HealthSnapshot[];
}
