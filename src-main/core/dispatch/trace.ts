/**
 * One request's story for the request inspector (core/inspector): a timeline relative to its
 * arrival, the answer as the client got it (streams assembled) and the upstream request the
 * serving backend reports (`CallMeta.upstream`). The dispatcher keeps one per request when
 * capture is on and hands it over in the `RequestOutcome` (`trace`); nothing here redacts: the
 * inspector does before storing.
 */
import type { UpstreamRequest } from '../backends/types';
import { ChatFold } from '../chat/collect';
import type { ChatEvent } from '../chat/model';
import { toRelayError } from '../errors';
import type { CapturedAnswer, TimelineEvent } from '../inspector/types';
import { reasonOf, type Held, type WalkSteps, type WalkTarget } from './walk';

export interface TraceData {
  /** The client's body as parsed by its front end (absent: `request` below stands in). */
  clientBody?: unknown;
  timeline: TimelineEvent[];
  answer?: CapturedAnswer;
  /** The answer kept is shorter than what the client got (`answerChars` or the allowance). */
  answerCut?: boolean;
  upstream?: UpstreamRequest & { instance?: string };
}

/**
 * What all traces in flight may keep of their answers together (the request inspector's memory
 * bound, `inspector.maxBytes`): `take(n)` grants at most `n` characters, `release(n)` gives back
 * what a trace held once its request is over.
 */
export interface CaptureAllowance {
  take(chars: number): number;
  release(chars: number): void;
}

export class RequestTrace {
  readonly timeline: TimelineEvent[] = [];
  private fold: ChatFold | undefined;
  /** Characters granted by the allowance so far, given back by `data()`. */
  private held = 0;
  upstream?: UpstreamRequest & { instance?: string };

  /**
   * `answerChars`: the most characters the answer's text (reasoning, each call's arguments) keeps;
   * `allowance`: the share of all requests in flight (absent: no shared bound).
   */
  constructor(
    private readonly receivedAt: number,
    private readonly now: () => number,
    readonly clientBody?: unknown,
    private readonly answerChars = Infinity,
    private readonly allowance?: CaptureAllowance,
  ) {}

  /** ms since arrival. */
  rel(at = this.now()): number {
    return Math.max(0, at - this.receivedAt);
  }

  /** `ev` (a fresh object from the caller) becomes the timeline's entry, `at` filled in: no copy. */
  add(ev: Omit<TimelineEvent, 'at'> & { at?: number }): TimelineEvent {
    if (ev.at === undefined) ev.at = this.rel();
    const e = ev as TimelineEvent;
    this.timeline.push(e);
    return e;
  }

  /** An event the client gets (after usage is decided). */
  observe(ev: ChatEvent): void {
    (this.fold ??= new ChatFold(this.answerChars, this.allowance && ((n) => this.take(n)))).push(ev);
  }

  private take(chars: number): number {
    const granted = this.allowance!.take(chars);
    this.held += granted;
    return granted;
  }

  /** The upstream request an attempt reported, with the instance it went to. */
  sent(instance: string, up: UpstreamRequest | undefined): void {
    if (up) this.upstream = { ...up, instance };
  }

  /** The trace as the outcome keeps it; gives back what the answer held of the allowance (once). */
  data(): TraceData {
    if (this.held) {
      this.allowance!.release(this.held);
      this.held = 0;
    }
    let answer: CapturedAnswer | undefined;
    if (this.fold) {
      const r = this.fold.result();
      answer = { text: r.text, reasoning: r.reasoning, toolCalls: r.toolCalls, finishReason: r.finishReason, usage: r.usage ? { ...r.usage } : undefined };
    }
    // One literal; the timeline is final once the request ended (`end` is its last entry).
    return { clientBody: this.clientBody, timeline: this.timeline, answer, answerCut: this.fold?.cut || undefined, upstream: this.upstream };
  }
}

/**
 * The walk's steps with every skip, attempt (pool wait, call, outcome) and switch also put on
 * the trace's timeline. The steps themselves are unchanged.
 */
export function tracedSteps<T extends WalkTarget, L extends Held, V>(trace: RequestTrace, steps: WalkSteps<T, L, V>, now: () => number, signal: AbortSignal): WalkSteps<T, L, V> {
  // When the current attempt began waiting for an instance, and when it got one.
  let began = 0;
  let took = 0;
  // Targets with an attempt already: the walk's look for one more instance there is no attempt.
  let tried: Set<T> | undefined;
  return {
    ...steps,
    skip: (target) => {
      const issue = steps.skip(target);
      if (issue) trace.add({ kind: 'skipped', target: target.label, reason: issue });
      return issue;
    },
    acquire: async (target, exclude) => {
      began = now();
      try {
        const held = await steps.acquire(target, exclude);
        took = now();
        return held;
      } catch (e) {
        const err = toRelayError(e);
        if (!tried?.has(target) || err.code !== 'no_instance') {
          trace.add({ kind: 'attempt', at: trace.rel(began), durationMs: now() - began, target: target.label, outcome: 'no_instance', reason: err.code, detail: err.message });
        }
        throw e;
      }
    },
    attempt: async (held, target) => {
      (tried ??= new Set<T>()).add(target);
      const at = trace.rel(began);
      const waitMs = took - began;
      try {
        const v = await steps.attempt(held, target);
        trace.add({ kind: 'attempt', at, waitMs, target: target.label, instance: held.instance.name, durationMs: now() - began, outcome: 'first_byte' });
        return v;
      } catch (e) {
        const err = toRelayError(e);
        trace.add({
          kind: 'attempt', at, waitMs, target: target.label, instance: held.instance.name,
          durationMs: now() - began, outcome: signal.aborted ? 'cancelled' : 'failed', reason: reasonOf(err), detail: err.message,
        });
        throw e;
      }
    },
    switched: (s, target) => {
      trace.add({ kind: 'switch', from: s.from, to: s.to, reason: s.reason, target: target.label });
      steps.switched(s, target);
    },
  };
}
