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
 * LEAD: wire this after the driver split lands (see the attach report), e.g. with the driver's
 * `runChat(host, req, ctx)` over a `TurnHost` whose `dialect()` runs `detectDialect(rt.rpc(),
 * rt.config().protocol, rt.cwd, rt.log)` once per connection (forgotten on `reset()`), `env(ctx)`
 * is `{ rpc: rt.rpc(), signal: ctx.signal, log: ctx.log, idleTimeoutMs:
 * rt.config().answerIdleTimeoutMs, cwd: rt.cwd }`, and `expired(err)` is `rt.signedOut(err)`.
 */
import type { Logger } from 'pino';
import type { ChatEvent, ChatRequest } from '../../../chat/model';
import type { RelayError } from '../../../errors';
import type { CallContext, ModelInfo } from '../../types';
import type { LingmaConfig } from '../instance';
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

/** LEAD: the dialect wiring goes here (see the file comment). Until then: no chat driver. */
export const createAttachedChat: AttachedChatFactory = () => undefined;
