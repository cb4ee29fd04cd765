/**
 * `routed` and `finished` reach the observers on the next immediate, after the reply's bytes
 * (src-main/core/dispatch/observer-queue.ts): in order, exactly once, an observer that throws
 * stops no other, the outcome's values are those of its moment, the queue is flushed before the
 * ledger closes at stop, and the reply is complete when the observers hear of it.
 */
import Database from 'better-sqlite3';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RequestObserver, RequestOutcome, RequestRouted } from '../../src-main/core/dispatch/outcome';
import { ObserverQueue } from '../../src-main/core/dispatch/observer-queue';
import type { LiveRequest } from '../../src-main/core/events';
import { systemClock } from '../../src-main/core/ports';
import { startCore, type TestCore } from '../helpers/core';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { fakeInstance, fakeProvider } from './fakes';
import { drain, req, setup } from './setup';

const routed = (id: string) => ({ id, requestId: id }) as RequestRouted;
const finished = (id: string) => ({ id, requestId: id }) as RequestOutcome;

/** A queue whose immediates the test runs by hand; `seen` lists what the observer heard. */
function manual(observers?: RequestObserver[]) {
  const immediates: Array<() => void> = [];
  const seen: string[] = [];
  const recorder: RequestObserver = { routed: (r) => seen.push(`routed:${r.id}`), finished: (o) => seen.push(`finished:${o.id}`) };
  const errors: unknown[] = [];
  const q = new ObserverQueue(observers ?? [recorder], (run) => immediates.push(run));
  return { q, immediates, seen, recorder, errors, onError: (e: unknown) => errors.push(e) };
}

/**
 * Holds back the queue's immediates (only those: node's and the libraries' own run as usual),
 * so a test can look at the moment between the reply and the observers.
 */
function holdObserverImmediates() {
  const real = globalThis.setImmediate;
  const held: Array<() => void> = [];
  const spy = vi.spyOn(globalThis, 'setImmediate').mockImplementation(((fn: (...a: unknown[]) => void, ...args: unknown[]) => {
    if (fn.name === 'observerQueueDrain') {
      held.push(fn as () => void);
      return { ref() { return this; }, unref() { return this; }, hasRef: () => false } as unknown as NodeJS.Immediate;
    }
    return real(fn, ...args);
  }) as typeof setImmediate);
  return {
    held,
    /** Stop holding; run what was held. */
    release() {
      spy.mockRestore();
      for (const run of held.splice(0)) run();
    },
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ObserverQueue', () => {
  it('runs a batch on one immediate, in the order queued, each notification once', () => {
    const { q, immediates, seen, onError } = manual();
    q.push('routed', routed('a'), onError);
    q.push('routed', routed('b'), onError);
    q.push('finished', finished('a'), onError);
    q.push('finished', finished('b'), onError);
    expect(seen).toEqual([]);
    expect(q.size).toBe(4);
    expect(immediates).toHaveLength(1);
    immediates[0]();
    expect(seen).toEqual(['routed:a', 'routed:b', 'finished:a', 'finished:b']);
    expect(q.size).toBe(0);
    // Nothing runs twice; the next notification gets its own immediate.
    q.flush();
    immediates[0]();
    expect(seen).toHaveLength(4);
    q.push('finished', finished('c'), onError);
    expect(immediates).toHaveLength(2);
    immediates[1]();
    expect(seen).toEqual(['routed:a', 'routed:b', 'finished:a', 'finished:b', 'finished:c']);
  });

  it('an observer that throws stops neither the other observers nor the later notifications', () => {
    const boom: RequestObserver = {
      routed: () => {
        throw new Error('routed boom');
      },
      finished: () => {
        throw new Error('finished boom');
      },
    };
    const seen: string[] = [];
    const after: RequestObserver = { routed: (r) => seen.push(`routed:${r.id}`), finished: (o) => seen.push(`finished:${o.id}`) };
    const { q, immediates, errors, onError } = manual([boom, after]);
    q.push('routed', routed('a'), onError);
    q.push('finished', finished('a'), onError);
    immediates[0]();
    expect(seen).toEqual(['routed:a', 'finished:a']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['routed boom', 'finished boom']);
    expect(q.size).toBe(0);
  });

  it('flush() runs what is queued now (also what an observer queues meanwhile); idle() resolves once empty', async () => {
    const { q, immediates, seen, onError } = manual();
    let idle = false;
    void q.idle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(true);
    q.push('finished', finished('a'), onError);
    idle = false;
    const waiting = q.idle().then(() => (idle = true));
    await Promise.resolve();
    expect(idle).toBe(false);
    q.flush();
    await waiting;
    expect(seen).toEqual(['finished:a']);
    // The immediate scheduled for that batch finds nothing left.
    immediates[0]();
    expect(seen).toEqual(['finished:a']);
  });
});

