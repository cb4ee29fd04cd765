/**
 * Lingma session reuse. A conversation's prefix (every message but the last) maps to the upstream
 * `sessionId` that already holds it and the instance that owns that session, so the next turn
 * sends only the new message. Keyed per caller (API key id) so callers never share sessions.
 */
import { createHash, type Hash } from 'node:crypto';
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

/** One message into a conversation hash: role, text, tool calls and tool result. */
function hashMessage(h: Hash, m: ChatMessage): void {
  h.update(m.role);
  h.update('\u0000');
  h.update(norm(textOf(m.content)));
  for (const c of m.toolCalls ?? []) h.update(`\u0001${c.name}\u0002${norm(c.arguments)}`);
  if (m.toolCallId) h.update(`\u0003${m.toolCallId}`);
  h.update('\u0004');
}

const digest = (h: Hash): string => h.digest('hex').slice(0, 32);

/** Stable hash of a conversation: role, text, tool calls and tool results of each message. */
export function conversationHash(messages: ChatMessage[]): string {
  const h = createHash('sha256');
  for (const m of messages) hashMessage(h, m);
  return digest(h);
}

/**
 * The cache keys of one request's conversation, from one pass over it: `lookup` (every message
 * but the last: the session a reuse continues) and `after(answer)` (the conversation with this
 * answer: what the next turn will look up).
 */
export interface ConversationKeys {
  readonly lookup: string;
  after(answer: ChatMessage): string;
}

export class SessionCache {
  private readonly map = new Map<string, SessionEntry>();
  private hits = 0;
  private misses = 0;
  private readonly clock: Clock;
  /** Conversation keys per request message list (`keysFor`), gone with the request. */
  private readonly hashed = new WeakMap<readonly ChatMessage[], { length: number; last: ChatMessage | undefined; keys: Map<string, ConversationKeys> }>();

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

  /**
   * The keys of a request's conversation (`messages`: the request's whole list, ending with the
   * new turn), hashed once per request: the pool's preference (`preferredInstance`) and the turn
   * itself ask with the same list and share the one hash.
   */
  keysFor(apiKeyId: string, messages: readonly ChatMessage[]): ConversationKeys {
    const last = messages[messages.length - 1];
    let memo = this.hashed.get(messages);
    // A list that grew or changed its last message since (an in-process caller reusing its array) is hashed anew.
    if (!memo || memo.length !== messages.length || memo.last !== last) this.hashed.set(messages, (memo = { length: messages.length, last, keys: new Map() }));
    const known = memo.keys.get(apiKeyId);
    if (known) return known;
    const h = createHash('sha256');
    for (const m of messages.slice(0, -1)) hashMessage(h, m);
    const keys: ConversationKeys = {
      lookup: `${apiKeyId}:${digest(h.copy())}`,
      after: (answer) => {
        const next = h.copy();
        if (last) hashMessage(next, last);
        hashMessage(next, answer);
        return `${apiKeyId}:${digest(next)}`;
      },
    };
    memo.keys.set(apiKeyId, keys);
    return keys;
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
