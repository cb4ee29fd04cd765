/**
 * THE SEAM between an attached runtime (attached.ts: find it, connect, sign-in status, models,
 * reconnect) and the chat dialects (the legacy `chat/ask` and the `session/*` dialect, with
 * dialect detection and session reuse), which live with the spawned-instance driver.
 *
 * `AttachedRuntime` is what an attached instance offers; `AttachedChat` is what it needs back.
 * `createAttachedChat` is the one function that joins them. It returns `undefined` until the
 * driver's dialect modules are wired here: an attached instance then shows as connected and
 * signed in, but refuses chats with a clear 503 (it never pretends to serve).
 *
 * The wiring: the driver's `runChat(host, req, ctx)` over a `TurnHost` whose dialect is detected
 * once per connection (forgotten on `reset()`), so an attached runtime speaks whichever dialect
 * it speaks, exactly like a spawned one, and session reuse works the same way.
 */
import type { Logger } from 'pino';
import { detectDialect, type ProtocolSetting } from '../dialects';
import type { Dialect } from '../dialect';
import { isAgentRequest, runChat, type TurnHost } from '../turns';
import type { ChatEvent, ChatRequest } from '../../../chat/model';
import type { RelayError } from '../../../errors';
import type { CallContext, ModelInfo } from '../../types';
import type { LingmaConfig } from '../types';
import type { RpcConnection } from '../rpc';
import type { SessionCache } from '../session-cache';

/** What an attached runtime offers a chat driver. */
export interface AttachedRuntime {
  /** The instance name (owner of cached sessions), e.g. `lingma-app`. */
  readonly name: string;
  readonly log: Logger;
  readonly sessions: SessionCache;
  /** A folder of the relay's for the `initialize` workspace and `session/new` `cwd`. */
  readonly cwd: string;
  config(): LingmaConfig;
  /** The live connection; throws a 503 RelayError while (re)connecting. */
  rpc(): RpcConnection;
  /** The runtime's models from `config/queryModels` (empty before the first listing). */
  models(): ModelInfo[];
  /**
   * The runtime said the login expired (401): re-read `auth/status` and return the error to
   * throw. Never logs in or out: the person signs in inside the app.
   */
  signedOut(err: RelayError): Promise<RelayError>;
}

/** What an attached instance needs to serve chats. */
export interface AttachedChat {
  chat(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent>;
  /** The connection was replaced (reconnect, port moved): forget per-connection state (dialect). */
  reset(): void;
  /** Whether agent mode applies (session reuse and routing skip it); optional. */
  isAgent?(req: ChatRequest): boolean;
}

export type AttachedChatFactory = (rt: AttachedRuntime) => AttachedChat | undefined;

/** The chat driver of an attached runtime: the same dialects and turn runner as a spawned one. */
export const createAttachedChat: AttachedChatFactory = (rt) => {
  let dialect: { rpc: RpcConnection; value: Promise<Dialect> } | undefined;
  const host: TurnHost = {
    name: rt.name,
    sessions: rt.sessions,
    log: rt.log,
    config: () => rt.config(),
    models: () => rt.models(),
    dialect(signal) {
      const rpc = rt.rpc();
      if (!dialect || dialect.rpc !== rpc) {
        const setting = (rt.config().protocol ?? 'auto') as ProtocolSetting;
        const value = detectDialect(rpc, setting, rt.cwd, rt.log, signal);
        const entry = { rpc, value };
        dialect = entry;
        // A failed detection (aborted, connection dropped) is tried again on the next turn.
        value.catch(() => {
          if (dialect === entry) dialect = undefined;
        });
      }
      return dialect.value;
    },
    env: (ctx) => ({
      rpc: rt.rpc(),
      signal: ctx.signal,
      log: ctx.log.child({ instance: rt.name }),
      idleTimeoutMs: rt.config().answerIdleTimeoutMs,
      cwd: rt.cwd,
    }),
    expired: (err) => rt.signedOut(err),
  };
  return {
    chat: (req, ctx) => runChat(host, req, ctx),
    reset: () => {
      dialect = undefined;
    },
    isAgent: (req) => isAgentRequest(req, rt.config()),
  };
};
