/**
 * The chain walk, as a pure function over injected steps (no pool, provider, timer or log of its
 * own), so every failover rule is unit-testable with plain functions.
 *
 * For each target in order: skip it when it cannot take the request (capability); else take an
 * instance for it (excluding those that failed this request) and attempt the call. A retryable
 * failure before the first result is reported (`failed`: health, credit cool-down) and the walk
 * moves on: another instance of the same target while the switch budget (`maxSwitches`) lasts,
 * then the next target. A non-retryable failure, or the client leaving, ends the walk at once.
 * Every switch (a skip or failure followed by a new instance) is reported once (`switched`).
 */
import { errors, toRelayError, type RelayError } from '../errors';
import type { Switch } from './outcome';

/** What a taken instance looks like to the walk (the pool's `Lease`). */
export interface Held {
  readonly instance: { readonly name: string };
  release(): void;
}

export interface WalkTarget {
  /** `provider/model`. */
  label: string;
}

export interface WalkSteps<T extends WalkTarget, L extends Held, V> {
  /** Extra instance switches allowed after a target's first instance (`limits.maxSwitches`). */
  maxSwitches: number;
  /** Why this target cannot take the request at all (`tools_unsupported`, ...), or undefined. */
  skip(target: T): string | undefined;
  /** An instance for the target, none of `exclude`; throws a RelayError when none can be had. */
  acquire(target: T, exclude: ReadonlySet<string>): Promise<L>;
  /** One call on the held instance, resolving at its first result; throws (after its own cleanup) on failure. */
  attempt(held: L, target: T): Promise<V>;
  /** True once the client left: the walk stops with `client_closed`. */
  cancelled(): boolean;
  /** A retryable failure of an instance (goes to health or the credit cool-down). */
  failed(instance: string, err: RelayError): void;
  /** A switch happened (the walk goes on with `to`). */
  switched(s: Switch, target: T): void;
  /** Every target failed: the failures in order, and the one the walk rejects with. */
  gaveUp?(failures: readonly RelayError[], chosen: RelayError): void;
}

export interface WalkResult<T, L, V> {
  value: V;
  /** Still held: the caller releases it. */
  held: L;
  target: T;
}

/** Short failure reason for switch reasons and metric labels. */
export function reasonOf(err: RelayError): string {
  if (err.code === 'first_byte_timeout') return 'first_byte_timeout';
  if (err.upstreamStatus !== undefined) return `${err.code}:${err.upstreamStatus}`;
  return err.code;
}

/** The most meaningful failure: a 429 with the shortest Retry-After; else the latest upstream one. */
export function bestFailure(failures: readonly RelayError[]): RelayError {
  const limited = failures.filter((e) => e.status === 429);
  if (limited.length) return limited.reduce((a, b) => ((b.retryAfter ?? Infinity) < (a.retryAfter ?? Infinity) ? b : a));
  for (let i = failures.length - 1; i >= 0; i--) {
    const e = failures[i];
    if (e.upstreamStatus !== undefined || e.code === 'first_byte_timeout') return e;
  }
  return failures[failures.length - 1];
}

/** Thrown when the walk tried nothing because every target was skipped. */
export function nothingCanServe(requested: string, skipped: readonly string[]): RelayError {
  return errors.invalid(`No target for the model '${requested}' can serve this request: ${skipped.join('; ')}.`, 'model', 'unsupported_request');
}

/** The exclusions of a target nothing failed on yet (never added to). */
const NONE: ReadonlySet<string> = new Set<string>();

/**
 * Walk `targets` (already in the order to try). Resolves with the first successful attempt, its
 * instance still held; rejects with the client-closed error, a non-retryable failure, the best
 * failure of the walk (`bestFailure`), or `nothingCanServe`.
 */
export async function walkChain<T extends WalkTarget, L extends Held, V>(
  requested: string,
  targets: readonly T[],
  steps: WalkSteps<T, L, V>,
): Promise<WalkResult<T, L, V>> {
  const failures: RelayError[] = [];
  const skipped: string[] = [];
  let pending: { from: string; reason: string } | undefined;
  let instanceSwitches = 0;

  for (const target of targets) {
    const issue = steps.skip(target);
    if (issue) {
      skipped.push(`${target.label} (${issue.replace(/_/g, ' ')})`);
      // A skip is not a failure: it becomes the reason of the next switch unless one is pending.
      pending ??= { from: target.label, reason: issue };
      continue;
    }
    // Created at the first failure: most requests never exclude anything.
    let exclude: Set<string> | undefined;
    let triedHere = 0;
    for (;;) {
      if (triedHere > 0 && instanceSwitches >= steps.maxSwitches) break;
      let held: L;
      try {
        held = await steps.acquire(target, exclude ?? NONE);
      } catch (e) {
        if (steps.cancelled()) throw errors.cancelled();
        const err = toRelayError(e);
        // No instance left (or all busy): not the instances' fault, so no health record.
        if (triedHere === 0 || err.code !== 'no_instance') failures.push(err);
        if (triedHere === 0) pending ??= { from: target.label, reason: err.code };
        break;
      }
      const name = held.instance.name;
      if (triedHere > 0) instanceSwitches++;
      triedHere++;
      if (pending) {
        steps.switched({ from: pending.from, to: name, reason: pending.reason }, target);
        pending = undefined;
      }
      try {
        if (steps.cancelled()) throw errors.cancelled();
        const value = await steps.attempt(held, target);
        return { value, held, target };
      } catch (e) {
        held.release();
        if (steps.cancelled()) throw errors.cancelled();
        const err = toRelayError(e);
        if (!err.retryable) throw err;
        steps.failed(name, err);
        failures.push(err);
        (exclude ??= new Set<string>()).add(name);
        pending = { from: name, reason: reasonOf(err) };
      }
    }
  }
  if (failures.length === 0) throw nothingCanServe(requested, skipped);
  const chosen = bestFailure(failures);
  steps.gaveUp?.(failures, chosen);
  throw chosen;
}