describe('the dispatcher queues routed and finished', () => {
  it('observers hear of a request after it ended, with the timestamps of their moments, routed before finished', async () => {
    let t = 1_000;
    const clock = { ...systemClock, now: () => t };
    const inst = fakeInstance('pa-1', 'pa', {
      behaviour: async function* () {
        t = 1_100; // the first byte
        yield { type: 'text', text: 'hi' };
        t = 1_250; // the end
        yield { type: 'finish', reason: 'stop' };
      },
    });
    const { dispatcher, hub, usage, ended, ctx } = setup([fakeProvider('pa', { models: ['m'], instances: [inst] })], undefined, { clock });
    const order: string[] = [];
    hub.on('requestStart', () => order.push('start'));
    hub.on('requestUpdate', () => order.push('update'));
    hub.on('requestEnd', () => order.push('end'));
    const exec = await dispatcher.execute(req('pa/m'), { ...ctx(), receivedAt: 1_000 });
    // `started` stays synchronous; routed waits.
    expect(order).toEqual(['start']);
    await drain(exec.events);
    expect(usage).toHaveLength(0);
    expect(ended).toHaveLength(0);
    t = 9_999; // the observers run later: the outcome keeps its own moments
    await dispatcher.observed();
    expect(order).toEqual(['start', 'update', 'end']);
    expect(usage).toHaveLength(1);
    expect(usage[0]).toMatchObject({ firstByteAt: 1_100, finishedAt: 1_250, ttftMs: 100, totalMs: 250, status: 200 });
    expect(ended[0]).toMatchObject({ firstByteAt: 1_100, finishedAt: 1_250, status: 200 });
    // Nothing twice, however often one waits.
    await dispatcher.observed();
    await new Promise((r) => setImmediate(r));
    expect(usage).toHaveLength(1);
    expect(ended).toHaveLength(1);
  });

  it('flushObservers() hands the queue over at once, and the immediate then finds nothing', async () => {
    const { dispatcher, usage, ctx } = setup([fakeProvider('pa', { models: ['m'] })]);
    const hold = holdObserverImmediates();
    await drain((await dispatcher.execute(req('pa/m'), ctx())).events);
    await dispatcher.execute(req('nope'), ctx()).catch(() => undefined);
    expect(hold.held.length).toBeGreaterThan(0);
    expect(usage).toHaveLength(0);
    dispatcher.flushObservers();
    expect(usage.map((u) => u.status)).toEqual([200, 404]);
    hold.release();
    await dispatcher.observed();
    expect(usage).toHaveLength(2);
  });
});

describe('through the relay', () => {
  let up: FakeUpstream | undefined;
  let core: TestCore | undefined;
  afterEach(async () => {
    await core?.close();
    await up?.close();
    core = undefined;
    up = undefined;
  });

  const start = async () => {
    up = await startFakeOpenAI({ models: ['m1'], chunks: 3 });
    core = await startCore({ config: { providers: [{ name: 'up', type: 'openai', baseUrl: up.url, models: ['m1'] }] } });
    return core;
  };
  const chat = (c: TestCore, stream: boolean) =>
    fetch(`${c.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'up/m1', stream, messages: [{ role: 'user', content: 'hello' }] }),
    });

  it('the reply is complete (and a stream has its first frame) before the observers hear of it', async () => {
    const c = await start();
    // The server's responses, in order, with how many writes each had.
    const responses: Array<{ res: ServerResponse; writes: number }> = [];
    c.relay.app.server.on('request', (_req, res: ServerResponse) => {
      const entry = { res, writes: 0 };
      responses.push(entry);
      const write = res.write.bind(res) as (...a: unknown[]) => boolean;
      res.write = ((...a: unknown[]) => {
        entry.writes++;
        return write(...a);
      }) as typeof res.write;
    });
    const atUpdate: Array<{ headersSent: boolean; writes: number }> = [];
    const atEnd: Array<{ ended: boolean }> = [];
    c.relay.hub.on('requestUpdate', () => {
      const e = responses.at(-1)!;
      atUpdate.push({ headersSent: e.res.headersSent, writes: e.writes });
    });
    c.relay.hub.on('requestEnd', (_l: LiveRequest) => atEnd.push({ ended: responses.at(-1)!.res.writableEnded }));

    const plain = await chat(c, false);
    expect(plain.status).toBe(200);
    await plain.text();
    await c.relay.observed();
    expect(atEnd).toEqual([{ ended: true }]);

    const streamed = await chat(c, true);
    expect(streamed.status).toBe(200);
    expect(await streamed.text()).toContain('[DONE]');
    await c.relay.observed();
    expect(atUpdate).toHaveLength(2);
    expect(atUpdate[1].headersSent).toBe(true);
    expect(atUpdate[1].writes).toBeGreaterThanOrEqual(1);
    expect(atEnd).toEqual([{ ended: true }, { ended: true }]);
  });

  it('stop() flushes the queue before the ledger closes: a request finished just before stop has its row', async () => {
    const c = await start();
    const hold = holdObserverImmediates();
    const ended: string[] = [];
    c.relay.hub.on('requestEnd', (l: LiveRequest) => ended.push(l.requestId));
    const res = await chat(c, false);
    expect(res.status).toBe(200);
    await res.text();
    const id = res.headers.get('x-request-id')!;
    // The reply is out; its outcome still waits in the queue.
    expect(ended).toEqual([]);
    expect(hold.held.length).toBeGreaterThan(0);
    await c.relay.stop();
    expect(ended).toEqual([id]);
    const db = new Database(join(c.dataDir, 'usage.db'), { readonly: true });
    const rows = db.prepare('SELECT request_id AS id, status FROM usage').all() as Array<{ id: string; status: number }>;
    db.close();
    expect(rows).toEqual([{ id, status: 200 }]);
    hold.release();
    expect(ended).toEqual([id]);
  });
});
