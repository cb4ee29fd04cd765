/**
 * What the two runtime dialects share (spec §4 `chat/ask`, §6 `session/*`). A dialect is pure: it
 * takes an `RpcChannel` (channel.ts) and one prepared turn, and yields neutral `ChatEvent`s; it
 * knows nothing of processes, logins or the session cache. Failures are thrown as RelayErrors.
 */
import type { Logger } from 'pino';
import type { ChatEvent, FinishReason } from '../../chat/model';
import { errors, RelayError, toRelayError } from '../../errors';
import type { RpcChannel } from './channel';
import { estimateTokens } from './prompt';
import { RpcError } from './rpc';
import { classifyFailure, messageOf, statusOf } from './signals';
import { ThinkSplitter } from './think';

export type DialectName = 'chat' | 'session';

/** An image for the runtime's prompt (spec §6): inline base64 or a URL. */
export type PromptImage = { type: 'image'; mimeType: string; data: string } | { type: 'image'; mimeType?: string; uri: string };

/** One prepared turn: everything the caller decided (prompt text, session, model, mode). */
export interface DialectTurn {
  /** The text to send: the whole conversation, or only the new turn on a reused session. */
  prompt: string;
  images: PromptImage[];
  /** '' for a new session. */
  sessionId: string;
  /** Runtime model key; undefined lets the runtime pick (its Auto model). */
  model?: string;
  agent: boolean;
  locale: string;
  /** For estimated usage. */
  promptTokens: number;
  cachedTokens?: number;
}

/** Where a turn runs and what it may call back. */
export interface DialectEnv {
  rpc: RpcChannel;
  signal: AbortSignal;
  log: Logger;
  /** Max quiet time between two streamed messages. */
  idleTimeoutMs: number;
  /** A folder for `session/new` `cwd`. */
  cwd: string;
  /** Extra legacy `chat/ask` fields (the spec's unknown ones), merged over the defaults. */
  askDefaults?: Record<string, unknown>;
  /** The runtime accepted a call but stayed silent (wedge watchdog). */
  onSilent?(detail: string): void;
  /** The runtime answered (resets the watchdog). */
  onAnswered?(): void;
}

/** What the caller learns from a turn (filled in as it runs). */
export interface TurnOutcome {
  /** Something reached the client (a retry is no longer invisible). */
  emitted: boolean;
  answer: string;
  /** The session to continue next time ('' when unknown). */
  sessionId: string;
  /** The context window the runtime reported for this turn's model (`limitTokens`), when it did. */
  limitTokens?: number;
}

export interface Dialect {
  readonly name: DialectName;
  /** Whether prompts can carry images. */
  readonly images: boolean;
  turn(t: DialectTurn, env: DialectEnv, out: TurnOutcome): AsyncGenerator<ChatEvent>;
  /** Drop a session the relay no longer needs (`chat/deleteSessionById`); best effort. */
  dropSession(rpc: RpcChannel, sessionId: string): Promise<void>;
}

export interface StreamMsg {
  method: string;
  params: Record<string, unknown>;
}

/** Messages of one answer, consumed in order, with an idle timeout per wait. */
export class MessageQueue {
  private items: StreamMsg[] = [];
  private error: Error | undefined;
  private waiter: (() => void) | undefined;

  push(m: StreamMsg): void {
    this.items.push(m);
    this.waiter?.();
  }

  /** `urgent`: throw before the messages still queued (a cancel); else after them (a close). */
  fail(e: Error, urgent = false): void {
    if (!this.error) this.error = e;
    if (urgent) this.items = [];
    this.waiter?.();
  }

  async next(idleMs: number): Promise<StreamMsg | 'idle'> {
    for (;;) {
      if (this.items.length) return this.items.shift()!;
      if (this.error) throw this.error;
      const idle = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => {
          this.waiter = undefined;
          resolve(true);
        }, idleMs);
        this.waiter = () => {
          clearTimeout(t);
          this.waiter = undefined;
          resolve(false);
        };
      });
      if (idle) return 'idle';
    }
  }
}

/** Pushes that concern whichever request is active (they carry no id of theirs, or ours). */
const SHARED_PUSHES = new Set(['error', 'fatal_error', 'context/usage/sync']);

/**
 * Subscribe to one answer's messages: those `mine` accepts, plus `error` / `fatal_error` /
 * `context/usage/sync` pushes that name no other request. Close and abort fail the queue.
 */
