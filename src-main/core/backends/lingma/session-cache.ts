/**
 * Lingma session reuse. A conversation's prefix (every message but the last) maps to the upstream
 * `sessionId` that already holds it and the instance that owns that session, so the next turn
 * sends only the new message. Keyed per caller (API key id) so callers never share sessions.
 */
import { createHash } from 'node:crypto';
import { textOf, type ChatMessage } from '../../chat/model';
import { systemClock, type Clock } from '../../ports';

export interface SessionEntry {
  sessionId: string;
  instance: string;
  expiresAt: number;
}

export interface SessionCacheOptions {
  enabled: boolean;
  maxEntries: number;
  ttlSec: number;
  clock?: Clock;
  onHit?: () => void;
  onMiss?: () => void;
  /** An entry fell out (LRU or TTL): the runtime may drop the upstream session (`chat/deleteSessionById`). */
  onEvict?: (entry: SessionEntry) => void;
}

export interface SessionCacheStats {
  enabled: boolean;
  entries: number;
  maxEntries: number;
  hits: number;
  misses: number;
}

/** Whitespace-insensitive, so a client that re-wraps an answer still matches. */
function norm(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Stable hash of a conversation: role, text, tool calls and tool results of each message. */
export function conversationHash(messages: ChatMessage[]): string {
  const h = createHash('sha256');
  for (const m of messages) {
    h.update(m.role);
    h.update('\u0000');
    h.update(norm(textOf(m.content)));
    for (const c of m.toolCalls ?? []) h.update(`\u0001${c.name}\u0002${norm(c.arguments)}`);
    if (m.toolCallId) h.update(`\u0003${m.toolCallId}`);
    h.update('\u0004');
  }
  return h.digest('hex').slice(0, 32);
}

export class SessionCache {
  private readonly map = new Map<string, SessionEntry>();
  private hits = 0;
  private misses = 0;
  private readonly clock: Clock;

  constructor(private opts: SessionCacheOptions) {
    this.clock = opts.clock ?? systemClock;
  }

  get enabled(): boolean {
    return this.opts.enabled && this.opts.maxEntries > 0;
  }

  /** Apply new limits (live settings); shrinks at once when needed. */
  configure(opts: Partial<Pick<SessionCacheOptions, 'enabled' | 'maxEntries' | 'ttlSec'>>): void {
    this.opts = { ...this.opts, ...opts };
    if (!this.enabled) {
      const all = [...this.map.values()];
      this.map.clear();
      for (const e of all) this.evicted(e);
    }
    this.evict();
  }

  key(apiKeyId: string, messages: ChatMessage[]): string {
    return `${apiKeyId}:${conversationHash(messages)}`;
  }

  /** Look up without counting (routing asks before the call). */
  peek(key: string): SessionEntry | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.clock.now()) {
      this.map.delete(key);
      this.evicted(e);
      return undefined;
    }
    return e;
  }

  /** Count one hit or miss for a request that was eligible for reuse. */
  record(hit: boolean): void {
    if (hit) {
      this.hits++;
      this.opts.onHit?.();
    } else {
      this.misses++;
      this.opts.onMiss?.();
    }
  }

  put(key: string, sessionId: string, instance: string): void {
    if (!this.enabled || !sessionId) return;
    this.map.delete(key);
    this.map.set(key, { sessionId, instance, expiresAt: this.clock.now() + this.opts.ttlSec * 1000 });
    this.evict();
  }

  /** Mark as recently used (LRU order). */
  touch(key: string): void {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.map.set(key, e);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  /** Forget every session of an instance (it restarted, was removed, or logged out). */
  dropInstance(instance: string): number {
    let n = 0;
    for (const [k, e] of this.map) {
      if (e.instance === instance) {
        this.map.delete(k);
        n++;
      }
    }
    return n;
  }

  entriesFor(instance: string): number {
    let n = 0;
    for (const e of this.map.values()) if (e.instance === instance) n++;
    return n;
  }

  stats(): SessionCacheStats {
    return { enabled: this.enabled, entries: this.map.size, maxEntries: this.opts.maxEntries, hits: this.hits, misses: this.misses };
  }

  private evict(): void {
    const now = this.clock.now();
    for (const [k, e] of this.map) {
      if (e.expiresAt > now) continue;
      this.map.delete(k);
      this.evicted(e);
    }
    while (this.map.size > Math.max(0, this.opts.maxEntries)) {
      const oldest = this.map.keys().next().value as string;
      const e = this.map.get(oldest)!;
      this.map.delete(oldest);
      this.evicted(e);
    }
  }

  private evicted(e: SessionEntry): void {
    try {
      this.opts.onEvict?.(e);
    } catch {
      /* best effort */
    }
  }
}
