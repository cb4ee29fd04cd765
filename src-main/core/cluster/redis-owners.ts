/**
 * `SessionOwners` in Redis: `relay:session-owner:<key>` holds the instance (Lingma account) that
 * has the conversation's session, expiring `ttlMs` after its last use (the session cache's TTL).
 * A read that fails answers "unknown" (the pool falls back to rendezvous affinity, which every
 * node computes alike); a write that fails is only logged.
 */
import { PREFIX, type RedisClient } from './redis';
import type { SessionOwners } from './ports';

export const ownerKey = (key: string): string => `${PREFIX}session-owner:${key}`;

export interface RedisSessionOwnersOptions {
  redis: RedisClient;
  ttlMs: number;
  onError?: (what: string, e: unknown) => void;
}

export class RedisSessionOwners implements SessionOwners {
  constructor(private readonly opts: RedisSessionOwnersOptions) {}

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.opts.redis.get(ownerKey(key))) ?? undefined;
    } catch (e) {
      this.opts.onError?.('session owner read', e);
      return undefined;
    }
  }

  set(key: string, instance: string): void {
    this.opts.redis.set(ownerKey(key), instance, 'PX', this.opts.ttlMs).catch((e) => this.opts.onError?.('session owner write', e));
  }
}
