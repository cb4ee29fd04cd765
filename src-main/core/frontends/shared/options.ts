/** What every front end is registered with (the same object for all three: ../index.ts). */
import type { Provider } from '../../backends/types';
import type { ChatService } from '../../dispatch/types';
import type { Clock } from '../../ports';
import type { Resolver } from '../../routing/types';
import type { ResponseStore } from '../responses/store';
import type { StreamLimits } from './stream';

export interface FrontendOptions {
  chat: ChatService;
  /** For `/v1/models`. */
  providers: () => readonly Provider[];
  /** Model listing and `count_tokens` resolution (default: the chat service's `resolveModel`). */
  resolver?: () => Resolver | undefined;
  /** `limits.keepAliveMs` and `limits.clientDrainTimeoutMs`, read per request (live settings). */
  limits: () => StreamLimits;
  /** `limits.maxBodyBytes`, for the 413 message in Anthropic's shape. */
  maxBodyBytes?: number;
  /** The Responses conversation store; one (1000 entries) is created when not given. */
  store?: ResponseStore;
  /** Keep-alives and drain deadlines of the shared stream path (the relay's one clock; default: system). */
  clock?: Clock;
  /** How long a new Responses WebSocket may stay silent before its first message. Default 60 s. */
  wsFirstMessageTimeoutMs?: number;
}
