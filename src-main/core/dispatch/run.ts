/**
 * One request's bookkeeping from its start to its one `RequestOutcome`: started (observers hear
 * it before admission), routed (first byte), finished exactly once. `routed` and `finished` are
 * built (and timed) at their moment and queued for the observers (./observer-queue.ts), which
 * hear them once the reply's bytes are written.
 */
import { randomUUID } from 'node:crypto';
import type { Usage } from '../chat/model';
import type { RelayError } from '../errors';
import type { Resolution } from '../routing/types';
import type { ObserverQueue } from './observer-queue';
import { notify, type RequestObserver, type RequestOutcome, type RequestStart, type Switch } from './outcome';
import type { RequestTrace } from './trace';
import type { RequestContext, Resolved } from './types';

export interface RunEnv {
  observers: readonly RequestObserver[];
  /** Where `routed` and `finished` wait for the next immediate (the same observers). */
  later: ObserverQueue;
  now(): number;
  /** How a name resolves (throws when it does not). */
  resolve(model: string): Resolution;
}

export class RequestRun {
  readonly start: RequestStart;
  readonly switches: Switch[] = [];
  resolution?: Resolution;
  resolved?: Resolved;
  firstByteAt?: number;
  sessionReuse = false;
  refusedBy?: 'budget';
  /** The inspector's trace, when capture is on. */
  trace?: RequestTrace;
  private finished = false;

  constructor(
    private readonly ctx: RequestContext,
    model: string,
    stream: boolean,
    private readonly env: RunEnv,
  ) {
    this.start = {
      id: randomUUID(),
      requestId: ctx.requestId,
      protocol: ctx.protocol,
      endpoint: ctx.endpoint,
      apiKeyId: ctx.caller.keyId,
      requestedModel: model,
      stream,
      receivedAt: ctx.receivedAt,
    };
    if (ctx.userAgent) this.start.userAgent = ctx.userAgent;
    // Never changed after this: observers get it as it is (no copy).
    notify(env.observers, 'started', this.start, this.observerFailed);
  }

  private readonly observerFailed = (e: unknown): void => {
    this.ctx.log.error({ requestId: this.ctx.requestId, error: (e as Error)?.message ?? String(e) }, 'request observer failed');
  };

  routed(resolved: Resolved): void {
    this.resolved = resolved;
    this.firstByteAt = this.env.now();
    this.trace?.add({ kind: 'first_byte', at: this.trace.rel(this.firstByteAt), instance: resolved.instance, target: resolved.label });
    this.env.later.push('routed', { ...this.start, resolved, firstByteAt: this.firstByteAt }, this.observerFailed);
  }

  finish(status: number, error?: RelayError, usage?: Usage): void {
    if (this.finished) return;
    this.finished = true;
    // A request that ended before resolution (e.g. refused) is still labelled by the name it asked for.
    let resolution = this.resolution;
    if (!resolution) {
      try {
        resolution = this.env.resolve(this.start.requestedModel);
      } catch {
        resolution = undefined;
      }
    }
    const finishedAt = this.env.now();
    let trace: RequestOutcome['trace'];
    if (this.trace) {
      const end = this.trace.add({ kind: 'end', at: this.trace.rel(finishedAt), status });
      if (error) end.reason = error.code;
      trace = this.trace.data();
    }
    // One literal (one shape, no copies): the switches are final once finished.
    const s = this.start;
    const outcome: RequestOutcome = {
      id: s.id,
      requestId: s.requestId,
      protocol: s.protocol,
      endpoint: s.endpoint,
      apiKeyId: s.apiKeyId,
      userAgent: s.userAgent,
      requestedModel: s.requestedModel,
      stream: s.stream,
      receivedAt: s.receivedAt,
      finishedAt,
      status,
      error,
      refusedBy: this.refusedBy,
      resolution,
      resolved: this.resolved,
      firstByteAt: this.firstByteAt,
      switches: this.switches,
      sessionReuse: this.sessionReuse,
      usage,
      trace,
    };
    this.env.later.push('finished', outcome, this.observerFailed);
  }
}
