/**
 * The dispatcher: the `ChatService` every front end calls.
 *
 * budget check → admission (per key, then global) → alias resolution → the chain walk
 * (./walk.ts) over this request's hops: for each target an instance from the pool, made ready,
 * called, its first event awaited under the first-byte timeout (./execution.ts). After the first
 * event there is no retry: the `Execution` streams the rest and ends exactly once.
 *
 * Every request, whatever its outcome, releases its slots exactly once and ends in one
 * `RequestOutcome` (./outcome.ts) handed to the observers (metrics, live hub, ledger: wired in
 * relay.ts) on the next immediate, after the reply's bytes (./observer-queue.ts). Usage is decided here, once: the stream's `usage` event before `finish`.
 */
import { CallAbort } from '../abort';
import type { CallContext, Instance, Provider } from '../backends/types';
import type { ChatEvent, ChatRequest, EmbeddingsRequest, EmbeddingsResult } from '../chat/model';
import { estimatePromptTokens } from '../chat/tokens';
import { applyToolEmulation, requestUsesTools } from '../chat/tool-emulation';
import { errors, toRelayError, type RelayError } from '../errors';
import { mayServeSoon } from '../pool/availability';
import { isQuotaError } from '../pool/availability-model';
import { affinityKey, type Hop, type Lease } from '../pool/pool';
import { applyErrorRules } from '../routing/error-rules';
import type { Resolution, Target } from '../routing/types';
import { systemClock } from '../ports';
import type { Permit } from './admission';
import { Execution, firstEvent, withDeadline, type Started } from './execution';
import { ObserverQueue } from './observer-queue';
import { UsageMeter } from './outcome';
import { RequestRun, type RunEnv } from './run';
import { RequestTrace, tracedSteps } from './trace';
import type { ChatExecution, ChatService, RequestContext, Resolved } from './types';
import { walkChain, type WalkSteps } from './walk';
import type { DispatcherDeps } from './deps';

export type { DispatchLimits, DispatcherDeps } from './deps';

interface Needs {
  tools: boolean;
  images: boolean;
  embeddings: boolean;
}

/** One hop as it goes upstream: the target's model, the alias options merged, tools emulated if asked. */
interface PreparedHop {
  request: ChatRequest;
  transform?: (events: AsyncIterable<ChatEvent>) => AsyncIterable<ChatEvent>;
}

/** A chat call that produced its first event, with what ends it. */
interface ChatCall {
  value: Started;
  call: CallAbort;
  callCtx: CallContext;
}

/**
 * A hop whose affinity key is hashed only when the pool reads it (a choice among instances, session
 * owners). A class with the getter on its prototype, never an object literal with `get affinity()`:
 * V8 builds such a literal per call in dictionary mode with a fresh accessor pair, and measured
 * under load that made the literal and everything its getter closes over (the request's whole
 * context) survive every scavenge until the next full collection (docs/perf-issue-14.md, "What
 * survives the scavenges").
 */
class LazyHop implements Hop {
  owner?: string;
  constructor(
    readonly provider: Provider,
    readonly target: Target,
    readonly request: ChatRequest | undefined,
    private readonly key: (() => string | undefined) | undefined,
  ) {}

  get affinity(): string | undefined {
    return this.key?.();
  }
}

/** `addEventListener` options, the same for every request. */
const ONCE = Object.freeze({ once: true });

const hasImages = (req: ChatRequest): boolean => req.messages.some((m) => m.content.some((p) => p.type === 'image'));

const resolvedOf = (resolution: Resolution, target: Target, instance: Instance): Resolved => {
  const r: Resolved = { provider: target.provider, model: target.model, label: target.label, instance: instance.name };
  if (resolution.alias) r.alias = resolution.alias;
  return r;
};

