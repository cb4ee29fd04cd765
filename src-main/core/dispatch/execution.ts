/**
 * One answer in progress: what `ChatService.execute` returns once the first event arrived.
 *
 * The execution holds the request's slots (instance lease, admission permit) and its upstream
 * call, and ends exactly once, in `end()`: through `close()`, the client leaving, or its events
 * being iterated to the end (or left early). Ending frees the slots in order, cancels the
 * upstream call unless it completed, and reports the status to the dispatcher, which records the
 * request's one outcome.
 */
import type { CallAbort } from '../abort';
import type { ChatEvent } from '../chat/model';
import { errors, type RelayError } from '../errors';
import type { Clock } from '../ports';
import type { UsageMeter } from './outcome';
import type { ChatExecution, Resolved } from './types';

/** An upstream call that produced its first event. */
export interface Started {
  iter: AsyncIterator<ChatEvent>;
  first: ChatEvent;
}

/**
 * Wait for `p` (a call to `label`) for at most `ms` on `clock`, or until `signal` aborts: then
 * reject with a retryable `first_byte_timeout` (the deadline) or `client_closed`. The loser's
 * rejection is swallowed. One clock timer and one abort listener, both dropped as soon as one
 * side wins (no `AbortSignal.timeout`/`any` per request: those allocate signals, weak refs and
 * DOMExceptions on the hot path).
 */
export function withDeadline<T>(p: Promise<T>, label: string, ms: number, signal: AbortSignal, clock: Clock): Promise<T> {
  p.catch(() => undefined);
  if (signal.aborted) return Promise.reject(errors.cancelled());
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (settle()) reject(errors.cancelled());
    };
    const timer = clock.setTimeout(() => {
      if (settle()) reject(errors.timeout(`No answer from ${label} within ${ms} ms.`, { code: 'first_byte_timeout', retryable: true }));
    }, ms);
    timer.unref?.();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        if (settle()) resolve(v);
      },
      (e) => {
        if (settle()) reject(e);
      },
    );
  });
}

/**
 * The first event of `events` (the answer of `label`) under the first-byte deadline. On failure
 * the call's iterator is returned (its generator unwinds on its own time).
 */
export async function firstEvent(events: AsyncIterable<ChatEvent>, label: string, ms: number, signal: AbortSignal, clock: Clock): Promise<Started> {
  const iter = events[Symbol.asyncIterator]();
  try {
    const r = await withDeadline(iter.next(), label, ms, signal, clock);
    if (r.done) throw errors.upstream(`${label} ended its answer without any output.`, { retryable: true });
    return { iter, first: r.value };
  } catch (e) {
    void Promise.resolve(iter.return?.()).catch(() => undefined);
    throw e;
  }
}

export interface ExecutionParts {
  resolved: Resolved;
  started: Started;
  /** Aborts the upstream call (its signal also follows the client's). */
  call: CallAbort;
  /** Released when the execution ends, in this order (instance lease, then admission permit). */
  holds: ReadonlyArray<{ release(): void }>;
  meter: UsageMeter;
  /** The client's signal: its abort ends the execution (499) even when nobody iterates. */
  clientSignal: AbortSignal;
  stream: boolean;
  /** A failure after the first event: record it and return the error the client gets. */
  failed(e: unknown): RelayError;
  /** Called exactly once, when the execution ends. */
  ended(status: number, err?: RelayError): void;
  /** Sees every event the consumer gets (the request inspector's answer), when capture is on. */
  observe?(ev: ChatEvent): void;
}

export class Execution implements ChatExecution {
  readonly resolved: Resolved;
  readonly events: AsyncIterable<ChatEvent>;
  private done = false;
  /** The consumer was handed `finish`: it has a whole answer. */
  private sawFinish = false;
  private readonly onClientAbort = (): void => this.end(499, errors.cancelled());

  constructor(private readonly p: ExecutionParts) {
    this.resolved = p.resolved;
    if (p.clientSignal.aborted) queueMicrotask(this.onClientAbort);
    else p.clientSignal.addEventListener('abort', this.onClientAbort, { once: true });
    this.events = this.run();
  }

  /** The dispatcher's one prompt estimate (made on first read: `UsageMeter.promptEstimate`). */
  get promptTokens(): number {
    return this.p.meter.promptEstimate;
  }

  close(): void {
    if (this.sawFinish) this.end(200);
    else this.end(499, errors.cancelled());
  }

  private end(status: number, err?: RelayError): void {
    if (this.done) return;
    this.done = true;
    const p = this.p;
    p.clientSignal.removeEventListener('abort', this.onClientAbort);
    if (status !== 200 || err) {
      p.call.abort(err ?? errors.cancelled());
      void Promise.resolve(p.started.iter.return?.()).catch(() => undefined);
    }
    for (const h of p.holds) h.release();
    p.ended(status, err);
  }

  private async *run(): AsyncGenerator<ChatEvent> {
    const { started, meter } = this.p;
    let completed = false;
    try {
      if (this.done) throw errors.cancelled();
      let ev: ChatEvent | undefined = started.first;
      while (ev) {
        // What the consumer gets for one upstream event: backend usage is replaced by the decided
        // one, sent before `finish` (no array per event).
        if (meter.observe(ev)) {
          if (ev.type === 'finish') {
            const usage: ChatEvent = { type: 'usage', usage: meter.decide() };
            this.p.observe?.(usage);
            yield usage;
            this.sawFinish = true;
          }
          this.p.observe?.(ev);
          yield ev;
        }
        const r: IteratorResult<ChatEvent> = await started.iter.next();
        ev = r.done ? undefined : r.value;
      }
      // An answer that ended without `finish` still gets its usage.
      if (!meter.isDecided) {
        const usage: ChatEvent = { type: 'usage', usage: meter.decide() };
        this.p.observe?.(usage);
        yield usage;
      }
      completed = true;
    } catch (e) {
      if (this.p.clientSignal.aborted || this.done) {
        this.end(499, errors.cancelled());
        throw errors.cancelled();
      }
      const err = this.p.failed(e);
      this.end(this.p.stream ? 200 : err.status, err);
      throw err;
    } finally {
      // Completed, or the consumer stopped after `finish`: a whole answer. Otherwise it left early.
      if (completed || this.sawFinish) this.end(200);
      else this.end(499, errors.cancelled());
    }
  }
}
