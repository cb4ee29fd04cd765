/**
 * The Redis connection of team mode. `ioredis` is imported here, lazily, and only when
 * `cluster.redisUrl` is set: the desktop app and single-node serve never load it.
 */
import type { Redis as RedisClient } from 'ioredis';
import { redactUrl } from './url';

export type { RedisClient };

/** Every key the relay writes starts with this (one Redis may serve other things too). */
export const PREFIX = 'relay:';

export interface RedisOptions {
  /** Connection name shown by `CLIENT LIST` (the node name). */
  name: string;
  /** How long to wait for the first connection. */
  connectTimeoutMs?: number;
}

/** A connected client; throws naming the (password-free) URL when Redis cannot be reached. */
export async function connectRedis(url: string, opts: RedisOptions): Promise<RedisClient> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: opts.name,
    connectTimeout: opts.connectTimeoutMs ?? 5000,
    // A command waits for a reconnect only briefly: limits answer (or fail) in bounded time.
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
  });
  // Errors surface on the commands; without a listener ioredis would print them as unhandled.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (e) {
    client.disconnect();
    throw new Error(`Cannot reach Redis at ${redactUrl(url)} (cluster.redisUrl): ${(e as Error).message}`);
  }
  return client;
}

/**
 * A Lua script run with EVALSHA (loaded once; loaded again when Redis was restarted and forgot
 * it). Returns what the script returns.
 */
export function luaScript(lua: string): (redis: RedisClient, keys: string[], args: Array<string | number>) => Promise<unknown> {
  let sha: string | undefined;
  return async (redis, keys, args) => {
    sha ??= (await redis.script('LOAD', lua)) as string;
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (e) {
      if (!String((e as Error).message).startsWith('NOSCRIPT')) throw e;
      sha = (await redis.script('LOAD', lua)) as string;
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    }
  };
}

/** Redis's own clock in ms, inside a script (every node counts on the same clock). */
export const LUA_NOW = `local __t = redis.call('TIME')
local now = tonumber(__t[1]) * 1000 + math.floor(tonumber(__t[2]) / 1000)`;
