/**
 * What one request came to, as one value: `RequestOutcome`. The dispatcher builds it once, when
 * the request ends (however it ends), and hands it (on the next immediate) to its observers: metrics, the live-request
 * hub and the usage ledger subscribe in `relay.ts` (./observers.ts, `gateway/metrics.ts`); none of
 * them is known to the dispatcher.
 *
 * Usage is decided here too, once per request (`UsageMeter`): the backend's figures when it
 * reports real ones, else one estimate (`chat/tokens.ts`): the prompt estimate the execution
 * announced at its start and the output seen.
 */
import type { ChatEvent, Usage } from '../chat/model';
import { EXACT_LIMIT, estimateTokens, TextTally } from '../chat/tokens';
import type { RelayError } from '../errors';
import type { Resolution } from '../routing/types';
import type { TraceData } from './trace';
import type { Protocol, Resolved } from './types';

/** A request as it starts (before admission): enough for the live view. */
export interface RequestStart {
  /** Unique per request, even when clients reuse an `x-request-id` (the dashboard keys live requests by it). */
  id: string;
  requestId: string;
  protocol: Protocol;
  endpoint: string;
  apiKeyId: string;
  userAgent?: string;
  /** The model name as the client sent it. */
  requestedModel: string;
  stream: boolean;
  receivedAt: number;
}

/** The first byte arrived: what serves the request. */
export interface RequestRouted extends RequestStart {
  resolved: Resolved;
  firstByteAt: number;
}

/** One switch to another instance or target during the chain walk. */
export interface Switch {
  /** The instance (or target label, when a target was skipped or had no instance) left. */
  from: string;
  /** The instance switched to. */
  to: string;
  /** Short reason: `upstream_error:500`, `first_byte_timeout`, `tools_unsupported`, ... */
  reason: string;
}

export interface RequestOutcome extends RequestStart {
  finishedAt: number;
  /** HTTP status the client got (200 for a stream that started, even if it failed later; 499 client gone). */
  status: number;
  error?: RelayError;
  /** The request was refused before admission by its key's budget. */
  refusedBy?: 'budget';
  /** How the requested name resolved; absent when it does not resolve. */
  resolution?: Resolution;
  /** What served it (absent when nothing did). */
  resolved?: Resolved;
  firstByteAt?: number;
  switches: Switch[];
  sessionReuse: boolean;
  /** The usage the request is counted with (absent when nothing was routed). */
  usage?: Usage;
  /**
   * The request's story (bodies, upstream request, timeline) when capture is on
   * (`DispatcherDeps.capture`): for the request inspector. Not redacted yet.
   */
  trace?: TraceData;
}

/**
 * Subscribers to requests. `finished` is called exactly once per request; `started` before
 * admission (synchronously), `routed` for the first byte (for live views). `routed` and
 * `finished` carry the values of their moment but run on the next immediate, once the reply's
 * bytes are written (./observer-queue.ts), in order. Observers must not throw; if one does, the
 * error is logged and the others still run.
 */
export interface RequestObserver {
  started?(req: RequestStart): void;
  routed?(req: RequestRouted): void;
  finished?(outcome: RequestOutcome): void;
}

/**
 * Watches the events of one answer and decides its usage once. `usage` events from the backend
 * are taken in (not passed on); `decide()` gives the figure the request is counted with.
 */
export class UsageMeter {
  /** What the answer said (text, tool calls) and its reasoning, held only as far as an estimate needs. */
  private readonly output = new TextTally();
  private readonly reasoning = new TextTally();
  private reported: Usage | undefined;
  private decided: Usage | undefined;

  private prompt: number | undefined;

  /** `estimate`: the request's one prompt estimate (`estimatePromptTokens`), made only if needed. */
  constructor(private readonly estimate: () => number) {}

  /**
   * The prompt estimate, made on first use and then fixed: a protocol that announces input tokens
   * at the start (Anthropic's `message_start`) and the usage decided at the end agree. A request
   * whose backend reports real usage to a protocol that announces nothing never estimates.
   */
  get promptEstimate(): number {
    return (this.prompt ??= this.estimate());
  }

  /** Take an event in; false when it is the backend's usage, which the meter replaces. */
  observe(ev: ChatEvent): boolean {
    switch (ev.type) {
      case 'text':
        this.output.add(ev.text);
        return true;
      case 'reasoning':
        this.reasoning.add(ev.text);
        return true;
      case 'tool_call':
        if (ev.name) this.output.add(ev.name);
        this.output.add(ev.argumentsDelta);
        return true;
      case 'usage':
        // After the decision a late figure changes nothing: usage is decided once.
        if (!this.decided) this.reported = ev.usage;
        return false;
      default:
        return true;
    }
  }

  get isDecided(): boolean {
    return this.decided !== undefined;
  }

  /** The usage, decided on the first call (real figures if the backend gave them, else the estimate). */
  decide(): Usage {
    if (this.decided) return this.decided;
    const r = this.reported;
    if (r && !r.estimated) {
      this.decided = { ...r };
      return this.decided;
    }
    const promptTokens = this.promptEstimate;
    const reasoningTokens = this.reasoning.length ? this.reasoning.count() : undefined;
    // Output and reasoning short enough to be held are counted as one text; longer ones each on samples.
    const out = this.output.text;
    const why = this.reasoning.text;
    const completionTokens =
      out !== undefined && why !== undefined && out.length + why.length <= EXACT_LIMIT ? estimateTokens(out + why) : this.output.count() + (reasoningTokens ?? 0);
    const u: Usage = { promptTokens, completionTokens, estimated: true };
    if (reasoningTokens !== undefined) u.reasoningTokens = reasoningTokens;
    // A backend's own estimate of the reused share (a Lingma session reuse) is kept, within the prompt.
    if (r?.cachedTokens) u.cachedTokens = Math.min(r.cachedTokens, promptTokens);
    this.decided = u;
    return u;
  }
}

/** Call every observer's hook; an observer that throws does not stop the others. */
export function notify<K extends keyof RequestObserver>(
  observers: readonly RequestObserver[],
  hook: K,
  value: Parameters<NonNullable<RequestObserver[K]>>[0],
  onError: (e: unknown) => void,
): void {
  for (const o of observers) {
    const fn = o[hook] as ((v: typeof value) => void) | undefined;
    if (!fn) continue;
    try {
      fn.call(o, value);
    } catch (e) {
      onError(e);
    }
  }
}
