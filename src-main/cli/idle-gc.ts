/**
 * Gives the garbage of a busy spell back when the gateway goes quiet. With the small young
 * generation the gateway runs with (`--max-semi-space-size=2`), most of a burst's short-lived
 * objects are promoted and wait in the old generation for the next mark-compact, which V8 starts
 * only when more is allocated: an idle gateway kept 6–10 MB of dead objects (heap used 30 MB
 * instead of 24 after a warm-up) for as long as it stayed idle.
 *
 * Every `everyMs` this looks at the event loop's utilization over the interval and the heap used:
 * when the loop was nearly idle (below `maxUtilization`) and the heap holds at least `minGrowth`
 * bytes more than after the last collection, it runs two full collections (tens of ms on a
 * 30 MB heap, while nothing else is running): the first frees the dead objects but leaves the old
 * generation's pages sparse and committed; the second compacts them and gives the pages back
 * (measured on Node 20: heap total 45 MB after one, 10 MB after two). A steady load never
 * triggers it; a trickle of requests triggers it once per `minGrowth` of garbage at most.
 *
 * The collector is V8's `gc`: the global one when the process was started with `--expose-gc`;
 * otherwise made reachable without the command-line flag: `--expose-gc` set for the moment one
 * fresh context is created (the way jest's leak detector does it), then unset. Node documents
 * flag changes after start as unpredictable; this one is narrow: `expose_gc` is read only when a
 * context is created (it installs the `gc` extension there), the flag is back to its start value
 * before anything else runs (V8's flag hash, which guards code caches, is then the same again),
 * and Node 20+ keeps V8's flags writable after start (`--no-freeze-flags-after-init`). When a
 * runtime refuses it (frozen flags: `setFlagsFromString` throws, or the context has no `gc`),
 * there is simply no idle collection.
 */
import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleCollectorDeps {
  /** A full garbage collection. */
  gc: () => void;
  /** Bytes of heap in use now. */
  usedHeap: () => number;
  /** The event loop's utilization (0–1) since the previous call. */
  utilization: () => number;
  /** Below this utilization the process counts as idle (default 0.02). */
  maxUtilization?: number;
  /** Heap growth since the last collection worth collecting for (bytes, default 4 MB). */
  minGrowth?: number;
}

/** One decision per call: collect when idle and the heap grew enough. Returns whether it collected. */
export function idleCollector(d: IdleCollectorDeps): { check(): boolean } {
  const maxUtilization = d.maxUtilization ?? 0.02;
  const minGrowth = d.minGrowth ?? 4 * 2 ** 20;
  let floor = d.usedHeap();
  return {
    check() {
      const busy = d.utilization() > maxUtilization;
      const used = d.usedHeap();
      // A collection of V8's own lowers the floor too.
      if (used < floor) floor = used;
      if (busy || used - floor < minGrowth) return false;
      d.gc();
      d.gc();
      floor = d.usedHeap();
      // The collection's own time is not activity.
      d.utilization();
      return true;
    },
  };
}

/** V8's `gc` function (the global one under `--expose-gc`), or undefined when this runtime refuses the flag. */
export function exposedGc(): (() => void) | undefined {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return () => void global();
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? () => void gc() : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** Checks every `everyMs` (default 5 s; unreferenced timer). `stop()` ends it. */
export function startIdleCollector(everyMs = 5000): { stop(): void } {
  const gc = exposedGc();
  if (!gc) return { stop: () => undefined };
  let last = performance.eventLoopUtilization();
  const collector = idleCollector({
    gc,
    usedHeap: () => getHeapStatistics().used_heap_size,
    utilization: () => {
      const now = performance.eventLoopUtilization();
      const u = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      return u;
    },
  });
  const timer = setInterval(() => collector.check(), everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
