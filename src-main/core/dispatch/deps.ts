/** What the dispatcher (./dispatcher.ts) is built from: the parts relay.ts wires in. */
import type { Logger } from 'pino';
import type { Provider } from '../backends/types';
import type { ErrorRule } from '../config/schema';
import type { Pool } from '../pool/pool';
import type { HealthCache, Resolver } from '../routing/types';
import type { Clock } from '../ports';
import type { Admission } from './admission';
import type { RequestObserver } from './outcome';
import type { CaptureAllowance } from './trace';
import type { Caller } from './types';

export interface DispatchLimits {
  maxSwitches: number;
  firstByteTimeoutMs: number;
  /** How long a call may wait for a free instance slot. */
  queueTimeoutMs: number;
}

export interface DispatcherDeps {
  resolver: Resolver;
  providers: () => readonly Provider[];
  pool: Pool;
  admission: Admission;
  health: HealthCache;
  /** Read on every request, so a live settings change applies to the next one. */
  limits: DispatchLimits;
  /** Who hears of every request (metrics, the live hub, the usage ledger): wired in relay.ts. */
  observers?: readonly RequestObserver[];
  /** `errorRules` from the config, applied to the final failure of a chain walk. */
  errorRules?: readonly ErrorRule[] | (() => readonly ErrorRule[]);
  /** Budget/expiry check for the caller; throws a RelayError (e.g. 429) to refuse. */
  checkBudget?: (caller: Caller, req: { model: string; endpoint: string }) => void | Promise<void>;
  /**
   * Keep each request's story (client body, answer, upstream request, timeline) in its outcome's
   * `trace`, for the request inspector. Read per request; off (or absent): nothing is kept.
   */
  capture?: () => boolean;
  /**
   * With capture on: the most characters a trace keeps of each answer string (the inspector cuts
   * longer ones anyway), so a long streamed answer is not held whole while it streams. Default: all.
   */
  captureChars?: () => number;
  /** With capture on: what all traces in flight may keep of their answers together (the inspector's). */
  captureAllowance?: CaptureAllowance;
  clock?: Clock;
  log?: Logger;
}
