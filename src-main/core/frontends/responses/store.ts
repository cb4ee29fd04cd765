/**
 * A bounded in-memory store of the conversations behind responses this gateway produced, for
 * `previous_response_id`. Least recently used entries go first when either bound is hit.
 */
import type { ChatMessage } from '../../chat/model';

interface Entry {
  owner: string;
  messages: ChatMessage[];
  bytes: number;
}

export interface ResponseStoreOptions {
  maxEntries?: number;
  /** Rough bound on memory (JSON size of the stored messages). */
  maxBytes?: number;
}

export class ResponseStore {
  private readonly map = new Map<string, Entry>();
  private bytes = 0;
  private readonly maxEntries: number;
  private readonly maxBytes: number;

  constructor(opts: ResponseStoreOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 1000;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  }

  get size(): number {
    return this.map.size;
  }

  /** SECURITY: entries are scoped to the API key that created them; other keys cannot read them. */
  put(id: string, owner: string, messages: ChatMessage[]): void {
    const bytes = JSON.stringify(messages).length;
    if (bytes > this.maxBytes) return;
    this.delete(id);
    this.map.set(id, { owner, messages, bytes });
    this.bytes += bytes;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.keys().next().value as string;
      this.delete(oldest);
    }
  }

  get(id: string, owner: string): ChatMessage[] | undefined {
    const e = this.map.get(id);
    if (!e || e.owner !== owner) return undefined;
    // Refresh recency.
    this.map.delete(id);
    this.map.set(id, e);
    return e.messages;
  }

  delete(id: string): void {
    const e = this.map.get(id);
    if (!e) return;
    this.bytes -= e.bytes;
    this.map.delete(id);
  }
}
