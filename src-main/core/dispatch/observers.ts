/**
 * Request observers of the dispatch layer, wired in `relay.ts`: the live-request events of the hub
 * (dashboard) and the usage ledger's record. Metrics observe from `gateway/metrics.ts`.
 */
import type { KeyBudget } from '../cluster/ports';
import type { EventHub, LiveRequest } from '../events';
import type { UsageRecord } from '../ledger/types';
import type { RequestObserver, RequestOutcome, RequestStart } from './outcome';

function liveOf(r: RequestStart): LiveRequest {
  return {
    id: r.id,
    requestId: r.requestId,
    protocol: r.protocol,
    endpoint: r.endpoint,
    model: r.requestedModel,
    stream: r.stream,
    apiKeyId: r.apiKeyId,
    startedAt: r.receivedAt,
  };
}

/** `requestStart` / `requestUpdate` (first byte) / `requestEnd` on the hub: one fresh object per event. */
export function liveRequests(hub: EventHub): RequestObserver {
  const full = (r: RequestStart & { resolved?: RequestOutcome['resolved']; firstByteAt?: number }): LiveRequest => {
    const l = liveOf(r);
    const res = r.resolved;
    if (res) {
      l.provider = res.provider;
      l.instance = res.instance;
      l.resolved = res.label;
      l.firstByteAt = r.firstByteAt;
    }
    return l;
  };
  return {
    started: (r) => hub.emit('requestStart', liveOf(r)),
    routed: (r) => hub.emit('requestUpdate', full(r)),
    finished: (o) => {
      const l = full(o);
      l.finishedAt = o.finishedAt;
      l.status = o.status;
      l.errorCode = o.error?.code;
      hub.emit('requestEnd', l);
    },
  };
}

/** The ledger's row for an outcome. */
export function usageRecordOf(o: RequestOutcome): UsageRecord {
  const rec: UsageRecord = {
    requestId: o.requestId,
    receivedAt: o.receivedAt,
    finishedAt: o.finishedAt,
    apiKeyId: o.apiKeyId,
    endpoint: o.endpoint,
    protocol: o.protocol,
    requestedModel: o.requestedModel,
    stream: o.stream,
    status: o.status,
    switches: o.switches.length,
    switchReasons: o.switches.map((s) => `${s.from}:${s.reason}`),
    sessionReuse: o.sessionReuse,
    tokensEstimated: o.usage?.estimated ?? false,
    totalMs: Math.max(0, o.finishedAt - o.receivedAt),
  };
  if (o.userAgent) rec.userAgent = o.userAgent;
  if (o.firstByteAt !== undefined) {
    rec.firstByteAt = o.firstByteAt;
    rec.ttftMs = Math.max(0, o.firstByteAt - o.receivedAt);
  }
  const alias = o.resolved?.alias ?? o.resolution?.alias;
  if (alias) rec.alias = alias;
  if (o.resolved) {
    rec.provider = o.resolved.provider;
    rec.instance = o.resolved.instance;
    rec.model = o.resolved.model;
  }
  if (o.error) rec.errorType = o.error.code;
  const u = o.usage;
  if (u) {
    rec.promptTokens = u.promptTokens;
    rec.completionTokens = u.completionTokens;
    if (u.reasoningTokens !== undefined) rec.reasoningTokens = u.reasoningTokens;
    if (u.cachedTokens !== undefined) rec.cachedTokens = u.cachedTokens;
  }
  return rec;
}

/** One `UsageRecord` per request into `record` (the ledger's queue). */
export function usageLedger(record: (rec: UsageRecord) => void): RequestObserver {
  return { finished: (o) => record(usageRecordOf(o)) };
}

/**
 * A request's tokens into a `KeyBudget` other than the ledger's (team mode: Redis), which the
 * ledger's own counters would not see. Single node: not wired (the ledger counts as it records).
 */
export function budgetTokens(budget: Pick<KeyBudget, 'addTokens'>): RequestObserver {
  return {
    finished: (o) => {
      const tokens = (o.usage?.promptTokens ?? 0) + (o.usage?.completionTokens ?? 0);
      if (o.apiKeyId && tokens > 0) budget.addTokens(o.apiKeyId, tokens, o.receivedAt);
    },
  };
}