/** The dispatcher: a `ChatService`, plus what its host and tests need of its observer queue. */
export interface Dispatcher extends ChatService {
  walkStats(): { active: number };
  /** Resolves once every `routed`/`finished` queued so far has reached the observers. */
  observed(): Promise<void>;
  /** Hand everything queued to the observers now (before the ledger closes). */
  flushObservers(): void;
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const clock = deps.clock ?? systemClock;
  const observers = deps.observers ?? [];
  const later = new ObserverQueue(observers);
  const env: RunEnv = {
    observers,
    later,
    now: () => clock.now(),
    resolve: (model) => deps.resolver.resolve(model),
  };
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

  const capabilityIssue = (target: Target, needs: Needs): string | undefined => {
    const provider = providerNamed(target.provider);
    if (!provider) return 'provider_removed';
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

  /** The walk's steps for one request; `attempt` makes the call on a held instance. */
  function stepsFor<V>(
    run: RequestRun,
    ctx: RequestContext,
    needs: Needs,
    hop: (target: Target) => { request?: ChatRequest; affinity?: () => string | undefined },
    attempt: (lease: Lease, target: Target) => Promise<V>,
  ): WalkSteps<Target, Lease, V> {
    const limits = deps.limits;
    const steps: WalkSteps<Target, Lease, V> = {
      maxSwitches: limits.maxSwitches,
      skip: (target) => capabilityIssue(target, needs),
      acquire: (target, exclude) => acquireFor(target, exclude),
      attempt,
      cancelled: () => ctx.signal.aborted,
      failed: recordFailure,
      switched: (s, target) => {
        run.switches.push(s);
        ctx.log.warn(
          { requestId: ctx.requestId, from: s.from, to: s.to, target: target.label, reason: s.reason, switches: run.switches.length },
          'backend switch',
        );
      },
      gaveUp: (failures, chosen) => {
        ctx.log.warn(
          { requestId: ctx.requestId, model: run.resolution?.requested, attempts: failures.length, switches: run.switches.length, chosen: chosen.code, status: chosen.status },
          'every target failed',
        );
      },
    };
    // With capture on, every skip, attempt and switch also goes on the request's timeline.
    return run.trace ? tracedSteps(run.trace, steps, () => clock.now(), ctx.signal) : steps;

    function acquireFor(target: Target, exclude: ReadonlySet<string>): Promise<Lease> {
      const h = hop(target);
      return deps.pool.acquire(
          new LazyHop(providerNamed(target.provider)!, target, h.request, h.affinity),
          {
            exclude,
            signal: ctx.signal,
            waitMs: limits.queueTimeoutMs,
            // No instance serving yet: wait for the first that does, as long as a first byte may take.
            readyWaitMs: target.firstByteTimeoutMs ?? limits.firstByteTimeoutMs,
            callCtx: { requestId: ctx.requestId, apiKeyId: ctx.caller.keyId, signal: ctx.signal, log: ctx.log, meta: {} },
          },
        );
    }
  }

  /**
   * A call on a held instance with its own abort (following the client's): made ready, then
   * `call` runs; on failure the call is aborted with the failure as the reason, so the backend can
   * tell a timeout from a disconnect.
   */
  async function onInstance<V>(lease: Lease, ctx: RequestContext, call: (instance: Instance, callCtx: CallContext) => Promise<V>, trace?: RequestTrace): Promise<{ value: V; call: CallAbort; callCtx: CallContext }> {
    // The call's signal follows the client's: one listener on it (dropped when the call is
    // settled by a failure) instead of an `AbortSignal.any` per attempt.
    const own = new CallAbort();
    const client = ctx.signal;
    const follow = (): void => own.abort(client.reason);
    if (client.aborted) follow();
    else client.addEventListener('abort', follow, ONCE);
    const callCtx: CallContext = { requestId: ctx.requestId, apiKeyId: ctx.caller.keyId, signal: own.signal, log: ctx.log, meta: {} };
    const instance = lease.instance;
    try {
      if (instance.state() !== 'ready') await instance.ensureReady(callCtx.signal);
      if (ctx.signal.aborted) throw errors.cancelled();
      return { value: await call(instance, callCtx), call: own, callCtx };
    } catch (e) {
      client.removeEventListener('abort', follow);
      own.abort(e);
      throw e;
    } finally {
      // What this attempt sent upstream (the serving one is the last reported).
      trace?.sent(instance.name, callCtx.meta.upstream);
    }
  }

  /** Budget check, then admission. */
  async function admit(ctx: RequestContext, model: string, run: RequestRun): Promise<Permit> {
    if (deps.checkBudget) {
      try {
        await deps.checkBudget(ctx.caller, { model, endpoint: ctx.endpoint });
      } catch (e) {
        run.refusedBy = 'budget';
        const err = toRelayError(e);
        run.trace?.add({ kind: 'refused', reason: 'budget', detail: err.message });
        throw err;
      }
    }
    const t0 = clock.now();
    try {
      const permit = await deps.admission.acquire(ctx.caller, ctx.signal);
      const trace = run.trace;
      if (trace) trace.add({ kind: 'admitted', waitMs: clock.now() - t0, queues: [...(permit.queued ?? [])] });
      return permit;
    } catch (e) {
      const err = toRelayError(e);
      run.trace?.add({ kind: 'refused', waitMs: clock.now() - t0, reason: err.code, detail: err.message });
      throw e;
    }
  }

  /**
   * A request begins (every kind the same way): its run, with a trace when capture is on (the
   * client's body, else the neutral request stands in), counted as active until `failed` or its end.
   */
  const begin = (ctx: RequestContext, model: string, stream: boolean, fallbackBody: unknown): RequestRun => {
    const run = new RequestRun(ctx, model, stream, env);
    if (deps.capture?.()) run.trace = new RequestTrace(ctx.receivedAt, () => clock.now(), ctx.clientBody ?? fallbackBody, deps.captureChars?.(), deps.captureAllowance);
    active++;
    return run;
  };
  /** The requested name resolved (after admission), on the run and its trace. */
  const resolveFor = (run: RequestRun, model: string): Resolution => {
    const resolution = deps.resolver.resolve(model);
    run.resolution = resolution;
    const t = run.trace;
    if (t) {
      const e = t.add({ kind: 'resolved', targets: resolution.targets.map((x) => x.label) });
      if (resolution.alias) e.detail = resolution.alias;
    }
    return resolution;
  };

  /**
   * A request failed before it was answered: the error the client gets (client disconnects stay
   * 499 and skip the rules; errors from the walk go through them), the permit given back, the run finished.
   */
  const failed = (e: unknown, ctx: RequestContext, run: RequestRun, fromWalk: boolean, permit: Permit | undefined): RelayError => {
    let err: RelayError;
    if (ctx.signal.aborted) err = errors.cancelled();
    else {
      err = toRelayError(e);
      if (fromWalk) err = mapError(err);
    }
    permit?.release();
    active--;
    run.finish(err.status, err);
    return err;
  };

  async function execute(req: ChatRequest, ctx: RequestContext): Promise<ChatExecution> {
    const run = begin(ctx, req.model, req.stream, req);
    const meter = new UsageMeter(() => estimatePromptTokens(req));
    let permit: Permit | undefined;
    let inWalk = false;
    try {
      permit = await admit(ctx, req.model, run);
      const resolution = resolveFor(run, req.model);
      const needs: Needs = { tools: requestUsesTools(req), images: hasImages(req), embeddings: false };
      // Hashed at most once per request, and only when the pool asks; each hop is prepared once (the pool sees what the instance gets).
      let affinity: string | undefined | null = null;
      const affinityOf = (): string | undefined => (affinity === null ? (affinity = affinityKey(req)) : affinity);
      // The first target's hop in two variables (most requests have one target), a map for the others.
      let firstTarget: Target | undefined;
      let firstHop: PreparedHop | undefined;
      let hops: Map<Target, PreparedHop> | undefined;
      const prepare = (target: Target): PreparedHop => {
        let hop = target === firstTarget ? firstHop : hops?.get(target);
        if (hop) return hop;
        const options = { ...req.options, ...target.options };
        hop = { request: { ...req, model: target.model, options: Object.keys(options).length ? options : undefined } };
        // Emulation stands in for native tools only: a provider that has them gets them as they are.
        if (options.toolEmulation === true && needs.tools && !providerNamed(target.provider)?.capabilities.tools) {
          const emu = applyToolEmulation(hop.request);
          hop = { request: emu.request, transform: emu.transform };
        }
        if (firstTarget === undefined) {
          firstTarget = target;
          firstHop = hop;
        } else (hops ??= new Map()).set(target, hop);
        return hop;
      };
      inWalk = true;
      const walked = await walkChain(
        resolution.requested,
        orderByHealth(resolution.targets),
        stepsFor<ChatCall>(run, ctx, needs, (t) => ({ request: prepare(t).request, affinity: affinityOf }), (lease, target) => {
          // (A throw from `prepare` is the walk's like a rejection: it awaits this inside its try.)
          const hop = prepare(target);
          const ms = target.firstByteTimeoutMs ?? deps.limits.firstByteTimeoutMs;
          return onInstance(lease, ctx, (instance, callCtx) => {
            const raw = instance.chat(hop.request, callCtx);
            return firstEvent(hop.transform ? hop.transform(raw) : raw, target.label, ms, callCtx.signal, clock);
          }, run.trace);
        }),
      );
      inWalk = false;
      const { held: lease, target, value } = walked;
      const instance = lease.instance;
      const resolved = resolvedOf(resolution, target, instance);
      recordSuccess(instance.name);
      run.routed(resolved);
      return new Execution({
        resolved,
        started: value.value,
        call: value.call,
        holds: [lease, permit],
        meter,
        clientSignal: ctx.signal,
        stream: req.stream,
        observe: run.trace ? (ev) => run.trace!.observe(ev) : undefined,
        failed: (e) => {
          const raw = toRelayError(e);
          recordFailure(instance.name, raw);
          const err = mapError(raw);
          ctx.log.warn({ requestId: ctx.requestId, instance: instance.name, code: err.code, status: err.status }, 'stream failed after first byte');
          return err;
        },
        ended: (status, err) => {
          active--;
          run.sessionReuse = value.callCtx.meta.sessionReuse === true;
          run.finish(status, err, meter.decide());
        },
      });
    } catch (e) {
      throw failed(e, ctx, run, inWalk, permit);
    }
  }

  async function embed(req: EmbeddingsRequest, ctx: RequestContext): Promise<{ resolved: Resolved; result: EmbeddingsResult }> {
    const run = begin(ctx, req.model, false, req);
    let permit: Permit | undefined;
    let inWalk = false;
    try {
      permit = await admit(ctx, req.model, run);
      const resolution = resolveFor(run, req.model);
      inWalk = true;
      const needs: Needs = { tools: false, images: false, embeddings: true };
      const walked = await walkChain(
        resolution.requested,
        orderByHealth(resolution.targets),
        stepsFor(run, ctx, needs, () => ({}), async (lease, target) => {
          const ms = target.firstByteTimeoutMs ?? deps.limits.firstByteTimeoutMs;
          const r = await onInstance(lease, ctx, (instance, callCtx) => {
            if (!instance.embed) throw errors.invalid(`${target.label} does not offer embeddings.`, 'model', 'embeddings_unsupported');
            return withDeadline(instance.embed({ ...req, model: target.model }, callCtx), target.label, ms, callCtx.signal, clock);
          }, run.trace);
          return r.value;
        }),
      );
      inWalk = false;
      const { held: lease, target, value: result } = walked;
      lease.release();
      recordSuccess(lease.instance.name);
      const resolved = resolvedOf(resolution, target, lease.instance);
      run.routed(resolved);
      permit.release();
      active--;
      run.finish(200, undefined, { promptTokens: result.usage.promptTokens, completionTokens: 0, estimated: false });
      return { resolved, result };
    } catch (e) {
      throw failed(e, ctx, run, inWalk, permit);
    }
  }

  return {
    execute,
    embed,
    resolveModel: (model: string) => deps.resolver.resolve(model),
    instanceHealth: (instance: string) => deps.health.snapshot(instance),
    walkStats: () => ({ active }),
    observed: () => later.idle(),
    flushObservers: () => later.flush(),
  };
}
