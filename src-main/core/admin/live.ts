/**
 * Keeps what the dashboard needs between snapshots: requests in flight, the recent log, per-second
 * counters. Fed by the EventHub; every listener is O(1) and never throws, so the gateway is never
 * slowed by the dashboard.
 */
import type { EventHub, LiveRequest, LogLine } from '../events';
import { toLogLine } from '../gateway/logging';
import type { AdminCounters, AdminLiveRequest, AdminLogLine } from './api-types';

const MAX_LIVE = 5000;
const STALE_MS = 60 * 60 * 1000;
/** Finished requests a fresh dashboard sees (Live after a reload): the newest few, of the last minutes. */
export const RECENT_FINISHED = 25;
export const RECENT_FINISHED_MS = 5 * 60 * 1000;

export interface LiveTrackerOptions {
  logLines?: number;
  history?: number;
  now?: () => number;
}

export class LiveTracker {
  readonly live = new Map<string, AdminLiveRequest>();
  /** Recently finished requests, oldest first, bounded by count (`RECENT_FINISHED`) and age. */
  private readonly finishedRing: AdminLiveRequest[] = [];
  /** The last `maxLogs` log lines as written (JSON text), a ring: parsed only when `logs` is read. */
  private readonly logRing: string[] = [];
  private logNext = 0;
  readonly counters: AdminCounters[] = [];
  private endedThisSecond = 0;
  private errorsThisSecond = 0;
  private readonly maxLogs: number;
  private readonly maxHistory: number;
  private readonly now: () => number;
  private readonly unsubscribe: () => void;

  constructor(hub: EventHub, opts: LiveTrackerOptions = {}) {
    this.maxLogs = opts.logLines ?? 1000;
    this.maxHistory = opts.history ?? 120;
    this.now = opts.now ?? Date.now;
    const onLog = (l: string) => this.addLog(l);
    const onStart = (r: LiveRequest) => this.upsert(r);
    const onUpdate = (r: LiveRequest) => this.upsert(r);
    const onEnd = (r: LiveRequest) => this.end(r);
    hub.on('logText', onLog);
    hub.on('requestStart', onStart);
    hub.on('requestUpdate', onUpdate);
    hub.on('requestEnd', onEnd);
    this.unsubscribe = () => {
      hub.off('logText', onLog);
      hub.off('requestStart', onStart);
      hub.off('requestUpdate', onUpdate);
      hub.off('requestEnd', onEnd);
    };
  }

  close(): void {
    this.unsubscribe();
  }

  /** Per log line: one array slot, no parsing, no copying (the line is already a string). */
  private addLog(line: string): void {
    if (this.maxLogs <= 0) return;
    this.logRing[this.logNext] = line;
    this.logNext = (this.logNext + 1) % this.maxLogs;
  }

  /** The recent log, oldest first, parsed now (a snapshot for the dashboard). */
  get logs(): AdminLogLine[] {
    const n = this.logRing.length;
    const out: AdminLogLine[] = [];
    const start = n < this.maxLogs ? 0 : this.logNext;
    for (let i = 0; i < n; i++) {
      const l = toLogLine(this.logRing[(start + i) % n]);
      if (l) out.push(toAdminLog(l));
    }
    return out;
  }

  private upsert(r: LiveRequest): void {
    // Keyed by the unique per-request id: two requests sharing a client x-request-id stay apart.
    const key = r.id;
    if (!this.live.has(key) && this.live.size >= MAX_LIVE) return;
    this.live.set(key, toAdminRequest(r));
  }

  private end(r: LiveRequest): void {
    this.live.delete(r.id);
    this.finishedRing.push(toAdminRequest({ ...r, finishedAt: r.finishedAt ?? this.now() }));
    if (this.finishedRing.length > RECENT_FINISHED) this.finishedRing.shift();
    this.endedThisSecond++;
    if ((r.status ?? 200) >= 400 || r.errorCode) this.errorsThisSecond++;
  }

  /** Requests finished in the last `RECENT_FINISHED_MS`, newest first (at most `RECENT_FINISHED`). */
  recentFinished(): AdminLiveRequest[] {
    const since = this.now() - RECENT_FINISHED_MS;
    return this.finishedRing.filter((r) => (r.finishedAt ?? 0) >= since).reverse();
  }

  /** Per-instance in-flight count from live requests (fallback when the pool gives none). */
  inFlightOf(instance: string): number {
    let n = 0;
    for (const r of this.live.values()) if (r.instance === instance && !r.finishedAt) n++;
    return n;
  }

  /** Close the current second; returns its counters. */
  tick(inFlight: number, queued: number): AdminCounters {
    const now = this.now();
    const c: AdminCounters = { time: now, rps: this.endedThisSecond, errors: this.errorsThisSecond, inFlight, queued };
    this.endedThisSecond = 0;
    this.errorsThisSecond = 0;
    this.counters.push(c);
    if (this.counters.length > this.maxHistory) this.counters.splice(0, this.counters.length - this.maxHistory);
    // A request whose end event was lost must not stay "live" forever.
    for (const [id, r] of this.live) if (now - r.startedAt > STALE_MS) this.live.delete(id);
    return c;
  }
}

export function toAdminLog(l: LogLine): AdminLogLine {
  const out: AdminLogLine = { time: l.time, level: l.level, msg: String(l.msg ?? '') };
  if (l.requestId) out.requestId = l.requestId;
  if (l.instance) out.instance = l.instance;
  if (l.fields && Object.keys(l.fields).length) out.fields = l.fields;
  return out;
}

export function toAdminRequest(r: LiveRequest): AdminLiveRequest {
  return { ...r };
}
