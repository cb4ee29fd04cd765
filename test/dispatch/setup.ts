/** The dispatcher over fake providers, with its production observers (metrics, live hub, usage). */
import { expect } from 'vitest';
import type { ChatEvent, ChatRequest } from '../../src-main/core/chat/model';
import { EventHub, type LiveRequest } from '../../src-main/core/events';
import { createAdmission } from '../../src-main/core/dispatch/admission';
import { createDispatcher, type DispatcherDeps } from '../../src-main/core/dispatch/dispatcher';
import { liveRequests, usageLedger } from '../../src-main/core/dispatch/observers';
import { Metrics, requestMetrics } from '../../src-main/core/gateway/metrics';
import type { RequestContext } from '../../src-main/core/dispatch/types';
import type { UsageRecord } from '../../src-main/core/ledger/types';
import { createPool } from '../../src-main/core/pool/pool';
import { createResolver, type AliasesConfig } from '../../src-main/core/routing/aliases';
import { createHealthCache } from '../../src-main/core/routing/health';
import { silentLog, type FakeProvider } from './fakes';

export function setup(providers: FakeProvider[], aliases?: AliasesConfig, over: Partial<DispatcherDeps> = {}) {
  const metrics = new Metrics();
  const hub = new EventHub();
  const clock = over.clock;
  const health = createHealthCache({ failureThreshold: 1, baseBackoffMs: 60_000, maxBackoffMs: 60_000, clock });
  const pool = createPool({ health, metrics, clock });
  const admission = createAdmission({ maxInFlight: 8, queueTimeoutMs: 5_000, perKeyConcurrency: 8, perKeyQueue: 8 }, metrics, clock);
  const usage: UsageRecord[] = [];
  const ended: LiveRequest[] = [];
  hub.on('requestEnd', (r) => ended.push(r));
  const dispatcher = createDispatcher({
    resolver: createResolver({ providers: () => providers, aliases }),
    providers: () => providers,
    pool,
    admission,
    health,
    observers: [requestMetrics(metrics), liveRequests(hub), usageLedger((r) => usage.push(r))],
    limits: { maxSwitches: 3, firstByteTimeoutMs: 10_000, queueTimeoutMs: 5_000 },
    log: silentLog,
    ...over,
  });
  let n = 0;
  const ctx = (signal = new AbortController().signal, requestId = `req-${++n}`): RequestContext => ({
    requestId, caller: { keyId: 'key1' }, protocol: 'openai-chat', endpoint: '/v1/chat/completions',
    signal, receivedAt: Date.now(), log: silentLog,
  });
  const idle = () => {
    expect(pool.totalInFlight()).toBe(0);
    expect(admission.stats()).toMatchObject({ inFlight: 0, queued: 0 });
    expect(dispatcher.walkStats().active).toBe(0);
  };
  return { dispatcher, metrics, hub, health, pool, admission, usage, ended, ctx, idle };
}

export const req = (model: string, over: Partial<ChatRequest> = {}): ChatRequest => ({
  model, stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: 'hello there' }] }], ...over,
});

export async function drain(events: AsyncIterable<ChatEvent>): Promise<ChatEvent[]> {
  const out: ChatEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

/** Polls `cond` (a state the code under test reaches by itself) until true. */
export const waitFor = async (cond: () => boolean, what: string, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
