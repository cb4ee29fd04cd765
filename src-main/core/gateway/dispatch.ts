/**
 * The dispatcher: the `ChatService` every front end calls.
 *
 * budget check → admission (per key, then global) → alias resolution → walk the chain:
 * for each target, an instance from the pool (excluding those that failed this request), make it
 * ready, call it, wait for the first event under a first-byte timeout. A retryable failure before
 * the first event (connection refused, not ready, 429, 5xx, 408, timeouts, Lingma 406) is recorded
 * in the health cache and the walk moves on: another instance of the same target while the switch
 * budget (`limits.maxSwitches`) lasts, then the next target. A non-retryable failure goes back at
 * once. After the first event there is no retry: a failure is thrown from the events iterator.
 *
 * Every request, whatever its outcome, releases its slots exactly once, ends its live-request
 * entry and hands exactly one UsageRecord to `recordUsage`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CallContext, Instance, Provider } from '../backends/types';
import type { ChatEvent, ChatRequest, EmbeddingsRequest, EmbeddingsResult, Usage } from '../chat/model';
import { estimatePromptTokens, estimateTokens } from '../chat/tokens';
import { applyToolEmulation, requestUsesTools } from '../chat/tool-emulation';
import type { ErrorRule } from '../config/schema';
import { RelayError, errors, toRelayError } from '../errors';
import type { EventHub, LiveRequest } from '../events';
import type { UsageRecord } from '../ledger/types';
import { mayServeSoon } from '../pool/availability';
import { isQuotaError } from '../pool/availability-model';
import type { Lease, Pool } from '../pool/pool';
import { applyErrorRules } from '../routing/error-rules';
import type { HealthCache, Resolution, Resolver, Target } from '../routing/types';
import { systemClock, type Clock } from '../ports';
import type { Admission, Permit } from './admission';
import { safeLabel, UNRESOLVED_MODEL, type Metrics } from './metrics';
import type { Caller, ChatExecution, ChatService, RequestContext, Resolved } from './types';

export interface DispatchLimits {
  maxSwitches: number;
  firstByteTimeoutMs: number;
  /** How long a call may wait for a free instance slot. */
  queueTimeoutMs: number;
}

export interface DispatcherDeps {
  resolver: Resolver;
  providers: () => readonly Provider[];
  pool: Pool;
  admission: Admission;
  health: HealthCache;
  /** Read on every request, so a live settings change applies to the next one. */
  limits: DispatchLimits;
  metrics?: Metrics;
  hub?: EventHub;
  /** `errorRules` from the config, applied to the final failure of a chain walk. */
  errorRules?: readonly ErrorRule[] | (() => readonly ErrorRule[]);
  /** Budget/expiry check for the caller; throws a RelayError (e.g. 429) to refuse. */
  checkBudget?: (caller: Caller, req: { model: string; endpoint: string }) => void | Promise<void>;
  /** Exactly one record per request. Must not throw (errors are logged and swallowed). */
  recordUsage?: (rec: UsageRecord) => void;
  clock?: Clock;
  log?: Logger;
}

interface Failure {
  err: RelayError;
  instance?: string;
}

interface Needs {
  tools: boolean;
  images: boolean;
  embeddings: boolean;
}

