/**
 * Team mode: dashboard edits shared by every node. The aliases file a dashboard saves and the
 * live settings it changes are kept in one Redis hash, `relay:shared-config` (`aliases`: the
 * file's text; `settings`: every change merged), and announced on `relay:shared-config-changed`
 * with the value. Each other node applies it through its own save path (`AliasSource.save`, the
 * relay's settings), which writes its local file, so a restart keeps the edit even without Redis.
 * A node reads the hash when it starts and whenever its subscriber reconnects (messages sent
 * meanwhile are lost), so a node that joins later or missed a message catches up.
 */
import { PREFIX, type RedisClient } from './redis';

const HASH = `${PREFIX}shared-config`;
const CHANNEL = `${PREFIX}shared-config-changed`;

export type SharedDoc = 'aliases' | 'settings';

export interface RedisSharedConfigOptions {
  redis: RedisClient;
  subscribe(channel: string, on: (message: string) => void): Promise<void>;
  nodeName: string;
  onError?: (what: string, e: unknown) => void;
}

/** What a node does with a shared edit: `value` is the aliases text or the settings (JSON). */
export type SharedEditHandler = (doc: SharedDoc, value: string) => void;

const isDoc = (d: unknown): d is SharedDoc => d === 'aliases' || d === 'settings';

export class RedisSharedConfig {
  private on: SharedEditHandler | undefined;

  constructor(private readonly opts: RedisSharedConfigOptions) {}

  /** Apply edits other nodes make from now on, and what the hash holds now. */
  async follow(on: SharedEditHandler): Promise<void> {
    this.on = on;
    await this.opts.subscribe(CHANNEL, (raw) => {
      let m: { doc?: unknown; from?: unknown; value?: unknown };
      try {
        m = JSON.parse(raw) as typeof m;
      } catch {
        return;
      }
      if (m.from === this.opts.nodeName || !isDoc(m.doc) || typeof m.value !== 'string') return;
      this.on?.(m.doc, m.value);
    });
    await this.catchUp();
  }

  /** Read the hash and apply what it holds (start, reconnect). */
  async catchUp(): Promise<void> {
    if (!this.on) return;
    let all: Record<string, string>;
    try {
      all = await this.opts.redis.hgetall(HASH);
    } catch (e) {
      this.opts.onError?.('shared config read', e);
      return;
    }
    if (typeof all.settings === 'string') this.on('settings', all.settings);
    if (typeof all.aliases === 'string') this.on('aliases', all.aliases);
  }

  /** This node saved an edit: keep it for every node and tell them. Settings merge into what is kept. */
  async publish(doc: SharedDoc, value: string): Promise<void> {
    const redis = this.opts.redis;
    try {
      let kept = value;
      if (doc === 'settings') {
        const before = await redis.hget(HASH, 'settings');
        let merged: Record<string, unknown> = {};
        try {
          merged = before ? (JSON.parse(before) as Record<string, unknown>) : {};
        } catch {
          // unreadable: start over from this change
        }
        kept = JSON.stringify({ ...merged, ...(JSON.parse(value) as Record<string, unknown>) });
      }
      await redis.multi().hset(HASH, doc, kept).publish(CHANNEL, JSON.stringify({ doc, from: this.opts.nodeName, value })).exec();
    } catch (e) {
      this.opts.onError?.('shared config write', e);
    }
  }
}
