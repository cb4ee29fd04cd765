/**
 * What the lower layers record into metrics, as narrow ports: pool, routing, backends and
 * admission depend on these, never on `gateway/metrics` (the prom-client registry above them).
 * `Metrics` there implements every port, so the relay passes the one instance to each.
 */

/** The `model` label of a request whose model did not resolve (unknown names must not add series). */
export const UNRESOLVED_MODEL = '(unresolved)';

const MAX_LABEL = 128;

/**
 * A label value derived from client input: control characters removed (a raw NUL or newline would
 * break the exposition format) and capped in length.
 */
// SECURITY: client-chosen strings must not shape /metrics output or blow up label sizes.
export function safeLabel(value: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = String(value).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '');
  if (clean.length <= MAX_LABEL) return clean || UNRESOLVED_MODEL;
  return `${clean.slice(0, MAX_LABEL - 1)}…`;
}

/** A labelled gauge (prom-client `Gauge<L>` fits). */
export interface LabelledGauge<L extends string> {
  set(labels: Partial<Record<L, string | number>>, value: number): void;
}
/** A gauge without labels. */
export interface PlainGauge {
  set(value: number): void;
}
/** A labelled counter. */
export interface LabelledCounter<L extends string> {
  inc(labels: Partial<Record<L, string | number>>, value?: number): void;
}
/** A counter without labels. */
export interface PlainCounter {
  inc(value?: number): void;
}

/** Waiting requests reported by one source (admission queues, pool slot waits). */
export interface QueuedMetrics {
  setQueued(part: string, n: number): void;
}

/** What the pool records: slot waits and calls in flight per backend instance. */
export interface PoolMetrics extends QueuedMetrics {
  readonly backendInFlight: LabelledGauge<'backend'>;
}

/** What admission control records. */
export interface AdmissionMetrics extends QueuedMetrics {
  readonly inFlight: PlainGauge;
  readonly rejected: LabelledCounter<'reason'>;
}

/** What the health observer (routing) records. */
export interface HealthMetrics {
  readonly backendHealthy: LabelledGauge<'backend'>;
}

/** What backends record (Lingma's session reuse). */
export interface BackendMetrics {
  readonly sessionCacheHits: PlainCounter;
  readonly sessionCacheMisses: PlainCounter;
}

/** What the availability model records: one gauge per account that is out of credits. */
export interface AvailabilityMetrics {
  readonly accountQuotaExceeded: LabelledGauge<'provider' | 'instance'> & {
    remove(labels: Partial<Record<'provider' | 'instance', string | number>>): void;
  };
}
