/**
 * The request inspector: a `RequestObserver` (wired in relay.ts, after the usage ledger) that
 * keeps each finished request's redacted capture (./capture.ts) in a memory ring (the most recent
 * `maxEntries`, at most `maxBytes` together with the answers requests in flight keep for their
 * captures: `allowance`) and, with `persist`, in `<data dir>/inspector.db` (./persist.ts).
 * `enabled: false` keeps nothing (the dispatcher does not even trace: `capturing()`).
 * The admin API reads it (core/admin/inspector-routes.ts).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { RequestObserver, RequestOutcome } from '../dispatch/outcome';
import type { CaptureAllowance } from '../dispatch/trace';
import { captureOf, mentions } from './capture';
import { openCaptureDb, summary, type CaptureDb, type CaptureQuery } from './persist';
import type { Capture, CaptureSummary } from './types';

export type { CaptureQuery } from './persist';
export * from './types';

export interface InspectorConfig {
  enabled: boolean;
  maxEntries: number;
  maxBytes: number;
  maxBodyBytes: number;
  persist: boolean;
  retentionDays: number;
  maxDbBytes: number;
}

export interface InspectorOptions {
  /** Read per request, so a changed setting applies to the next one. */
  config: () => InspectorConfig;
  dataDir: string;
  /** Known secret values to mask wherever they appear (provider keys, passwords, API keys, admin token). */
  secrets: () => ReadonlyArray<string | undefined>;
  /** The usage ledger observes before the inspector: each capture notes its row was queued. */
  ledger?: boolean;
  now?: () => number;
  log?: Logger;
}

export interface Inspector {
  readonly observer: RequestObserver;
  /** Should the dispatcher trace requests (`DispatcherDeps.capture`)? */
  capturing(): boolean;
  /**
   * The most characters of an answer string a capture can show (`maxBodyBytes`, plus a margin for
   * secrets masked before the cut): what a trace needs to keep (`DispatcherDeps.captureChars`).
   */
  answerChars(): number;
  /**
   * What the answers of all requests in flight may keep together (`DispatcherDeps.captureAllowance`):
   * the ring and those answers share `maxBytes`. Room for an answer is made by dropping the oldest
   * captures; what is left over after that is not granted (the answer's capture is cut).
   */
  readonly allowance: CaptureAllowance;
  persisted(): boolean;
  /** By `x-request-id` (the newest with it) or by the unique id. */
  get(id: string): Capture | undefined;
  list(q: CaptureQuery): CaptureSummary[];
  /** Mark `requestId` as a replay of `of` (the admin replay route). */
  linkReplay(requestId: string, of: string): void;
  /** The ledger committed these requests' rows at `at` (epoch ms): their timelines end in `ledger_written`. */
  ledgerWritten(requestIds: readonly string[], at: number): void;
  close(): void;
}

interface Entry {
  capture: Capture;
  bytes: number;
}

export const DEFAULT_LIST_LIMIT = 50;
/** Beyond `maxBodyBytes`: room for masked secrets (which shorten the text before it is cut). */
const ANSWER_MARGIN = 4096;

/** Does the capture pass the list filters? */
export function matches(c: Capture, q: CaptureQuery): boolean {
  if (q.status !== undefined) {
    if (q.status === 'ok' ? c.status >= 400 || !!c.errorCode : q.status === 'error' ? c.status < 400 && !c.errorCode : c.status !== q.status) return false;
  }
  if (q.model) {
    const m = q.model.toLowerCase();
    if (![c.requestedModel, c.resolved, c.alias].some((v) => v?.toLowerCase().includes(m))) return false;
  }
  if (q.instance && c.instance !== q.instance && !c.timeline.some((e) => e.instance === q.instance)) return false;
  if (q.key && c.apiKeyId !== q.key) return false;
  if (q.before !== undefined && c.receivedAt >= q.before) return false;
  if (q.q && !mentions(c, q.q)) return false;
  return true;
}

