/**
 * `SessionOwners` in this process: a bounded map (oldest entries go first) whose entries expire
 * `ttlMs` after their last use. The single-node implementation of the port (`./ports.ts`).
 */
import { systemClock, type Clock } from '../ports';
import type { SessionOwners } from './ports';

export interface MemorySessionOwnersOptions {
  ttlMs: number;
  maxEntries?: number;
  clock?: Clock;
}

export class MemorySessionOwners implements SessionOwners {
  private readonly map = new Map<string, { instance: string; expiresAt: number }>();
  private readonly clock: Clock;
  private readonly max: number;

  constructor(private readonly opts: MemorySessionOwnersOptions) {
    this.clock = opts.clock ?? systemClock;
    this.max = Math.max(1, opts.maxEntries ?? 4096);
  }

  get(key: string): string | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.clock.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e.instance;
  }

  set(key: string, instance: string): void {
    this.map.delete(key);
    this.map.set(key, { instance, expiresAt: this.clock.now() + this.opts.ttlMs });
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }

  get size(): number {
    return this.map.size;
  }
}
