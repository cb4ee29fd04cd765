/**
 * `KeyBudget` in Redis: requests per minute and tokens per UTC day counted by every node against
 * the same numbers. The check is one Lua script (atomic: two nodes cannot both take the last
 * request of a minute); the window runs on Redis's clock, so nodes' clocks do not matter.
 */
import type { KeyLimits } from '../caller';
import { errors } from '../errors';
import type { KeyBudget } from './ports';
import { luaScript, LUA_NOW, PREFIX, type RedisClient } from './redis';

const MINUTE = 60_000;
const DAY = 86_400_000;
const utcDay = (t: number): number => Math.floor(t / DAY);

// KEYS[1] the key's request window (sorted set of admission times), KEYS[2] today's token count.
// ARGV: rpm (0 = none), tokensPerDay (0 = none), a unique member for this request.
// Returns {0} admitted, {1, used} out of tokens, {2, ms until a request leaves the window}.
const CHECK = luaScript(`${LUA_NOW}
local tpd = tonumber(ARGV[2])
if tpd > 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= tpd then return {1, used} end
end
local rpm = tonumber(ARGV[1])
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ${MINUTE})
  local n = redis.call('ZCARD', KEYS[1])
  if n >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], n - rpm, n - rpm, 'WITHSCORES')
    return {2, tonumber(oldest[2]) + ${MINUTE} - now}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ${MINUTE})
end
return {0}`);

export interface RedisKeyBudgetOptions {
  redis: RedisClient;
  nodeName: string;
  /** Where a failed token count is reported (the request itself has finished). */
  onError?: (what: string, e: unknown) => void;
}

export class RedisKeyBudget implements KeyBudget {
  private seq = 0;
  constructor(private readonly opts: RedisKeyBudgetOptions) {}

  async check(keyId: string, limits: KeyLimits | undefined, now: number): Promise<void> {
    if (!limits || (limits.rpm === undefined && limits.tokensPerDay === undefined)) return;
    let r: [number, number?];
    try {
      r = (await CHECK(this.opts.redis, [`${PREFIX}rpm:${keyId}`, tokensKey(keyId, now)], [
        limits.rpm ?? 0, limits.tokensPerDay ?? 0, `${this.opts.nodeName}:${process.pid}:${++this.seq}`,
      ])) as [number, number?];
    } catch (e) {
      // Budgets that cannot be checked refuse the key rather than letting it run unlimited.
      this.opts.onError?.('budget check', e);
      throw errors.unavailable('Shared limits are unavailable (the cluster cannot reach Redis); this key is refused for now.', { code: 'limits_unavailable', retryable: true });
    }
    if (r[0] === 1) {
      const midnight = (utcDay(now) + 1) * DAY;
      throw errors.rateLimited(
        `Daily token budget of ${limits.tokensPerDay} tokens for this API key is used up (${r[1]} used); it resets at ${new Date(midnight).toISOString()}.`,
        (midnight - now) / 1000,
        'tokens_per_day_exceeded',
      );
    }
    if (r[0] === 2) {
      const ms = Math.max(0, Number(r[1]));
      throw errors.rateLimited(
        `Rate limit of ${limits.rpm} requests per minute for this API key reached; retry in ${Math.max(1, Math.ceil(ms / 1000))} s.`,
        ms / 1000,
        'rpm_exceeded',
      );
    }
  }

  addTokens(keyId: string, tokens: number, at: number): void {
    if (!(tokens > 0)) return;
    const k = tokensKey(keyId, at);
    this.opts.redis
      .multi()
      .incrby(k, Math.round(tokens))
      .pexpire(k, 2 * DAY)
      .exec()
      .catch((e) => this.opts.onError?.('token count', e));
  }

  /** Tokens counted today for a key (admin views, tests). */
  async tokensToday(keyId: string, now: number): Promise<number> {
    return Number((await this.opts.redis.get(tokensKey(keyId, now))) ?? 0);
  }
}

const tokensKey = (keyId: string, at: number): string => `${PREFIX}tokens:${keyId}:${utcDay(at)}`;