export function createInspector(opts: InspectorOptions): Inspector {
  const now = opts.now ?? Date.now;
  const ring: Entry[] = [];
  let bytes = 0;
  /** Characters the answers of requests in flight hold (granted by `allowance`, not yet given back). */
  let pending = 0;
  const replays = new Map<string, string>();
  let db: CaptureDb | undefined;
  let dbFailed = false;
  let pruneTimer: NodeJS.Timeout | undefined;

  const store = (): CaptureDb | undefined => {
    const cfg = opts.config();
    if (!cfg.persist || dbFailed) return undefined;
    if (!db) {
      try {
        db = openCaptureDb(join(opts.dataDir, 'inspector.db'), { retentionDays: cfg.retentionDays, maxDbBytes: cfg.maxDbBytes, now });
        pruneTimer = setInterval(() => db?.prune(now()), 10 * 60_000);
        pruneTimer.unref();
      } catch (e) {
        dbFailed = true;
        opts.log?.warn({ err: e instanceof Error ? e.message : String(e) }, 'inspector: cannot open inspector.db; captures stay in memory only');
      }
    }
    return db;
  };

  const evict = (cfg: InspectorConfig): void => {
    while (ring.length && (ring.length > cfg.maxEntries || bytes + pending > cfg.maxBytes)) bytes -= ring.shift()!.bytes;
  };

  const allowance: CaptureAllowance = {
    take(chars) {
      const cfg = opts.config();
      const granted = Math.max(0, Math.min(chars, cfg.maxBytes - pending));
      pending += granted;
      if (bytes + pending > cfg.maxBytes) evict(cfg);
      return granted;
    },
    release(chars) {
      pending = Math.max(0, pending - chars);
    },
  };

  const keep = (o: RequestOutcome): void => {
    const cfg = opts.config();
    if (!cfg.enabled || !o.trace) return;
    const measured = { bytes: 0 };
    const capture = captureOf(o, { secrets: opts.secrets, maxBodyBytes: cfg.maxBodyBytes }, measured);
    // The ledger observes first and only queues; its commit (`ledgerWritten`) comes later.
    if (opts.ledger && o.status !== 0) capture.timeline.push({ at: capture.totalMs, kind: 'ledger_queued' });
    const of = replays.get(o.requestId);
    if (of) {
      capture.replayOf = of;
      replays.delete(o.requestId);
    }
    // Approximate (the strings kept while redacting, two bytes a character when V8 needs them): the ring's byte bound.
    const size = measured.bytes;
    ring.push({ capture, bytes: size });
    bytes += size;
    evict(cfg);
    store()?.put(capture);
  };

  const written = (c: Capture, at: number): void => {
    const last = c.timeline[c.timeline.length - 1];
    c.timeline.push({ at: Math.max(at - c.receivedAt, last?.at ?? 0), kind: 'ledger_written' });
  };

  const inMemory = (id: string): Capture | undefined => {
    for (let i = ring.length - 1; i >= 0; i--) {
      const c = ring[i].capture;
      if (c.requestId === id || c.id === id) return c;
    }
    return undefined;
  };

  return {
    observer: {
      finished: (o) => {
        try {
          keep(o);
        } catch (e) {
          opts.log?.warn({ err: e instanceof Error ? e.message : String(e) }, 'inspector: capture failed');
        }
      },
    },
    capturing: () => opts.config().enabled,
    answerChars: () => opts.config().maxBodyBytes + ANSWER_MARGIN,
    allowance,
    persisted: () => opts.config().persist && !dbFailed,
    get: (id) => inMemory(id) ?? store()?.get(id),
    list(q) {
      const d = store();
      if (d) return d.list(q, (c) => matches(c, q));
      const out: CaptureSummary[] = [];
      for (let i = ring.length - 1; i >= 0 && out.length < q.limit; i--) {
        const c = ring[i].capture;
        if (matches(c, q)) out.push(summary(c));
      }
      return out;
    },
    linkReplay(requestId, of) {
      const c = inMemory(requestId);
      if (c) {
        c.replayOf = of;
        store()?.put(c);
      } else {
        replays.set(requestId, of);
        // A replay that never reached the dispatcher (refused by its front end) leaves its link behind: bounded.
        if (replays.size > 100) replays.delete(replays.keys().next().value as string);
      }
    },
    ledgerWritten(requestIds, at) {
      // Per id, the newest capture still waiting for its row (an x-request-id may repeat).
      const want = new Map<string, number>();
      for (const id of requestIds) want.set(id, (want.get(id) ?? 0) + 1);
      for (let i = ring.length - 1; i >= 0 && want.size; i--) {
        const e = ring[i];
        const n = want.get(e.capture.requestId);
        const last = e.capture.timeline[e.capture.timeline.length - 1];
        if (!n || last?.kind !== 'ledger_queued') continue;
        if (n === 1) want.delete(e.capture.requestId);
        else want.set(e.capture.requestId, n - 1);
        written(e.capture, at);
        e.bytes += 40;
        bytes += 40;
        store()?.put(e.capture);
      }
    },
    close() {
      if (pruneTimer) clearInterval(pruneTimer);
      db?.close();
      db = undefined;
    },
  };
}
