/** The chain walk as a pure function: every rule with plain functions, no pool, timer or backend. */
import { describe, expect, it } from 'vitest';
import { errors, type RelayError } from '../../src-main/core/errors';
import type { Switch } from '../../src-main/core/dispatch/outcome';
import { bestFailure, walkChain, type Held, type WalkSteps } from '../../src-main/core/dispatch/walk';

interface T {
  label: string;
  /** Instances of this target, in the order the "pool" hands them out. */
  instances: string[];
  skip?: string;
}

/** Outcome of one attempt per instance name: a value, or an error to throw. */
type Script = Record<string, string | RelayError>;

function harness(targets: T[], script: Script, opts: { maxSwitches?: number; cancelAfter?: string } = {}) {
  const log: string[] = [];
  const switches: Switch[] = [];
  const failed: string[] = [];
  let cancelled = false;
  let held = 0;
  const steps: WalkSteps<T, Held, string> = {
    maxSwitches: opts.maxSwitches ?? 3,
    skip: (t) => t.skip,
    async acquire(t, exclude) {
      const name = t.instances.find((n) => !exclude.has(n));
      if (!name) throw errors.unavailable(`nothing left in ${t.label}`, { code: 'no_instance', retryable: true });
      held++;
      log.push(`acquire ${name}`);
      let released = false;
      return {
        instance: { name },
        release() {
          if (released) throw new Error(`${name} released twice`);
          released = true;
          held--;
        },
      };
    },
    async attempt(h) {
      const name = h.instance.name;
      log.push(`attempt ${name}`);
      if (opts.cancelAfter === name) cancelled = true;
      const r = script[name];
      if (typeof r === 'string') return r;
      throw r;
    },
    cancelled: () => cancelled,
    failed: (name, err) => failed.push(`${name}:${err.code}`),
    switched: (s) => switches.push(s),
  };
  return { steps, log, switches, failed, held: () => held };
}

const e500 = () => errors.upstream('boom', { upstreamStatus: 500, status: 502, retryable: true });
const e429 = (s: number) => errors.rateLimited('slow down', s);

describe('walkChain', () => {
  it('returns the first success with its instance still held', async () => {
    const h = harness([{ label: 'a/m', instances: ['a1', 'a2'] }], { a1: 'ok-a1' });
    const r = await walkChain('x', [{ label: 'a/m', instances: ['a1', 'a2'] }], h.steps);
    expect(r.value).toBe('ok-a1');
    expect(r.held.instance.name).toBe('a1');
    expect(h.held()).toBe(1);
    expect(h.switches).toEqual([]);
  });

  it('a retryable failure moves to the next instance, then the next target; each switch is reported once with its reason', async () => {
    const targets = [{ label: 'a/m', instances: ['a1', 'a2'] }, { label: 'b/n', instances: ['b1'] }];
    const h = harness(targets, { a1: e500(), a2: e429(3), b1: 'ok-b1' });
    const r = await walkChain('x', targets, h.steps);
    expect(r.value).toBe('ok-b1');
    expect(r.target.label).toBe('b/n');
    expect(h.failed).toEqual(['a1:upstream_error', 'a2:rate_limited']);
    expect(h.switches).toEqual([
      { from: 'a1', to: 'a2', reason: 'upstream_error:500' },
      { from: 'a2', to: 'b1', reason: 'rate_limited' },
    ]);
    expect(h.held()).toBe(1);
  });

  it('a skipped target is the reason of the next switch, not a failure; all skipped → 400 naming why', async () => {
    const targets = [{ label: 'a/m', instances: ['a1'], skip: 'tools_unsupported' }, { label: 'b/n', instances: ['b1'] }];
    const h = harness(targets, { b1: 'ok' });
    await walkChain('x', targets, h.steps);
    expect(h.switches).toEqual([{ from: 'a/m', to: 'b1', reason: 'tools_unsupported' }]);
    expect(h.failed).toEqual([]);

    const none = harness([targets[0]], {});
    const e = (await walkChain('coder', [targets[0]], none.steps).catch((x) => x)) as RelayError;
    expect(e).toMatchObject({ status: 400, code: 'unsupported_request' });
    expect(e.message).toBe("No target for the model 'coder' can serve this request: a/m (tools unsupported).");
  });

  it('the switch budget bounds extra instances of a target, not the move to the next target', async () => {
    const targets = [{ label: 'a/m', instances: ['a1', 'a2', 'a3'] }, { label: 'b/n', instances: ['b1'] }];
    const h = harness(targets, { a1: e500(), a2: e500(), a3: 'never', b1: 'ok-b1' }, { maxSwitches: 1 });
    const r = await walkChain('x', targets, h.steps);
    expect(r.value).toBe('ok-b1');
    expect(h.log).toEqual(['acquire a1', 'attempt a1', 'acquire a2', 'attempt a2', 'acquire b1', 'attempt b1']);
  });

  it('a non-retryable failure ends the walk at once; every lease taken is released', async () => {
    const targets = [{ label: 'a/m', instances: ['a1', 'a2'] }];
    const h = harness(targets, { a1: errors.invalid('bad request') });
    const e = (await walkChain('x', targets, h.steps).catch((x) => x)) as RelayError;
    expect(e.status).toBe(400);
    expect(h.log).toEqual(['acquire a1', 'attempt a1']);
    expect(h.failed).toEqual([]);
    expect(h.held()).toBe(0);
  });

  it('the client leaving ends the walk with client_closed, whatever the attempt threw', async () => {
    const targets = [{ label: 'a/m', instances: ['a1', 'a2'] }];
    const h = harness(targets, { a1: e500(), a2: 'ok' }, { cancelAfter: 'a1' });
    const e = (await walkChain('x', targets, h.steps).catch((x) => x)) as RelayError;
    expect(e.code).toBe('client_closed');
    expect(h.held()).toBe(0);
    expect(h.failed).toEqual([]);
  });

  it('when everything fails: the 429 with the shortest Retry-After wins, else the latest upstream failure', async () => {
    const targets = [{ label: 'a/m', instances: ['a1'] }, { label: 'b/n', instances: ['b1'] }, { label: 'c/o', instances: ['c1'] }];
    const h = harness(targets, { a1: e429(30), b1: e500(), c1: e429(4) });
    const chosen: string[] = [];
    h.steps.gaveUp = (failures, best) => chosen.push(`${failures.length}:${best.retryAfter}`);
    const e = (await walkChain('x', targets, h.steps).catch((x) => x)) as RelayError;
    expect(e.retryAfter).toBe(4);
    expect(chosen).toEqual(['3:4']);
    expect(h.held()).toBe(0);
    const timeout = errors.timeout('slow', { code: 'first_byte_timeout', retryable: true });
    expect(bestFailure([e500(), timeout, errors.unavailable('no')])).toBe(timeout);
  });
});