export function openStream(env: DialectEnv, requestId: string, mine: (method: string, p: Record<string, unknown>) => boolean): { queue: MessageQueue; close(): void } {
  const queue = new MessageQueue();
  const onMsg = (method: string, params: unknown) => {
    const p = (params && typeof params === 'object' ? params : {}) as Record<string, unknown>;
    if (SHARED_PUSHES.has(method)) {
      if (p.requestId === undefined || p.requestId === requestId) queue.push({ method, params: p });
    } else if (mine(method, p)) queue.push({ method, params: p });
  };
  const onClose = (info: { detail: string }) => queue.fail(closedError(info.detail));
  const onAbort = () => queue.fail(errors.cancelled(), true);
  env.rpc.on('message', onMsg);
  env.rpc.on('close', onClose);
  env.signal.addEventListener('abort', onAbort, { once: true });
  if (env.signal.aborted) onAbort();
  return {
    queue,
    close() {
      env.signal.removeEventListener('abort', onAbort);
      env.rpc.off('message', onMsg);
      env.rpc.off('close', onClose);
    },
  };
}

/** The idle timeout fired: mid-answer it is a broken stream; before anything, a silent runtime. */
export function idleError(env: DialectEnv, started: boolean, what: string): RelayError {
  if (started) return errors.upstream('The Lingma answer stream ended without finishing.', { retryable: true, detail: `idle after content without ${what}` });
  env.onSilent?.(`no answer after ${what}`);
  return errors.timeout(`Lingma sent nothing for ${Math.round(env.idleTimeoutMs / 1000)} s.`, { retryable: true });
}

/**
 * Builds one answer's events: text through the think-fence splitter, reasoning, real or estimated
 * usage, and the finish.
 */
export class AnswerBuilder {
  private readonly think = new ThinkSplitter();
  sent = '';
  reasoning = '';
  /** Real token figures from the runtime (`context_usage`, `context/usage/sync`). */
  real: { usedTokens: number; limitTokens?: number } | undefined;

  constructor(
    private readonly turn: DialectTurn,
    private readonly out: TurnOutcome,
  ) {}

  get started(): boolean {
    return this.out.emitted;
  }

  text(t: string): ChatEvent[] {
    return this.emit(this.think.push(t));
  }

  reason(t: string): ChatEvent[] {
    return t ? this.emit([{ kind: 'reasoning', text: t }]) : [];
  }

  /** `{usedTokens, limitTokens}` from either dialect's usage message. */
  usage(d: Record<string, unknown>): void {
    const used = Number(d.usedTokens ?? d.used_tokens);
    if (!Number.isFinite(used) || used < 0) return;
    const limit = Number(d.limitTokens ?? d.limit_tokens);
    this.real = { usedTokens: used, limitTokens: Number.isFinite(limit) ? limit : undefined };
    if (Number.isFinite(limit) && limit > 0) this.out.limitTokens = limit;
  }

  /** The closing events: held-back text, usage, finish. */
  finish(reason: FinishReason): ChatEvent[] {
    const tail = this.emit(this.think.flush());
    this.out.answer = this.sent;
    const completion = estimateTokens(this.sent);
    const reasoningTokens = this.reasoning ? estimateTokens(this.reasoning) : undefined;
    const usage = this.real
      ? // The runtime's own count of the context (prompt, history and this turn) is the prompt
        // figure; the answer's share is measured from its text.
        { promptTokens: this.real.usedTokens, completionTokens: completion + (reasoningTokens ?? 0), reasoningTokens, estimated: false }
      : { promptTokens: this.turn.promptTokens, completionTokens: completion + (reasoningTokens ?? 0), reasoningTokens, cachedTokens: this.turn.cachedTokens, estimated: true };
    return [...tail, { type: 'usage', usage }, { type: 'finish', reason }];
  }

  private emit(pieces: Array<{ kind: 'text' | 'reasoning'; text: string }>): ChatEvent[] {
    const ev: ChatEvent[] = [];
    for (const p of pieces) {
      if (!p.text) continue;
      if (p.kind === 'text') this.sent += p.text;
      else this.reasoning += p.text;
      this.out.emitted = true;
      ev.push({ type: p.kind, text: p.text });
    }
    return ev;
  }
}

/**
 * An `error` / `fatal_error` push or a failed finish: throw its error, or (a content refusal)
 * return the `content_filter` finish.
 */
export function failureEvents(p: Record<string, unknown>, answer: AnswerBuilder, status = statusOf(p)): ChatEvent[] {
  const f = classifyFailure(status, messageOf(p), p);
  if (f.kind === 'content_filter') return answer.finish('content_filter');
  throw f.error;
}

export function closedError(detail: string): RelayError {
  return errors.upstream('The Lingma process went away during the answer.', { retryable: true, detail });
}

export function rpcToRelay(e: unknown, method: string): RelayError {
  if (e instanceof RelayError) return e;
  if (e instanceof RpcError) {
    if (e.kind === 'aborted') return errors.cancelled();
    if (e.kind === 'timeout') return errors.timeout(`Lingma did not answer ${method} in time.`, { retryable: true, detail: e.message });
    if (e.kind === 'closed' || e.kind === 'protocol') return closedError(e.message);
    const f = classifyFailure(e.code !== undefined && e.code > 0 ? e.code : undefined, e.message);
    if (f.kind === 'error') return f.error;
    return errors.upstream('Lingma reported an error.', { retryable: false, detail: e.message });
  }
  return toRelayError(e);
}
