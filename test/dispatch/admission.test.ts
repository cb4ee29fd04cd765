import { describe, expect, it } from 'vitest';
import { RelayError } from '../../src-main/core/errors';
import { createAdmission } from '../../src-main/core/dispatch/admission';
import { Metrics } from '../../src-main/core/gateway/metrics';

const limits = { maxInFlight: 2, queueTimeoutMs: 10_000, perKeyConcurrency: 10, perKeyQueue: 10 };
const caller = (keyId = 'k1', concurrency?: number) => ({ keyId, limits: concurrency ? { concurrency } : undefined });

describe('admission', () => {
  it('queues FIFO beyond maxInFlight and hands slots over on release', async () => {
    const m = new Metrics();
    const adm = createAdmission(limits, m);
    const a = await adm.acquire(caller('a'));
    const b = await adm.acquire(caller('b'));
    const order: string[] = [];
    const c = adm.acquire(caller('c')).then((p) => (order.push('c'), p));
    const d = adm.acquire(caller('d')).then((p) => (order.push('d'), p));
    await new Promise((r) => setImmediate(r));
    expect(adm.stats()).toEqual({ inFlight: 2, queued: 2, rejected: 0, max: 2 });
    expect(await m.registry.getSingleMetricAsString('relay_queued')).toContain('relay_queued 2');
    a.release();
    const pc = await c;
    b.release();
    const pd = await d;
    expect(order).toEqual(['c', 'd']);
    pc.release();
    pd.release();
    pd.release(); // idempotent
    expect(adm.stats()).toMatchObject({ inFlight: 0, queued: 0 });
    expect(await m.registry.getSingleMetricAsString('relay_in_flight')).toContain('relay_in_flight 0');
  });

  it('a queue timeout is a 429 rate_limit_error with Retry-After', async () => {
    const m = new Metrics();
    const adm = createAdmission({ ...limits, maxInFlight: 1, queueTimeoutMs: 50 }, m);
    const a = await adm.acquire(caller());
    const e = (await adm.acquire(caller('other')).catch((x) => x)) as RelayError;
    expect(e).toBeInstanceOf(RelayError);
    expect(e.status).toBe(429);
    expect(e.type).toBe('rate_limit_error');
    expect(e.retryAfter).toBeGreaterThanOrEqual(1);
    expect(adm.stats()).toMatchObject({ inFlight: 1, queued: 0, rejected: 1 });
    expect(await m.registry.getSingleMetricAsString('relay_rejected_total')).toContain('reason="queue_timeout"} 1');
    a.release();
    // The rejected waiter held its per-key slot while waiting; it must be back.
    const again = await adm.acquire(caller('other'));
    again.release();
  });

  it('per-key concurrency with a bounded queue: beyond it, 429 too many pending requests', async () => {
    const adm = createAdmission({ ...limits, maxInFlight: 100, perKeyConcurrency: 1, perKeyQueue: 1 });
    const first = await adm.acquire(caller('k'));
    const waiting = adm.acquire(caller('k'));
    const e = (await adm.acquire(caller('k')).catch((x) => x)) as RelayError;
    expect(e.status).toBe(429);
    expect(e.message).toMatch(/too many pending requests/i);
    // Another key is not affected.
    const other = await adm.acquire(caller('k2'));
    other.release();
    first.release();
    const second = await waiting;
    expect(adm.stats().inFlight).toBe(1);
    second.release();
    expect(adm.stats()).toMatchObject({ inFlight: 0, queued: 0, rejected: 1 });
  });

  it("the key's own concurrency overrides the default", async () => {
    const adm = createAdmission({ ...limits, maxInFlight: 100, perKeyConcurrency: 1, perKeyQueue: 0 });
    const a = await adm.acquire(caller('k', 2));
    const b = await adm.acquire(caller('k', 2));
    expect(((await adm.acquire(caller('k', 2)).catch((x) => x)) as RelayError).status).toBe(429);
    a.release();
    b.release();
  });

  it('a client that leaves stops waiting and frees its place (global and per-key queues)', async () => {
    const adm = createAdmission({ ...limits, maxInFlight: 1, perKeyConcurrency: 1 });
    const holder = await adm.acquire(caller('k'));
    const c1 = new AbortController();
    const sameKey = adm.acquire(caller('k'), c1.signal).catch((x) => x as RelayError);
    const c2 = new AbortController();
    const otherKey = adm.acquire(caller('k2'), c2.signal).catch((x) => x as RelayError);
    await new Promise((r) => setImmediate(r));
    expect(adm.stats().queued).toBe(2);
    c1.abort();
    c2.abort();
    expect(((await sameKey) as RelayError).code).toBe('client_closed');
    expect(((await otherKey) as RelayError).code).toBe('client_closed');
    expect(adm.stats()).toMatchObject({ inFlight: 1, queued: 0 });
    holder.release();
    expect(adm.stats()).toMatchObject({ inFlight: 0, queued: 0 });
    const pre = new AbortController();
    pre.abort();
    expect(((await adm.acquire(caller('k'), pre.signal).catch((x) => x)) as RelayError).code).toBe('client_closed');
    const after = await adm.acquire(caller('k'));
    after.release();
    await adm.idle();
  });
});
