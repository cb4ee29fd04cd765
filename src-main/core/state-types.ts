/**
 * Pure data shapes of state and live events (instance and login states, health, alias reloads,
 * log lines, requests in flight), shared by core (backends/types.ts, routing/types.ts, events.ts)
 * and the admin wire types (admin/api-types.ts), which the renderer compiles with DOM libs only:
 * no imports here.
 */

export type InstanceState = 'stopped' | 'starting' | 'ready' | 'reconnecting' | 'failed' | 'closed';

export type LoginState =
  | { state: 'not_applicable' }
  | { state: 'logged_out' }
  | { state: 'logging_in' }
  | { state: 'logged_in'; user?: string; quotaExceeded?: boolean }
  | { state: 'needs_manual'; url: string; reason: string }
  | { state: 'failed'; reason: string };

export interface HealthSnapshot {
  instance: string;
  healthy: boolean;
  consecutiveFailures: number;
  lastError?: string;
  lastErrorAt?: number;
  unhealthyUntil?: number;
}

export interface ReloadOutcome {
  at: number;
  ok: boolean;
  source: string;
  error?: string;
  aliases: number;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface LogLine {
  time: number;
  level: LogLevel;
  msg: string;
  requestId?: string;
  instance?: string;
  /** Other structured fields, already free of secrets. */
  fields?: Record<string, unknown>;
}

/** One request in flight, as the "live requests" screen shows it. */
export interface LiveRequest {
  /** Unique per request; the client's `requestId` may repeat. */
  id: string;
  requestId: string;
  protocol: string;
  endpoint: string;
  model: string;
  stream: boolean;
  apiKeyId: string;
  startedAt: number;
  /** Set once routed. */
  provider?: string;
  instance?: string;
  resolved?: string;
  firstByteAt?: number;
  /** Set on end. */
  finishedAt?: number;
  status?: number;
  errorCode?: string;
}
