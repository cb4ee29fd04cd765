/**
 * `routed` and `finished` off the reply's critical path. The dispatcher builds each value at its
 * moment (first byte, end: the timestamps are taken then), but the observers (metrics, live hub,
 * ledger record, inspector capture) run on the next `setImmediate`: after the front end has
 * handed the first frame, or the reply's last bytes, to the socket (those writes follow in the
 * same turn, through promises only). One immediate per batch; FIFO, so a request's `routed`
 * always precedes its `finished`; each notification runs exactly once. `started` stays synchronous.
 *
 * `flush()` runs what is queued now (before the ledger closes, so no row is lost at stop);
 * `idle()` resolves once the queue is empty (tests await it through the dispatcher's `observed()`).
 */
import { notify, type RequestObserver, type RequestOutcome, type RequestRouted } from './outcome';

type Later = { routed: RequestRouted; finished: RequestOutcome };

export class ObserverQueue {
  /** Flat triples: hook, value, onError (no object per notification). */
  private readonly items: unknown[] = [];
  private head = 0;
  private scheduled = false;
  private flushing = false;
  private waiters: Array<() => void> = [];
  /** What the immediate runs (named: a test holds exactly these immediates back). */
  private readonly observerQueueDrain = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly observers: readonly RequestObserver[],
    private readonly schedule: (run: () => void) => void = (run) => void setImmediate(run),
  ) {}

  /** Queue one notification; the batch runs on the next immediate. */
  push<K extends keyof Later>(hook: K, value: Later[K], onError: (e: unknown) => void): void {
    if (this.observers.length === 0) return;
    this.items.push(hook, value, onError);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(this.observerQueueDrain);
    }
  }

  /** Notifications queued and not yet run. */
  get size(): number {
    return (this.items.length - this.head) / 3;
  }

  /** Run everything queued, in order (also what an observer queues meanwhile). */
  flush(): void {
    if (this.flushing) return;
    this.flushing = true;
    const items = this.items;
    try {
      while (this.head < items.length) {
        const i = this.head;
        this.head += 3;
        notify(this.observers, items[i] as keyof Later, items[i + 1] as RequestOutcome, items[i + 2] as (e: unknown) => void);
      }
    } finally {
      items.length = 0;
      this.head = 0;
      this.flushing = false;
    }
    if (this.waiters.length) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
    }
  }

  /** Resolves once every notification queued so far (and after) has run. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
