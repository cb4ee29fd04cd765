/**
 * `SecretStore` in team mode: passwords of accounts added at run time kept once for every node,
 * in the hash `relay:secrets`, each value sealed with AES-256-GCM under a key derived from the
 * cluster secret (`crypto.ts`). Redis never holds a password in clear.
 */
import type { SecretStore } from '../ports';
import type { ClusterCrypto } from './crypto';
import { PREFIX, type RedisClient } from './redis';

const HASH = `${PREFIX}secrets`;

export class RedisSecretStore implements SecretStore {
  readonly protection = 'cluster' as const;
  constructor(private readonly redis: RedisClient, private readonly crypto: ClusterCrypto) {}

  async get(key: string): Promise<string | undefined> {
    const v = await this.redis.hget(HASH, key);
    return v === null ? undefined : this.crypto.decrypt(key, v);
  }

  async set(key: string, value: string): Promise<void> {
    await this.redis.hset(HASH, key, this.crypto.encrypt(key, value));
  }

  async delete(key: string): Promise<void> {
    await this.redis.hdel(HASH, key);
  }
}
