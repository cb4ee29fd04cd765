/**
 * Team mode's shared state: `openCluster(config.cluster)` connects to Redis (when
 * `cluster.redisUrl` is set) and hands the relay the Redis implementations of its ports
 * (`./ports.ts`, `KeyRepository`). Without `cluster.redisUrl` it returns undefined and the relay
 * keeps its single-node implementations; nothing here is loaded.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Config } from '../config/schema';
import { connectRedis, type RedisClient } from './redis';
import type { ChatForwarder, KeyBudget, KeySlots } from './ports';
import { HttpForwarder } from './forward';
import { RedisKeyBudget } from './redis-budget';
import { RedisKeyRepository } from './redis-keys';
import { RedisKeySlots } from './redis-slots';
import { clusterCrypto, type ClusterCrypto } from './crypto';
import { RedisAccountLeases } from './redis-leases';
import { RedisSecretStore } from './redis-secrets';
import { RedisSessionOwners } from './redis-owners';
import { RedisSharedConfig } from './redis-config';
import { NodeStatusBoard, type NodeFigures } from './redis-nodes';
import { redactUrl } from './url';

export type ClusterConfig = NonNullable<Config['cluster']>;

export interface SharedState {
  readonly nodeName: string;
  readonly redis: RedisClient;
  readonly budget: KeyBudget;
  readonly slots: KeySlots;
  readonly keys: RedisKeyRepository;
  /** Which node runs each Lingma account. */
  readonly leases: RedisAccountLeases;
  /** Account passwords, sealed with the cluster secret, one copy for every node. */
  readonly secrets: RedisSecretStore;
  /** Keys derived from the cluster secret (password sealing, node-to-node signatures). */
  readonly crypto: ClusterCrypto;
  /** Calls for accounts other nodes run. */
  readonly forwarder: ChatForwarder;
  /** Which account holds each conversation's Lingma session, for every node. */
  readonly owners: RedisSessionOwners;
  /** Aliases and live settings edited in any node's dashboard. */
  readonly config: RedisSharedConfig;
  /** Start reporting this node's figures (the dashboard's Nodes view reads every node's). */
  startStatus(figures: () => NodeFigures): NodeStatusBoard;
  /** Where other nodes reach this one: `cluster.advertiseUrl`, else the address it listens on. */
  advertise(url: string): void;
  /** A handler for a channel on the node's one subscriber connection. */
  subscribe(channel: string, on: (message: string) => void): Promise<void>;
  close(): Promise<void>;
}

/** The node's name: `cluster.nodeName`, else the host name. */
export function nodeNameOf(cfg: ClusterConfig): string {
  return cfg.nodeName ?? (hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'node');
}

export interface SharedStateOptions {
  /** How long a conversation's session owner is remembered (the session cache's TTL). */
  sessionTtlMs?: number;
}

export async function openSharedState(cfg: ClusterConfig, log: Logger, more: SharedStateOptions = {}): Promise<SharedState | undefined> {
  if (!cfg.redisUrl) return undefined;
  if (!cfg.secret) {
    throw new Error('cluster.secret (RELAY_CLUSTER_SECRET) is required with cluster.redisUrl: the nodes authenticate each other and seal account passwords with it');
  }
  const crypto = clusterCrypto(cfg.secret);
  const nodeName = nodeNameOf(cfg);
  const redis = await connectRedis(cfg.redisUrl, { name: `relay-${nodeName}` });
  const sub = redis.duplicate();
  sub.on('error', () => {});
  const handlers = new Map<string, Array<(m: string) => void>>();
  sub.on('message', (channel: string, message: string) => {
    for (const h of handlers.get(channel) ?? []) h(message);
  });
  const subscribe = async (channel: string, on: (m: string) => void): Promise<void> => {
    const list = handlers.get(channel);
    if (list) list.push(on);
    else {
      handlers.set(channel, [on]);
      await sub.subscribe(channel);
    }
  };
  const onError = (what: string, e: unknown): void => log.warn({ what, err: String((e as Error)?.message ?? e) }, 'cluster: Redis command failed');
  const keys = await RedisKeyRepository.open({ redis, subscribe, onError });
  // Messages published while the subscriber was reconnecting are lost: read the keys again.
  let first = true;
  sub.on('ready', () => {
    if (first) first = false;
    else {
      void keys.reload();
      void config.catchUp();
    }
  });
  const config = new RedisSharedConfig({ redis, subscribe, nodeName, onError });
  const ttlMs = cfg.leaseSec * 1000;
  const slots = new RedisKeySlots({ redis, subscribe, nodeName, ttlMs, onError });
  const budget = new RedisKeyBudget({ redis, nodeName, onError });
  let url = cfg.advertiseUrl;
  const leases = new RedisAccountLeases({ redis, subscribe, nodeName, ttlMs, onError, url: () => url });
  const forwarder = new HttpForwarder({ redis, crypto, nodeName });
  const secrets = new RedisSecretStore(redis, crypto);
  const owners = new RedisSessionOwners({ redis, ttlMs: more.sessionTtlMs ?? 3_600_000, onError });
  let board: NodeStatusBoard | undefined;
  log.info({ node: nodeName, redis: redactUrl(cfg.redisUrl) }, 'cluster: shared keys and limits in Redis');
  return {
    nodeName,
    redis,
    budget,
    slots,
    keys,
    leases,
    secrets,
    crypto,
    forwarder,
    owners,
    config,
    startStatus(figures) {
      board ??= new NodeStatusBoard({ redis, nodeName, ttlMs, url: () => url, figures, onError });
      board.start();
      return board;
    },
    advertise(listening) {
      url = cfg.advertiseUrl ?? listening;
      void leases.tick();
      void board?.report();
    },
    subscribe,
    async close() {
      await board?.close();
      await leases.close();
      slots.close();
      sub.disconnect();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
