/**
 * `AccountLeases` in Redis. Each account has one lease key, `relay:lease:account:<name>`, whose
 * value is the holding node and which expires after `ttlMs` unless renewed. Every `ttlMs / 3` a
 * node renews what it holds (compare-and-extend in Lua: only its own lease) and tries to take the
 * free ones (SET NX), up to its fair share of the accounts among the nodes alive. A lease that
 * cannot be renewed (taken, expired, Redis unreachable) halts the account on this node at once,
 * before another node can take it; a node that stops gracefully gives its leases back and says so,
 * so another takes them without waiting for the expiry. When an account is held elsewhere the
 * node tries again as that lease would expire.
 */
import { nodeUrlKey } from './forward';
import { luaScript, LUA_NOW, PREFIX, type RedisClient } from './redis';
import type { AccountLeases, LeaseHandlers } from './ports';

const leaseKey = (name: string): string => `${PREFIX}lease:account:${name}`;
const NODES = `${PREFIX}nodes`;
const RELEASED = `${PREFIX}lease-released`;

// KEYS[1] lease; ARGV[1] node, ARGV[2] ttl. {1} renewed; {0, holder or ''} not ours.
const RENEW = luaScript(`local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1}
end
return {0, v or ''}`);

// KEYS[1] lease; ARGV[1] node, ARGV[2] ttl. {1} taken; {0, holder, ms left}.
const TAKE = luaScript(`if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}`);

// KEYS[1] lease; ARGV[1] node. Deletes it only when it is ours.
const GIVE_BACK = luaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

// KEYS[1] the nodes alive (sorted set scored by expiry), KEYS[2] this node's address.
// ARGV[1] node, ARGV[2] ttl, ARGV[3] address ('' = none yet). Returns how many are alive.
const HEARTBEAT = luaScript(`${LUA_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PX', 2 * tonumber(ARGV[2])) end
return redis.call('ZCARD', KEYS[1])`);

export interface RedisAccountLeasesOptions {
  redis: RedisClient;
  subscribe(channel: string, on: (message: string) => void): Promise<void>;
  nodeName: string;
  ttlMs: number;
  /** Where other nodes reach this one (forwarded calls), once it listens. */
  url?: () => string | undefined;
  onError?: (what: string, e: unknown) => void;
}

export class RedisAccountLeases implements AccountLeases {
  private readonly held = new Set<string>();
  private readonly owners = new Map<string, string>();
  private names: () => string[] = () => [];
  private on: LeaseHandlers | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private closed = false;

  constructor(private readonly opts: RedisAccountLeasesOptions) {}

  follow(names: () => string[], on: LeaseHandlers): void {
    this.names = names;
    this.on = on;
    void this.opts.subscribe(RELEASED, (node) => {
      if (node !== this.opts.nodeName) void this.tick();
    });
    void this.tick();
  }

  holds(name: string): boolean {
    return this.held.has(name);
  }

  owner(name: string): string | undefined {
    return this.held.has(name) ? this.opts.nodeName : this.owners.get(name);
  }

  /** One round: heartbeat, renew what is held, take free leases up to the fair share. */
  async tick(): Promise<void> {
    if (this.closed || !this.on) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    const period = Math.max(100, Math.floor(this.opts.ttlMs / 3));
    let next = period;
    try {
      const wanted = this.names();
      const redis = this.opts.redis;
      let alive = 1;
      try {
        alive = Math.max(1, Number(await HEARTBEAT(redis, [NODES, nodeUrlKey(this.opts.nodeName)], [this.opts.nodeName, this.opts.ttlMs, this.opts.url?.() ?? ''])));
      } catch (e) {
        this.opts.onError?.('node heartbeat', e);
      }
      // Renew (or let go of accounts no longer listed).
      for (const name of [...this.held]) {
        if (!wanted.includes(name)) {
          await this.giveBack(name);
          continue;
        }
        let ok = false;
        try {
          const r = (await RENEW(redis, [leaseKey(name)], [this.opts.nodeName, this.opts.ttlMs])) as [number, string?];
          ok = r[0] === 1;
          if (!ok && r[1]) this.setOwner(name, r[1]);
        } catch (e) {
          this.opts.onError?.('lease renewal', e);
        }
        if (!ok) {
          this.held.delete(name);
          if (!this.owners.has(name)) this.setOwner(name, undefined);
          await this.on.halt(name);
        }
      }
      // Take free ones, up to this node's share.
      const share = Math.ceil(wanted.length / alive);
      for (const name of wanted) {
        if (this.held.has(name)) continue;
        if (this.held.size >= share || this.closed) break;
        try {
          const r = (await TAKE(redis, [leaseKey(name)], [this.opts.nodeName, this.opts.ttlMs])) as [number, string?, number?];
          if (r[0] === 1) {
            this.held.add(name);
            this.setOwner(name, this.opts.nodeName);
            this.on.run(name);
          } else {
            this.setOwner(name, r[1] || undefined);
            const left = Number(r[2]);
            if (left > 0) next = Math.min(next, left + 20);
          }
        } catch (e) {
          this.opts.onError?.('lease take', e);
        }
      }
      // Accounts held elsewhere beyond this node's share still need a node when theirs dies.
      if (this.held.size >= share && wanted.some((n) => !this.held.has(n))) next = Math.min(next, period);
    } finally {
      this.running = false;
    }
    if (this.closed) return;
    if (this.again) {
      this.again = false;
      return this.tick();
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.max(20, next));
    this.timer.unref();
  }

  private setOwner(name: string, owner: string | undefined): void {
    const before = this.owners.get(name);
    if (owner) this.owners.set(name, owner);
    else this.owners.delete(name);
    if (before !== owner && owner !== this.opts.nodeName) this.on?.moved?.(name, owner);
  }

  private async giveBack(name: string): Promise<void> {
    this.held.delete(name);
    this.setOwner(name, undefined);
    await this.on?.halt(name);
    await GIVE_BACK(this.opts.redis, [leaseKey(name)], [this.opts.nodeName]).catch((e) => this.opts.onError?.('lease release', e));
  }

  /** Graceful stop: halt and give back every lease, leave the nodes alive, tell the others. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    for (const name of [...this.held]) await this.giveBack(name);
    try {
      await this.opts.redis.zrem(NODES, this.opts.nodeName);
      await this.opts.redis.del(nodeUrlKey(this.opts.nodeName));
      await this.opts.redis.publish(RELEASED, this.opts.nodeName);
    } catch (e) {
      this.opts.onError?.('lease release', e);
    }
  }
}
