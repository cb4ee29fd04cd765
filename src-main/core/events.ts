/**
 * The in-process event hub. Core modules emit here; the admin WebSocket (dashboard), metrics and
 * the tray subscribe. Emitters never import their listeners. Listeners must be cheap and never
 * throw (a slow consumer buffers on its own side and is dropped there).
 */
import { EventEmitter } from 'node:events';
import type { InstanceSnapshot } from './backends/types';
import type { HealthSnapshot, ReloadOutcome } from './routing/types';

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
  /** Unique per request (the client may reuse `requestId`); optional for older emitters. */
  id?: string;
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

export interface RelayEvents {
  instance: [snapshot: InstanceSnapshot];
  log: [line: LogLine];
  requestStart: [req: LiveRequest];
  requestUpdate: [req: LiveRequest];
  requestEnd: [req: LiveRequest];
  health: [snapshot: HealthSnapshot];
  aliases: [outcome: ReloadOutcome];
  /** Accounts, providers, keys or live settings changed. */
  config: [what: string];
}

export class EventHub extends EventEmitter<RelayEvents> {
  constructor() {
    super();
    // Many dashboard sockets may subscribe; the default warning at 10 is noise here.
    this.setMaxListeners(0);
  }
}
