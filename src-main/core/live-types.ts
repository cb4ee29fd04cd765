/**
 * Pure data shapes of live events (log lines, requests in flight), shared by the event hub
 * (core/events.ts) and the admin wire types (core/admin/api-types.ts), which the renderer compiles
 * with DOM libs only: no imports here.
 */

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