/** Per-request bookkeeping, finished exactly once. */
class Tracker {
  readonly live: LiveRequest;
  switches = 0;
  readonly switchReasons: string[] = [];
  resolution?: Resolution;
  resolved?: Resolved;
  firstByteAt?: number;
  sessionReuse = false;
  reported?: Usage;
  private readonly out: string[] = [];
  sawFinish = false;
  private finished = false;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly ctx: RequestContext,
    readonly requestedModel: string,
    readonly stream: boolean,
    /** Estimated prompt tokens, computed only when the backend reports none. */
    /** Estimated prompt tokens, for when the backend reports none (computed only then). */
    private readonly promptEstimate: () => number,
  ) {
    this.live = {
      // Unique even when clients reuse an x-request-id (the dashboard keys live requests by it).
      id: randomUUID(),
      requestId: ctx.requestId,
      protocol: ctx.protocol,
      endpoint: ctx.endpoint,
      model: requestedModel,
      stream,
      apiKeyId: ctx.caller.keyId,
      startedAt: ctx.receivedAt,
    };
    emitHub(deps, 'requestStart', { ...this.live });
  }

  routed(resolved: Resolved, at: number): void {
    this.resolved = resolved;
    this.firstByteAt = at;
    Object.assign(this.live, { provider: resolved.provider, instance: resolved.instance, resolved: resolved.label, firstByteAt: at });
    emitHub(this.deps, 'requestUpdate', { ...this.live });
    const m = this.deps.metrics;
    if (m) {
      m.ttft.observe({ model: safeLabel(resolved.label) }, Math.max(0, at - this.ctx.receivedAt) / 1000);
      if (resolved.alias) m.aliasResolved.inc({ alias: safeLabel(resolved.alias), target: safeLabel(resolved.label) });
    }
  }

  observe(ev: ChatEvent): void {
    if (ev.type === 'text' || ev.type === 'reasoning') this.out.push(ev.text);
    else if (ev.type === 'tool_call') this.out.push(ev.name ?? '', ev.argumentsDelta);
    else if (ev.type === 'usage') this.reported = ev.usage;
    else if (ev.type === 'finish') this.sawFinish = true;
  }

  /**
   * The `model` label for the requested name: an alias or pattern's own name when one matched (a
   * pattern or the `default` alias accept any string), the target's `provider/model` when it routed
   * directly, else a fixed value. Resolution is attempted when the request ended before it (e.g. refused).
   */
  private requestedLabel(): string {
    let res = this.resolution;
    if (!res) {
      try {
        res = this.deps.resolver.resolve(this.requestedModel);
      } catch {
        return UNRESOLVED_MODEL;
      }
    }
    // A direct name is labelled by its canonical `provider/model` (case variants add no series).
    const direct = res.targets.length === 1 ? res.targets[0].label : res.requested;
    return safeLabel(res.alias ?? direct);
  }

  finish(status: number, err?: RelayError, embedUsage?: { promptTokens: number }): void {
    if (this.finished) return;
    this.finished = true;
    const deps = this.deps;
    const now = (deps.clock ?? systemClock).now();
    let promptTokens: number | undefined;
    let completionTokens: number | undefined;
    let reasoningTokens: number | undefined;
    let cachedTokens: number | undefined;
    let estimated = false;
    if (embedUsage) {
      promptTokens = embedUsage.promptTokens;
      completionTokens = 0;
    } else if (this.reported && !this.reported.estimated) {
      ({ promptTokens, completionTokens, reasoningTokens, cachedTokens } = this.reported);
    } else if (this.resolved) {
      // Something was generated (or at least routed): estimate what the backend did not report.
      promptTokens = this.reported?.promptTokens ?? this.promptEstimate();
      completionTokens = this.reported?.completionTokens ?? estimateTokens(this.out.join(''));
      reasoningTokens = this.reported?.reasoningTokens;
      estimated = true;
    }
    const m = deps.metrics;
    if (m) {
      // SECURITY: labels never carry an unresolved client-chosen name (unbounded series, raw bytes).
      const requested = this.requestedLabel();
      const label = this.resolved ? safeLabel(this.resolved.label) : requested;
      m.requests.inc({ model: requested, protocol: this.ctx.protocol, status: String(status) });
      m.duration.observe({ model: label, protocol: this.ctx.protocol }, Math.max(0, now - this.ctx.receivedAt) / 1000);
      if (this.resolved) {
        if (promptTokens) m.tokens.inc({ model: label, kind: 'prompt' }, promptTokens);
        if (completionTokens) m.tokens.inc({ model: label, kind: 'completion' }, completionTokens);
        if (reasoningTokens) m.tokens.inc({ model: label, kind: 'reasoning' }, reasoningTokens);
        if (cachedTokens) m.tokens.inc({ model: label, kind: 'cached' }, cachedTokens);
      }
    }
    Object.assign(this.live, { finishedAt: now, status, errorCode: err?.code });
    emitHub(deps, 'requestEnd', { ...this.live });
    if (deps.recordUsage) {
      const rec: UsageRecord = {
        requestId: this.ctx.requestId,
        receivedAt: this.ctx.receivedAt,
        finishedAt: now,
        apiKeyId: this.ctx.caller.keyId,
        endpoint: this.ctx.endpoint,
        protocol: this.ctx.protocol,
        requestedModel: this.requestedModel,
        stream: this.stream,
        status,
        switches: this.switches,
        switchReasons: [...this.switchReasons],
        sessionReuse: this.sessionReuse,
        tokensEstimated: estimated,
        totalMs: Math.max(0, now - this.ctx.receivedAt),
      };
      if (this.ctx.userAgent) rec.userAgent = this.ctx.userAgent;
      if (this.firstByteAt !== undefined) {
        rec.firstByteAt = this.firstByteAt;
        rec.ttftMs = Math.max(0, this.firstByteAt - this.ctx.receivedAt);
      }
      const alias = this.resolved?.alias ?? this.resolution?.alias;
      if (alias) rec.alias = alias;
      if (this.resolved) {
        rec.provider = this.resolved.provider;
        rec.instance = this.resolved.instance;
        rec.model = this.resolved.model;
      }
      if (err) rec.errorType = err.code;
      if (promptTokens !== undefined) rec.promptTokens = promptTokens;
      if (completionTokens !== undefined) rec.completionTokens = completionTokens;
      if (reasoningTokens !== undefined) rec.reasoningTokens = reasoningTokens;
      if (cachedTokens !== undefined) rec.cachedTokens = cachedTokens;
      try {
        deps.recordUsage(rec);
      } catch (e) {
        this.ctx.log.error({ requestId: this.ctx.requestId, error: (e as Error).message }, 'usage record failed');
      }
    }
  }
}

