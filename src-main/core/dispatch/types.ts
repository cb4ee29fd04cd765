/**
 * The seam between front ends and the rest of core. Every protocol front end (OpenAI chat,
 * Anthropic Messages, OpenAI Responses over HTTP or WebSocket) turns its request into a
 * `ChatRequest` and calls `ChatService.execute`; it never talks to routing, pools or backends.
 */
import type { Logger } from 'pino';
import type { ChatEvent, ChatRequest, EmbeddingsRequest, EmbeddingsResult } from '../chat/model';
import type { Caller } from '../caller';
import type { HealthSnapshot, Resolution } from '../routing/types';

export type Protocol = 'openai-chat' | 'openai-embeddings' | 'anthropic' | 'responses' | 'responses-ws';

export type { Caller, KeyLimits } from '../caller';

export interface RequestContext {
  requestId: string;
  caller: Caller;
  protocol: Protocol;
  /** Route path, e.g. `/v1/chat/completions`. */
  endpoint: string;
  userAgent?: string;
  /** Aborted when the client disconnects (or the WebSocket turn is abandoned). */
  signal: AbortSignal;
  receivedAt: number;
  log: Logger;
  /** The client's request body as its front end parsed it (for the request inspector; never read for routing). */
  clientBody?: unknown;
}

export interface Resolved {
  /** Alias that matched, if any. */
  alias?: string;
  provider: string;
  /** Upstream model id. */
  model: string;
  /** `provider/model`: goes into `x-relay-resolved` and every streamed chunk's `model`. */
  label: string;
  instance: string;
}

export interface ChatExecution {
  resolved: Resolved;
  /**
   * The answer's events, starting with the first one (already received from upstream when
   * `execute` resolved), with one `usage` event before `finish` (usage is decided here, once).
   * Iterate exactly once. Leaving the loop early (`break`, `return()`) cancels the upstream call.
   * Slots are released and the outcome is recorded when the iteration ends, however it ends (or at
   * `close()`). A failure after the first event is thrown from here.
   */
  events: AsyncIterable<ChatEvent>;
  /**
   * The dispatcher's one prompt-token estimate for this request, known before any output (for a
   * protocol that announces input tokens at the start, e.g. Anthropic's `message_start`). The
   * figure the request is counted with comes as the stream's `usage` event, just before `finish`:
   * the backend's own numbers when it reports real ones, else this estimate.
   */
  promptTokens: number;
  /**
   * End the request now: cancels the upstream call if it still runs, frees the slots and records
   * the outcome (200 when `finish` was already seen, else 499). Idempotent; iterating `events` to
   * its end (or leaving the loop) closes too, as does the client going away.
   */
  close(): void;
}

export interface ChatService {
  /**
   * Admission, budget check, alias resolution, chain walk with failover, first-byte timeout.
   * Resolves once the first event arrived (so failures before it can still fail over and still
   * become a plain HTTP error). Rejects with a RelayError when every option failed.
   */
  execute(req: ChatRequest, ctx: RequestContext): Promise<ChatExecution>;
  embed(req: EmbeddingsRequest, ctx: RequestContext): Promise<{ resolved: Resolved; result: EmbeddingsResult }>;
  /** Resolve a model name as `execute` would (throws 404 model_not_found); for routes that do not call a backend. */
  resolveModel?(model: string): Resolution;
  /** The health cache's view of an instance (for /healthz). */
  instanceHealth?(instance: string): HealthSnapshot;
}
