/**
 * `KeySlots` in Redis: per-key concurrency counted across every node. A key's slots are a sorted
 * set of holders scored by the instant they expire; the node holding a slot pushes that instant
 * forward every third of `ttlMs`, so the slots of a node that died free themselves after `ttlMs`.
 * A release is published: waiting nodes try again at once; otherwise a waiter tries again when
 * the earliest slot would expire (never a fixed poll).
 */
import { errors } from '../errors';
import type { KeySlot, KeySlots } from './ports';
import { luaScript, LUA_NOW, PREFIX, type RedisClient } from './redis';

// KEYS[1] the key's slots. ARGV: limit, member, ttl ms. Returns {1} taken, {0, ms until the earliest slot expires}.
const ACQUIRE = luaScript(`${LUA_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3]))
  return {1}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(first[2]) - now}`);

// KEYS: slot sets; ARGV[1] ttl ms, ARGV[2..] the member held in each. Pushes each expiry forward.
const RENEW = luaScript(`${LUA_NOW}
for i, k in ipairs(KEYS) do
  redis.call('ZADD', k, 'XX', now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('PEXPIRE', k, 2 * tonumber(ARGV[1]))
end
return 1`);

const CHANNEL = `${PREFIX}slot-free`;

export interface RedisKeySlotsOptions {
  redis: RedisClient;
  /** A second connection in subscriber mode (shared with the other channels of the node). */
  subscribe(channel: string, on: (message: string) => void): Promise<void>;
  nodeName: string;
  ttlMs: number;
  onError?: (what: string, e: unknown) => void;
}

export class RedisKeySlots implements KeySlots {
  private seq = 0;
  /** slot key → members this node holds there. */
  private readonly held = new Map<string, Set<string>>();
  /** keyId → wake-ups of this node's waiters. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly renewTimer: NodeJS.Timeout;
  private readonly ready: Promise<void>;

  constructor(private readonly opts: RedisKeySlotsOptions) {
    this.ready = opts.subscribe(CHANNEL, (keyId) => {
      for (const wake of [...(this.waiters.get(keyId) ?? [])]) wake();
    });
    this.renewTimer = setInterval(() => void this.renew(), Math.max(200, Math.floor(opts.ttlMs / 3)));
    this.renewTimer.unref();
  }

  async acquire(keyId: string, limit: number, signal: AbortSignal | undefined, timeoutMs: number): Promise<KeySlot> {
    await this.ready;
    const key = `${PREFIX}slots:${keyId}`;
    const member = `${this.opts.nodeName}:${process.pid}:${++this.seq}`;
    const tryTake = async (): Promise<number> => {
      const r = (await ACQUIRE(this.opts.redis, [key], [limit, member, this.opts.ttlMs])) as [number, number?];
      return r[0] === 1 ? -1 : Math.max(1, Number(r[1] ?? this.opts.ttlMs));
    };
    let wait: number;
    try {
      wait = await tryTake();
    } catch (e) {
      this.opts.onError?.('concurrency slot', e);
      throw errors.unavailable('Shared limits are unavailable (the cluster cannot reach Redis); retry shortly.', { code: 'limits_unavailable', retryable: true });
    }
    if (wait >= 0) {
      await new Promise<void>((resolve, reject) => {
        let set = this.waiters.get(keyId);
        if (!set) this.waiters.set(keyId, (set = new Set()));
        let retry: NodeJS.Timeout | undefined;
        let busy = false;
        let again = false;
        let settled = false;
        const done = (err?: Error): void => {
          if (settled) return;
          settled = true;
          clearTimeout(deadline);
          clearTimeout(retry);
          signal?.removeEventListener('abort', onAbort);
          set!.delete(wake);
          if (!set!.size) this.waiters.delete(keyId);
          if (err) reject(err);
          else resolve();
        };
        const wake = (): void => {
          if (busy) {
            again = true;
            return;
          }
          busy = true;
          clearTimeout(retry);
          tryTake().then(
            (ms) => {
              busy = false;
              if (ms < 0 && settled) {
                // Timed out or aborted while the script ran: give the slot straight back.
                this.opts.redis.zrem(key, member).catch((e) => this.opts.onError?.('slot release', e));
                return;
              }
              if (settled) return;
              if (ms < 0) return done();
              if (again) {
                again = false;
                return wake();
              }
              retry = setTimeout(wake, ms);
            },
            (e) => {
              busy = false;
              this.opts.onError?.('concurrency slot', e);
              done(errors.unavailable('Shared limits are unavailable (the cluster cannot reach Redis); retry shortly.', { code: 'limits_unavailable', retryable: true }));
            },
          );
        };
        const onAbort = (): void => done(errors.cancelled());
        const deadline = setTimeout(() => done(errors.rateLimited('Too many concurrent requests for this API key.', 1, 'too_many_pending_requests')), timeoutMs);
        set.add(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
        retry = setTimeout(wake, wait);
      });
    }
    let members = this.held.get(key);
    if (!members) this.held.set(key, (members = new Set()));
    members.add(member);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const m = this.held.get(key);
        m?.delete(member);
        if (m && !m.size) this.held.delete(key);
        this.opts.redis
          .multi()
          .zrem(key, member)
          .publish(CHANNEL, keyId)
          .exec()
          .catch((e) => this.opts.onError?.('slot release', e));
      },
    };
  }

  private async renew(): Promise<void> {
    if (!this.held.size) return;
    const keys: string[] = [];
    const members: string[] = [];
    for (const [k, ms] of this.held) for (const m of ms) {
      keys.push(k);
      members.push(m);
    }
    try {
      await RENEW(this.opts.redis, keys, [this.opts.ttlMs, ...members]);
    } catch (e) {
      this.opts.onError?.('slot renewal', e);
    }
  }

  close(): void {
    clearInterval(this.renewTimer);
  }
}