function emitHub(deps: DispatcherDeps, event: 'requestStart' | 'requestUpdate' | 'requestEnd', live: LiveRequest): void {
  try {
    deps.hub?.emit(event, live);
  } catch {
    // Listeners must not throw; if one does, the request still goes on.
  }
}

const hasImages = (req: ChatRequest): boolean => req.messages.some((m) => m.content.some((p) => p.type === 'image'));

/** Short failure reason for metrics labels and switch reasons. */
function reasonOf(err: RelayError): string {
  if (err.code === 'first_byte_timeout') return 'first_byte_timeout';
  if (err.upstreamStatus !== undefined) return `${err.code}:${err.upstreamStatus}`;
  return err.code;
}

/** The most meaningful failure: a 429 with the shortest Retry-After; else the latest upstream one. */
function bestFailure(failures: Failure[]): RelayError {
  const limited = failures.filter((f) => f.err.status === 429);
  if (limited.length) {
    return limited.reduce((a, b) => ((b.err.retryAfter ?? Infinity) < (a.err.retryAfter ?? Infinity) ? b : a)).err;
  }
  for (let i = failures.length - 1; i >= 0; i--) {
    const e = failures[i].err;
    if (e.upstreamStatus !== undefined || e.code === 'first_byte_timeout') return e;
  }
  return failures[failures.length - 1].err;
}

/** An AbortController that follows `parent` (client disconnect) and can be aborted on its own. */
function childController(parent: AbortSignal): { ctrl: AbortController; unlink(): void } {
  const ctrl = new AbortController();
  const onAbort = (): void => ctrl.abort(parent.reason);
  if (parent.aborted) ctrl.abort(parent.reason);
  else parent.addEventListener('abort', onAbort, { once: true });
  return { ctrl, unlink: () => parent.removeEventListener('abort', onAbort) };
}

/** Wait for `p`, or fail on timeout / abort. The loser's rejection is swallowed. */
function raceFirst<T>(p: Promise<T>, ms: number, signal: AbortSignal, onTimeout: () => RelayError): Promise<T> {
  p.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(onTimeout());
    }, ms);
    const onAbort = (): void => {
      cleanup();
      reject(errors.cancelled());
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (e) => {
        cleanup();
        reject(e);
      },
    );
  });
}

interface Attempt<T> {
  value: T;
  lease: Lease;
  target: Target;
  instance: Instance;
  ctrl: AbortController;
  unlink(): void;
  callCtx: CallContext;
}

