/**
 * Team mode: what each node reports about itself, for the dashboard's Nodes view and
 * `GET /admin/cluster`. Every `ttlMs / 3` a node writes `relay:node-status:<name>` (expiring
 * after `ttlMs`: a node that died drops out) with its address, the time, the accounts it runs
 * and its counters. `read()` lists the nodes alive (`relay:nodes`, the lease heartbeat) with
 * their last report, and the totals over all of them.
 */
import { nodeUrlKey } from './forward';
import { PREFIX, type RedisClient } from './redis';
import type { ClusterView, NodeFigures, NodeView } from './view';

export type { ClusterView, NodeFigures, NodeView } from './view';

const NODES = `${PREFIX}nodes`;
/** The nodes reporting, scored by when their report expires (nodes without accounts hold no lease). */
const REPORTING = `${PREFIX}node-reports`;
export const statusKey = (node: string): string => `${PREFIX}node-status:${node}`;

export interface NodeStatusOptions {
  redis: RedisClient;
  nodeName: string;
  ttlMs: number;
  url: () => string | undefined;
  figures: () => NodeFigures;
  onError?: (what: string, e: unknown) => void;
}

export class NodeStatusBoard {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: NodeStatusOptions) {}

  start(): void {
    if (this.timer) return;
    void this.report();
    this.timer = setInterval(() => void this.report(), Math.max(100, Math.floor(this.opts.ttlMs / 3)));
    this.timer.unref();
  }

  /** Write this node's report now. */
  async report(): Promise<void> {
    const now = Date.now();
    const v = { name: this.opts.nodeName, url: this.opts.url(), lastSeen: now, ...this.opts.figures() };
    await this.opts.redis
      .multi()
      .set(statusKey(this.opts.nodeName), JSON.stringify(v), 'PX', this.opts.ttlMs)
      .zadd(REPORTING, now + this.opts.ttlMs, this.opts.nodeName)
      .zremrangebyscore(REPORTING, '-inf', now)
      .exec()
      .catch((e) => this.opts.onError?.('node status', e));
  }

  async read(): Promise<ClusterView> {
    const redis = this.opts.redis;
    const now = Date.now();
    const [leasing, reporting] = await Promise.all([redis.zrangebyscore(NODES, now - 1000, '+inf'), redis.zrangebyscore(REPORTING, now, '+inf')]);
    const names = [...new Set([this.opts.nodeName, ...leasing, ...reporting])].sort();
    const [reports, urls] = await Promise.all([redis.mget(names.map(statusKey)), redis.mget(names.map(nodeUrlKey))]);
    const nodes = names.map((name, i): NodeView => {
      let r: Partial<NodeView> = {};
      try {
        r = reports[i] ? (JSON.parse(reports[i]!) as Partial<NodeView>) : {};
      } catch {
        // unreadable: the name alone
      }
      return { ...r, name, url: r.url ?? urls[i] ?? undefined, self: name === this.opts.nodeName };
    });
    const sum = (k: 'inFlight' | 'queued' | 'requests' | 'errors' | 'tokens') => nodes.reduce((n, x) => n + (x[k] ?? 0), 0);
    return {
      node: this.opts.nodeName,
      nodes,
      totals: { nodes: nodes.length, inFlight: sum('inFlight'), queued: sum('queued'), requests: sum('requests'), errors: sum('errors'), tokens: sum('tokens') },
    };
  }

  /** Graceful stop: the report goes at once. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.opts.redis.multi().del(statusKey(this.opts.nodeName)).zrem(REPORTING, this.opts.nodeName).exec().catch(() => undefined);
  }
}
