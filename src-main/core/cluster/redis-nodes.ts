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
    const v = { name: this.opts.nodeName, url: this.opts.url(), lastSeen: Date.now(), ...this.opts.figures() };
    await this.opts.redis.set(statusKey(this.opts.nodeName), JSON.stringify(v), 'PX', this.opts.ttlMs).catch((e) => this.opts.onError?.('node status', e));
  }

  async read(): Promise<ClusterView> {
    const redis = this.opts.redis;
    const alive = await redis.zrangebyscore(NODES, Date.now() - 1000, '+inf');
    const names = [...new Set([this.opts.nodeName, ...alive])].sort();
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
    await this.opts.redis.del(statusKey(this.opts.nodeName)).catch(() => undefined);
  }
}