export function createDispatcher(deps: DispatcherDeps): ChatService & { walkStats(): { active: number } } {
  const clock = deps.clock ?? systemClock;
  let active = 0;
  // Calls waiting for an instance slot are queued requests too (dashboard and relay_queued agree).
  deps.admission.addQueueSource?.(() => deps.pool.waiting());

  const mapError = (e: RelayError): RelayError => {
    const rules = typeof deps.errorRules === 'function' ? deps.errorRules() : deps.errorRules;
    return applyErrorRules(rules, e);
  };

  /** An account out of credits cools down (availability); any other failure counts against health. */
  const recordFailure = (instance: string, err: RelayError): void => {
    if (isQuotaError(err)) deps.pool.availability.recordQuota(instance, err);
    else deps.health.recordFailure(instance, err);
  };
  const recordSuccess = (instance: string): void => {
    deps.health.recordSuccess(instance);
    deps.pool.availability.recordSuccess(instance);
  };

  const providerNamed = (name: string): Provider | undefined => deps.providers().find((p) => p.name === name);

  const capabilityIssue = (provider: Provider, target: Target, needs: Needs): string | undefined => {
    if (needs.embeddings && !provider.capabilities.embeddings) return 'embeddings_unsupported';
    if (needs.tools && !provider.capabilities.tools && target.options?.toolEmulation !== true) return 'tools_unsupported';
    if (needs.images && !provider.capabilities.images) return 'images_unsupported';
    return undefined;
  };

  /**
   * Circuit breaking across the chain: a target none of whose instances serves or is about to
   * (the pool's one availability answer: failed, cooling down, out of credits, waiting for a
   * person) goes after the other targets (it is still tried last, so a request never fails untried).
   */
  const orderByHealth = (targets: Target[]): Target[] => {
    const healthy: Target[] = [];
    const sick: Target[] = [];
    for (const t of targets) {
      const p = providerNamed(t.provider);
      const ok = !p || p.instances().some((i) => mayServeSoon(deps.pool.availability.of(i)));
      (ok ? healthy : sick).push(t);
    }
    return sick.length && healthy.length ? [...healthy, ...sick] : targets;
  };

  /**
   * Walk the chain. `run` makes one call on one instance and resolves at its first result;
   * it throws on failure. Returns the successful attempt, with its lease still held.
   */
  async function walk<T>(
    tracker: Tracker,
    req: ChatRequest | undefined,
    ctx: RequestContext,
    resolution: Resolution,
    needs: Needs,
    run: (instance: Instance, target: Target, callCtx: CallContext) => Promise<T>,
  ): Promise<Attempt<T>> {
    const limits = deps.limits;
    const failures: Failure[] = [];
    const skipped: string[] = [];
    let pending: { from: string; reason: string } | undefined;
    let instanceSwitches = 0;

    for (const target of orderByHealth(resolution.targets)) {
      const provider = providerNamed(target.provider);
      const issue = provider ? capabilityIssue(provider, target, needs) : 'provider_removed';
      if (!provider || issue) {
        skipped.push(`${target.label} (${issue!.replace(/_/g, ' ')})`);
        // A skip is not a failure: it becomes the reason of the next switch unless one is pending.
        pending = pending ?? { from: target.label, reason: issue! };
        continue;
      }
      const exclude = new Set<string>();
      let triedHere = 0;
      for (;;) {
        if (triedHere > 0 && instanceSwitches >= limits.maxSwitches) break;
        let lease: Lease;
        try {
          lease = await deps.pool.acquire(provider, req, {
            exclude,
            signal: ctx.signal,
            waitMs: limits.queueTimeoutMs,
            // No instance serving yet: wait for the first that does, as long as a first byte may take.
            readyWaitMs: target.firstByteTimeoutMs ?? limits.firstByteTimeoutMs,
            callCtx: { requestId: ctx.requestId, apiKeyId: ctx.caller.keyId, signal: ctx.signal, log: ctx.log, meta: {} },
          });
        } catch (e) {
          if (ctx.signal.aborted) throw errors.cancelled();
          const err = toRelayError(e);
          // No instance left (or all busy): not the instances' fault, so no health record.
          if (triedHere === 0 || err.code !== 'no_instance') failures.push({ err });
          if (triedHere === 0) pending = pending ?? { from: target.label, reason: err.code };
          break;
        }
        const instance = lease.instance;
        if (triedHere > 0) instanceSwitches++;
        triedHere++;
        if (pending) {
          tracker.switches++;
          tracker.switchReasons.push(`${pending.from}:${pending.reason}`);
          deps.metrics?.fallback.inc({ from: safeLabel(pending.from), to: safeLabel(instance.name), reason: pending.reason.split(':')[0] });
          ctx.log.warn(
            { requestId: ctx.requestId, from: pending.from, to: instance.name, target: target.label, reason: pending.reason, switches: tracker.switches },
            'backend switch',
          );
          pending = undefined;
        }
        const { ctrl, unlink } = childController(ctx.signal);
        const meta = {};
        const callCtx: CallContext = { requestId: ctx.requestId, apiKeyId: ctx.caller.keyId, signal: ctrl.signal, log: ctx.log, meta };
        try {
          if (instance.state() !== 'ready') await instance.ensureReady(ctrl.signal);
          if (ctx.signal.aborted) throw errors.cancelled();
          const value = await run(instance, target, callCtx);
          return { value, lease, target, instance, ctrl, unlink, callCtx };
        } catch (e) {
          // The failure is the abort reason, so the backend can tell a timeout from a disconnect.
          ctrl.abort(e);
          unlink();
          lease.release();
          if (ctx.signal.aborted) throw errors.cancelled();
          const err = toRelayError(e);
          if (!err.retryable) throw err;
          recordFailure(instance.name, err);
          failures.push({ err, instance: instance.name });
          exclude.add(instance.name);
          pending = { from: instance.name, reason: reasonOf(err) };
        }
      }
    }
    if (failures.length === 0) {
      throw errors.invalid(
        `No target for the model '${resolution.requested}' can serve this request: ${skipped.join('; ')}.`,
        'model', 'unsupported_request',
      );
    }
    const best = bestFailure(failures);
    ctx.log.warn(
      { requestId: ctx.requestId, model: resolution.requested, attempts: failures.length, switches: tracker.switches, chosen: best.code, status: best.status },
      'every target failed',
    );
    throw best;
  }

  const resolvedOf = (resolution: Resolution, target: Target, instance: Instance): Resolved => {
    const r: Resolved = { provider: target.provider, model: target.model, label: target.label, instance: instance.name };
    if (resolution.alias) r.alias = resolution.alias;
    return r;
  };

  async function admit(ctx: RequestContext, model: string): Promise<Permit> {
    if (deps.checkBudget) {
      try {
        await deps.checkBudget(ctx.caller, { model, endpoint: ctx.endpoint });
      } catch (e) {
        const err = toRelayError(e);
        deps.metrics?.rejected.inc({ reason: 'budget' });
        throw err;
      }
    }
    return deps.admission.acquire(ctx.caller, ctx.signal);
  }

  /** The error the client gets; also counted. Client disconnects stay 499 and skip the rules. */
  const finalError = (e: unknown, ctx: RequestContext, fromWalk: boolean): RelayError => {
    if (ctx.signal.aborted) return errors.cancelled();
    const err = toRelayError(e);
    return fromWalk ? mapError(err) : err;
  };

  async function execute(req: ChatRequest, ctx: RequestContext): Promise<ChatExecution> {
    const tracker = new Tracker(deps, ctx, req.model, req.stream, () => estimatePromptTokens(req));
    let permit: Permit | undefined;
    let inWalk = false;
    active++;
    try {
      permit = await admit(ctx, req.model);
      const resolution = deps.resolver.resolve(req.model);
      tracker.resolution = resolution;
      const needs: Needs = { tools: requestUsesTools(req), images: hasImages(req), embeddings: false };
      inWalk = true;
      const attempt = await walk(tracker, req, ctx, resolution, needs, async (instance, target, callCtx) => {
        const options = { ...req.options, ...target.options };
        let upstreamReq: ChatRequest = { ...req, model: target.model, options: Object.keys(options).length ? options : undefined };
        let transform: ((ev: AsyncIterable<ChatEvent>) => AsyncIterable<ChatEvent>) | undefined;
        // Emulation stands in for native tools only: a provider that has them gets them as they are.
        if (options.toolEmulation === true && needs.tools && !providerNamed(target.provider)?.capabilities.tools) {
          const emu = applyToolEmulation(upstreamReq);
          upstreamReq = emu.request;
          transform = emu.transform;
        }
        const raw = instance.chat(upstreamReq, callCtx);
        const iter = (transform ? transform(raw) : raw)[Symbol.asyncIterator]();
        const ms = target.firstByteTimeoutMs ?? deps.limits.firstByteTimeoutMs;
        let first: IteratorResult<ChatEvent>;
        try {
          first = await raceFirst(iter.next(), ms, callCtx.signal, () =>
            errors.timeout(`No answer from ${target.label} within ${ms} ms.`, { code: 'first_byte_timeout', retryable: true }),
          );
        } catch (e) {
          // Cancel the slow or failed call; its generator unwinds on its own time.
          void Promise.resolve(iter.return?.()).catch(() => undefined);
          throw e;
        }
        if (first.done) throw errors.upstream(`${target.label} ended its answer without any output.`, { retryable: true });
        return { iter, first: first.value };
      });
      inWalk = false;
      const { lease, ctrl, unlink, instance, target, callCtx } = attempt;
      const { iter, first } = attempt.value;
      const resolved = resolvedOf(resolution, target, instance);
      recordSuccess(instance.name);
      tracker.routed(resolved, clock.now());

      let done = false;
      const heldPermit = permit;
      const settle = (status: number, err?: RelayError): void => {
        if (done) return;
        done = true;
        ctx.signal.removeEventListener('abort', onClientAbort);
        unlink();
        if (status !== 200 || err) {
          ctrl.abort();
          void Promise.resolve(iter.return?.()).catch(() => undefined);
        }
        lease.release();
        heldPermit.release();
        active--;
        tracker.sessionReuse = callCtx.meta.sessionReuse === true;
        tracker.finish(status, err);
      };
      // A client that leaves while nobody iterates must still free everything.
      const onClientAbort = (): void => settle(499, errors.cancelled());
      ctx.signal.addEventListener('abort', onClientAbort, { once: true });

      async function* events(): AsyncGenerator<ChatEvent> {
        let completed = false;
        try {
          if (done) throw errors.cancelled();
          tracker.observe(first);
          yield first;
          for (;;) {
            const r = await iter.next();
            if (r.done) break;
            tracker.observe(r.value);
            yield r.value;
          }
          completed = true;
        } catch (e) {
          if (ctx.signal.aborted || done) {
            settle(499, errors.cancelled());
            throw errors.cancelled();
          }
          const err = mapError(toRelayError(e));
          recordFailure(instance.name, toRelayError(e));
          ctx.log.warn({ requestId: ctx.requestId, instance: instance.name, code: err.code, status: err.status }, 'stream failed after first byte');
          settle(req.stream ? 200 : err.status, err);
          throw err;
        } finally {
          // Completed, or the consumer stopped after the finish event: a whole answer. Otherwise the
          // consumer stopped early (return()/break): the client left.
          if (completed || tracker.sawFinish) settle(200);
          else settle(499, errors.cancelled());
        }
      }
      const gen = events();
      const wrapped: AsyncIterableIterator<ChatEvent> = {
        next: () => gen.next(),
        return: async (v?: unknown) => {
          // return() before the first next() never enters the generator body: settle here.
          if (tracker.sawFinish) settle(200);
          else settle(499, errors.cancelled());
          return gen.return(v as undefined);
        },
        throw: (e?: unknown) => gen.throw(e),
        [Symbol.asyncIterator]() {
          return this;
        },
      };
      return { resolved, events: wrapped };
    } catch (e) {
      const err = finalError(e, ctx, inWalk);
      permit?.release();
      active--;
      tracker.finish(err.status, err);
      throw err;
    }
  }

  async function embed(req: EmbeddingsRequest, ctx: RequestContext): Promise<{ resolved: Resolved; result: EmbeddingsResult }> {
    const tracker = new Tracker(deps, ctx, req.model, false, () =>
      estimateTokens((req.input as unknown[]).map((x) => (typeof x === 'string' ? x : '')).join('')),
    );
    let permit: Permit | undefined;
    let inWalk = false;
    active++;
    try {
      permit = await admit(ctx, req.model);
      const resolution = deps.resolver.resolve(req.model);
      tracker.resolution = resolution;
      inWalk = true;
      const attempt = await walk(tracker, undefined, ctx, resolution, { tools: false, images: false, embeddings: true }, async (instance, target, callCtx) => {
        if (!instance.embed) throw errors.invalid(`${target.label} does not offer embeddings.`, 'model', 'embeddings_unsupported');
        const ms = target.firstByteTimeoutMs ?? deps.limits.firstByteTimeoutMs;
        return raceFirst(instance.embed({ ...req, model: target.model }, callCtx), ms, callCtx.signal, () =>
          errors.timeout(`No answer from ${target.label} within ${ms} ms.`, { code: 'first_byte_timeout', retryable: true }),
        );
      });
      inWalk = false;
      attempt.unlink();
      attempt.lease.release();
      recordSuccess(attempt.instance.name);
      const resolved = resolvedOf(resolution, attempt.target, attempt.instance);
      tracker.routed(resolved, clock.now());
      permit.release();
      active--;
      tracker.finish(200, undefined, { promptTokens: attempt.value.usage.promptTokens });
      return { resolved, result: attempt.value };
    } catch (e) {
      const err = finalError(e, ctx, inWalk);
      permit?.release();
      active--;
      tracker.finish(err.status, err);
      throw err;
    }
  }

  return {
    execute,
    embed,
    resolveModel: (model: string) => deps.resolver.resolve(model),
    instanceHealth: (instance: string) => deps.health.snapshot(instance),
    walkStats: () => ({ active }),
  };
}
