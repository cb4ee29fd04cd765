/**
 * Keeps `discoverAttach` current: re-reads when a `SharedClientCache` folder (or its parent, for
 * a folder that appears later) changes, and on a slow poll (fs.watch is unreliable on some file
 * systems and misses folders created later). Emits what changed:
 *
 * - `found`: a runtime is there now, where there was none;
 * - `moved`: it is still there but reached another way (new port, new pid, new socket): reconnect;
 * - `gone`: nothing runs any more.
 */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { cacheFolders, cacheParents, discoverAttach, sameTarget, type AttachTarget, type DiscoverOptions, type DiscoverResult } from './discover';

export interface AttachWatchEvents {
  found: [target: AttachTarget];
  moved: [target: AttachTarget, previous: AttachTarget];
  gone: [previous: AttachTarget];
}

export interface AttachWatchOptions extends DiscoverOptions {
  /** Poll interval; fs.watch makes most changes faster. Default 5 s. */
  pollMs?: number;
  /** Coalesce bursts of file events (a writer truncates, then writes). Default 100 ms. */
  debounceMs?: number;
  log?: Logger;
  /** Test seam: discovery itself. */
  discover?: (o: DiscoverOptions) => DiscoverResult;
}

export class AttachWatcher extends EventEmitter<AttachWatchEvents> {
  private current: AttachTarget | undefined;
  private watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private lastSkipped = '';
  private running = false;

  constructor(private readonly opts: AttachWatchOptions = {}) {
    super();
  }

  /** The runtime found at the last look. */
  get target(): AttachTarget | undefined {
    return this.current;
  }

  /** Look once now (synchronously) and start watching. Returns what was found. */
  start(): AttachTarget | undefined {
    if (this.running) return this.current;
    this.running = true;
    this.check();
    this.watchFolders();
    this.poll = setInterval(() => this.check(), this.opts.pollMs ?? 5000);
    this.poll.unref();
    return this.current;
  }

  stop(): void {
    this.running = false;
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.poll = this.debounce = undefined;
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  /** Re-read now; emits on a change. */
  check(): void {
    const found = (this.opts.discover ?? discoverAttach)(this.opts);
    const skipped = found.skipped.join('; ');
    if (skipped && skipped !== this.lastSkipped) this.opts.log?.info({ skipped: found.skipped }, 'Lingma app discovery ignored some entries');
    this.lastSkipped = skipped;
    const prev = this.current;
    const next = found.target;
    if (sameTarget(prev, next)) return;
    this.current = next;
    if (!this.running) return;
    if (!prev && next) this.emit('found', next);
    else if (prev && !next) this.emit('gone', prev);
    else if (prev && next) this.emit('moved', next, prev);
  }

  private scheduleCheck(): void {
    if (!this.running) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (this.running) this.check();
    }, this.opts.debounceMs ?? 100);
    this.debounce.unref();
  }

  /** Watch every cache folder that exists, and the parents (a cache folder created later). */
  private watchFolders(): void {
    const dirs = new Set([...cacheFolders(this.opts), ...cacheParents(this.opts)]);
    for (const dir of dirs) {
      try {
        const w = watch(dir, { persistent: false }, () => this.scheduleCheck());
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch {
        // Missing folder: the poll covers it.
      }
    }
  }
}
