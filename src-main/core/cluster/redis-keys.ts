/**
 * `KeyRepository` in Redis: created API keys (sha256 and limits only, never a key) in one hash,
 * `relay:keys`. A change is published on `relay:keys-changed`; every node reloads the hash and
 * its KeyStore takes the new set, so a key created or revoked on one node works (or stops
 * working) on all within the round trip of a message.
 */
import type { KeyRepository, StoredKey } from '../config/keys';
import { PREFIX, type RedisClient } from './redis';

const HASH = `${PREFIX}keys`;
const CHANNEL = `${PREFIX}keys-changed`;

export interface RedisKeyRepositoryOptions {
  redis: RedisClient;
  subscribe(channel: string, on: (message: string) => void): Promise<void>;
  onError?: (what: string, e: unknown) => void;
}

function parse(fields: Record<string, string>): StoredKey[] {
  const out: StoredKey[] = [];
  for (const v of Object.values(fields)) {
    try {
      const k = JSON.parse(v) as StoredKey;
      if (k && typeof k.id === 'string' && typeof k.sha256 === 'string' && /^[0-9a-f]{64}$/.test(k.sha256)) out.push(k);
    } catch {
      // a field another program wrote: not a key
    }
  }
  return out.sort((a, b) => a.createdAt - b.createdAt);
}

export class RedisKeyRepository implements KeyRepository {
  private keys: StoredKey[] = [];
  private readonly listeners: Array<() => void> = [];

  private constructor(private readonly opts: RedisKeyRepositoryOptions) {}

  /** Loaded and subscribed before the KeyStore opens (its `load()` is synchronous). */
  static async open(opts: RedisKeyRepositoryOptions): Promise<RedisKeyRepository> {
    const repo = new RedisKeyRepository(opts);
    await opts.subscribe(CHANNEL, () => void repo.reload());
    repo.keys = parse(await opts.redis.hgetall(HASH));
    return repo;
  }

  /** Read the hash again and tell the store (a message arrived, or the connection came back). */
  async reload(): Promise<void> {
    try {
      this.keys = parse(await this.opts.redis.hgetall(HASH));
    } catch (e) {
      this.opts.onError?.('key reload', e);
      return;
    }
    for (const l of this.listeners) l();
  }

  load(): StoredKey[] {
    return this.keys.slice();
  }

  put(key: StoredKey): void {
    this.keys = [...this.keys.filter((k) => k.id !== key.id), key];
    this.write((m) => m.hset(HASH, key.id, JSON.stringify(key)));
  }

  remove(id: string): void {
    this.keys = this.keys.filter((k) => k.id !== id);
    this.write((m) => m.hdel(HASH, id));
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private write(change: (m: ReturnType<RedisClient['multi']>) => unknown): void {
    const m = this.opts.redis.multi();
    change(m);
    m.publish(CHANNEL, 'changed')
      .exec()
      .catch((e) => this.opts.onError?.('key write', e));
  }
}
