/** Abort plumbing shared across layers. */
import { errors } from './errors';

/** Resolves with `p`, or rejects with a cancel error when the signal aborts first. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(errors.cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(errors.cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * What a per-request `AbortSignal` needs of its own: `aborted`, `reason`, `throwIfAborted()`,
 * `onabort` and `'abort'` listeners (undici and Node's APIs take any such EventTarget).
 */
class CallSignal extends EventTarget {
  aborted = false;
  reason: unknown = undefined;
  onabort: ((this: AbortSignal, ev: Event) => unknown) | null = null;

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
}

/**
 * A per-request abort: `new AbortController()` as the request paths use it (`signal`, `abort(reason)`),
 * the one the front ends' "client went away" signal and the dispatcher's per-call signal are made of.
 * Why not `AbortController`: on Node 20 each `AbortSignal` gets a V8 hidden class of its own, and
 * measured under load every one of them, with what its listeners close over (the request), survived
 * the scavenges until the next full collection (docs/perf-issue-14.md, "What survives the
 * scavenges"); an EventTarget subclass shares one. Its signal is not one of Node's: it suits every
 * consumer that takes a signal (undici, timers, streams), not `AbortSignal.any`.
 */
export class CallAbort {
  readonly signal: AbortSignal;
  private readonly target = new CallSignal();

  constructor() {
    this.signal = this.target as unknown as AbortSignal;
  }

  /** Like `AbortController.abort`: once; `reason` defaults to an `AbortError` DOMException. */
  abort(reason?: unknown): void {
    const s = this.target;
    if (s.aborted) return;
    s.aborted = true;
    s.reason = reason === undefined ? new DOMException('This operation was aborted', 'AbortError') : reason;
    const ev = new Event('abort');
    s.onabort?.call(this.signal, ev);
    s.dispatchEvent(ev);
  }
}
