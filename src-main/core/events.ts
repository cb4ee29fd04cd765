/**
 * The in-process event hub. Core modules emit here; the admin WebSocket (dashboard), metrics and
 * the tray subscribe. Emitters never import their listeners. Listeners must be cheap and never
 * throw (a slow consumer buffers on its own side and is dropped there).
 */
import { EventEmitter } from 'node:events';
import type { InstanceSnapshot } from './backends/types';
import type { LiveRequest, LogLine } from './state-types';
import type { HealthSnapshot, ReloadOutcome } from './routing/types';

export type { LiveRequest, LogLevel, LogLine } from './state-types';

export interface RelayEvents {
  instance: [snapshot: InstanceSnapshot];
  log: [line: LogLine];
  /** The same log line as written (one JSON line), unparsed: for keepers that read it later, if ever. */
  logText: [line: string];
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
