/**
 * The ports team mode plugs into. Each has the single-node implementation the relay always had
 * and a Redis one (`./redis-*.ts`), chosen once in `relay.ts`; the code that uses them has one
 * path for both.
 *
 * - `KeyBudget`: per-key requests per minute and tokens per UTC day. Single node: the ledger's
 *   in-memory counters (`ledger.checkBudget`, tokens counted as records arrive; its
 *   `BudgetCounters` has this very shape). Cluster: `RedisKeyBudget` (Lua, atomic across nodes).
 * - `KeySlots`: per-key concurrency shared by every node. Single node: admission's own per-key
 *   gate is the whole story. Cluster: `RedisKeySlots`, a semaphore whose slots expire when the
 *   node holding them stops renewing (it died), taken after the local gate.
 * - `KeyRepository` (in `config/keys.ts`): where created API keys (hashes only) are kept.
 *   Single node: `<dataDir>/keys.json`. Cluster: `RedisKeyRepository`, changes published to
 *   every node.
 */
import type { KeyLimits } from '../caller';

export interface KeyBudget {
  /**
   * Throws a RelayError (429 with Retry-After) when the key may not start a request now;
   * otherwise counts the request against its per-minute window.
   */
  check(keyId: string, limits: KeyLimits | undefined, now: number): void | Promise<void>;
  /** Tokens (prompt + completion) a finished request used, counted against its UTC day. */
  addTokens(keyId: string, tokens: number, at: number): void;
}

export interface KeySlot {
  /** Idempotent. */
  release(): void;
}

export interface KeySlots {
  /**
   * One of the key's `limit` cluster-wide slots, waiting up to `timeoutMs` for one to free;
   * throws a RelayError (429 on timeout, cancelled on abort).
   */
  acquire(keyId: string, limit: number, signal: AbortSignal | undefined, timeoutMs: number): Promise<KeySlot>;
}

/**
 * Which node runs each Lingma account (team mode). The node holding an account's lease runs its
 * process and its sign-ins; the others leave it stopped. Single node: absent (every account runs
 * here).
 */
export interface LeaseHandlers {
  run(name: string): void;
  halt(name: string): void | Promise<void>;
  /** Another node took the account, or its holder changed. */
  moved?(name: string, owner: string | undefined): void;
}

export interface AccountLeases {
  /**
   * Start competing for the accounts `names()` lists: `run(name)` when this node gains one,
   * `halt(name)` when it loses it (renewal failed, Redis unreachable, the account left the list).
   */
  follow(names: () => string[], on: LeaseHandlers): void;
  /** Does this node hold the account's lease now? */
  holds(name: string): boolean;
  /** The node that held the account's lease when last looked at (this node's name when it holds it). */
  owner(name: string): string | undefined;
}

/** What a forwarded call carries besides the request (the `CallContext` minus the logger). */
export interface ForwardCall {
  requestId: string;
  apiKeyId: string;
  signal: AbortSignal;
  /** Facts the serving node reports back (session reuse, prompt bytes). */
  meta: { sessionReuse?: boolean; promptBytes?: number };
}

/**
 * Team mode: run a chat on an account another node runs, streaming its events back. Throws a
 * RelayError like a local instance would (retryable before the first event, so the dispatcher's
 * failover rules apply unchanged).
 */
export interface ChatForwarder {
  chat(node: string, instance: string, req: import('../chat/model').ChatRequest, call: ForwardCall): AsyncIterable<import('../chat/model').ChatEvent>;
}

/**
 * Which instance holds a conversation's upstream session (the account whose Lingma session has
 * its turns so far), so the next turn goes to that account whichever node receives it; the owner
 * node's own session cache then reuses the session. Keys are the pool's (provider, caller,
 * affinity key: hashed, never a prompt); an entry lives `ttlMs` after its last use.
 * Single node: `MemorySessionOwners` (`./memory-owners.ts`). Cluster: `RedisSessionOwners`.
 * The pool consults it when one is given (`PoolOptions.owners`); the relay gives it in team mode.
 */
export interface SessionOwners {
  /** The instance last chosen for this conversation, if it is still remembered. */
  get(key: string): string | undefined | Promise<string | undefined>;
  /** Remember (or refresh) the instance chosen for this conversation. Never throws. */
  set(key: string, instance: string): void;
}
