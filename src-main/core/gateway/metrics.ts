/**
 * Every metric the contract names, on a registry of our own (never prom-client's global one, so
 * several gateways can live in one process, as in tests). Modules with metrics of their own
 * register them on `metrics.registry`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RequestObserver, RequestOutcome } from '../dispatch/outcome';
import { requestOutcomeKind } from '../state-types';
import type { AdmissionMetrics, AvailabilityMetrics, BackendMetrics, HealthMetrics, PoolMetrics } from '../metrics-port';

// Label hygiene lives with the ports so lower layers can label safely without importing this file.
import { safeLabel, UNRESOLVED_MODEL } from '../metrics-port';
export { safeLabel, UNRESOLVED_MODEL };

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** Implements every port of `metrics-port.ts`: the lower layers see only their part. */
export class Metrics implements PoolMetrics, AdmissionMetrics, HealthMetrics, BackendMetrics, AvailabilityMetrics {
  readonly registry = new Registry();

  /** Requests by the model the client asked for, protocol and final status. */
  readonly requests = new Counter({
    name: 'relay_requests_total',
    help: 'Client requests, by requested model, protocol and status.',
    labelNames: ['model', 'protocol', 'status'] as const,
    registers: [this.registry],
  });
  /**
   * Requests that did not end well, by requested model, protocol and kind: `failed` (status >= 400)
   * or `stream_broken` (a 200 stream that failed after its first byte, which `relay_requests_total`
   * counts under status 200).
   */
  readonly requestErrors = new Counter({
    name: 'relay_request_errors_total',
    help: 'Client requests that failed, by requested model, protocol and kind (failed, stream_broken).',
    labelNames: ['model', 'protocol', 'kind'] as const,
    registers: [this.registry],
  });
  /** Duration by the resolved model (what served it). */
  readonly duration = new Histogram({
    name: 'relay_request_duration_seconds',
    help: 'Whole request duration, by resolved model and protocol.',
    labelNames: ['model', 'protocol'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly ttft = new Histogram({
    name: 'relay_time_to_first_token_seconds',
    help: 'Time from request received to first token, by resolved model.',
    labelNames: ['model'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({ name: 'relay_in_flight', help: 'Requests holding a global slot.', registers: [this.registry] });
  readonly queued = new Gauge({ name: 'relay_queued', help: 'Requests waiting for a slot.', registers: [this.registry] });
  readonly rejected = new Counter({
    name: 'relay_rejected_total',
    help: 'Requests refused by admission control or budgets, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly backendReady = new Gauge({
    name: 'relay_backend_ready',
    help: '1 when the backend instance is ready.',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });
  readonly backendInFlight = new Gauge({
    name: 'relay_backend_in_flight',
    help: 'Calls in flight per backend instance.',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });
  readonly backendHealthy = new Gauge({
    name: 'relay_backend_healthy',
    help: '1 when the health cache considers the backend instance healthy.',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });
  /** 1 while an account is out of credits or rate-limited (core/pool/availability-model.ts). */
  readonly accountQuotaExceeded = new Gauge({
    name: 'relay_account_quota_exceeded',
    help: '1 while the account behind an instance is out of credits or rate-limited until its reset.',
    labelNames: ['provider', 'instance'] as const,
    registers: [this.registry],
  });
  readonly sessionCacheHits = new Counter({
    name: 'relay_session_cache_hits_total',
    help: 'Lingma session reuse hits.',
    registers: [this.registry],
  });
  readonly sessionCacheMisses = new Counter({
    name: 'relay_session_cache_misses_total',
    help: 'Lingma session reuse misses.',
    registers: [this.registry],
  });
  readonly aliasResolved = new Counter({
    name: 'relay_alias_resolved_total',
    help: 'Requests served through an alias, by alias and the target that served.',
    labelNames: ['alias', 'target'] as const,
    registers: [this.registry],
  });
  readonly fallback = new Counter({
    name: 'relay_fallback_total',
    help: 'Switches from one instance/target to another, by reason.',
    labelNames: ['from', 'to', 'reason'] as const,
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'relay_tokens_total',
    help: 'Tokens by resolved model and kind (prompt, completion, reasoning, cached).',
    labelNames: ['model', 'kind'] as const,
    registers: [this.registry],
  });

  /** Waiting requests by source (admission queues, pool slot waits); `relay_queued` is their sum. */
  private readonly queuedParts = new Map<string, number>();

  /** Publish how many requests wait in one place; `relay_queued` shows the total. */
  setQueued(part: string, n: number): void {
    this.queuedParts.set(part, n);
    let total = 0;
    for (const v of this.queuedParts.values()) total += v;
    this.queued.set(total);
  }

  constructor(opts: { processMetrics?: boolean } = {}) {
    // Event-loop lag sampled once a second, not prom-client's every 10 ms: a tray app must not wake
    // up 100 times a second when idle.
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'relay_process_', eventLoopMonitoringPrecision: 1000 });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * The `model` label for the name a request asked for: an alias or pattern's own name when one
 * matched (a pattern or the `default` alias accept any string), the target's `provider/model` when
 * it routed directly (case variants add no series), else `UNRESOLVED_MODEL`.
 */
function requestedLabel(o: RequestOutcome): string {
  const res = o.resolution;
  if (!res) return UNRESOLVED_MODEL;
  const direct = res.targets.length === 1 ? res.targets[0].label : res.requested;
  return safeLabel(res.alias ?? direct);
}

/** Bound on the memoised label sets below (labels are already bounded by `safeLabel`; this caps the memo itself). */
const MAX_CHILDREN = 4096;

/**
 * prom-client children memoised by their label values: each label object is built once per
 * distinct set, not per request (prom-client still hashes it per call; the memo saves the
 * object, its validation path and the garbage). Cleared whole if it ever passes MAX_CHILDREN.
 */
function childMemo<C>(make: (...values: string[]) => C): (...values: string[]) => C {
  const memo = new Map<string, C>();
  return (...values) => {
    const key = values.join('\u0000');
    let c = memo.get(key);
    if (!c) {
      if (memo.size >= MAX_CHILDREN) memo.clear();
      c = make(...values);
      memo.set(key, c);
    }
    return c;
  };
}

/** Request metrics from each request's one outcome (wired in relay.ts). */
export function requestMetrics(m: Metrics): RequestObserver {
  const requests = childMemo((model, protocol, status) => m.requests.labels({ model, protocol, status }));
  const duration = childMemo((model, protocol) => m.duration.labels({ model, protocol }));
  const ttft = childMemo((model) => m.ttft.labels({ model }));
  const tokens = childMemo((model, kind) => m.tokens.labels({ model, kind }));
  return {
    finished(o) {
      // SECURITY: labels never carry an unresolved client-chosen name (unbounded series, raw bytes).
      const requested = requestedLabel(o);
      const label = o.resolved ? safeLabel(o.resolved.label) : requested;
      if (o.refusedBy) m.rejected.inc({ reason: o.refusedBy });
      for (const s of o.switches) m.fallback.inc({ from: safeLabel(s.from), to: safeLabel(s.to), reason: s.reason.split(':')[0] });
      requests(requested, o.protocol, String(o.status)).inc();
      const kind = requestOutcomeKind(o.status, o.error?.code);
      if (kind !== 'ok') m.requestErrors.inc({ model: requested, protocol: o.protocol, kind });
      duration(label, o.protocol).observe(Math.max(0, o.finishedAt - o.receivedAt) / 1000);
      if (!o.resolved) return;
      if (o.firstByteAt !== undefined) ttft(label).observe(Math.max(0, o.firstByteAt - o.receivedAt) / 1000);
      if (o.resolved.alias) m.aliasResolved.inc({ alias: safeLabel(o.resolved.alias), target: label });
      const u = o.usage;
      if (!u) return;
      if (u.promptTokens) tokens(label, 'prompt').inc(u.promptTokens);
      if (u.completionTokens) tokens(label, 'completion').inc(u.completionTokens);
      if (u.reasoningTokens) tokens(label, 'reasoning').inc(u.reasoningTokens);
      if (u.cachedTokens) tokens(label, 'cached').inc(u.cachedTokens);
    },
  };
}
