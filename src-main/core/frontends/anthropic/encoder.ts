/**
 * The Anthropic Messages wire format for the shared execution (../shared/stream.ts): SSE frames
 * of `AnthropicEncoder`'s events, `ping` as the keep-alive after `message_start`, and the whole
 * message for non-streaming answers.
 */
import type { ChatEvent } from '../../chat/model';
import type { RelayError } from '../../errors';
import type { Resolved } from '../../dispatch/types';
import type { BodyEncoder, StreamEncoder } from '../shared/stream';
import { toAnthropicError } from './errors';
import { AnthropicEncoder, PING_EVENT, type AnthropicMessage, type SseEvent } from './response';

function frame(e: SseEvent): string {
  return `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

function frames(events: SseEvent[]): string {
  let out = '';
  for (let i = 0; i < events.length; i++) out += frame(events[i]);
  return out;
}

export class MessagesStream implements StreamEncoder<string> {
  readonly ping = frame(PING_EVENT);
  private enc: AnthropicEncoder | undefined;

  constructor(private readonly requestId: string) {}

  /** `message_start` announces the dispatcher's prompt figure, the same one the final usage carries. */
  start(resolved: Resolved, prompt: () => number): string {
    this.enc = new AnthropicEncoder(resolved.label, prompt());
    return frames(this.enc.start());
  }

  push(ev: ChatEvent): string {
    return frames(this.enc!.push(ev));
  }

  end(): string {
    return frames(this.enc!.end());
  }

  /** Anthropic's lone `event: error`, before or after `message_start`. */
  fail(err: RelayError): string {
    return frame({ event: 'error', data: toAnthropicError(err, this.requestId) as unknown as Record<string, unknown> });
  }
}

export class MessagesBody implements BodyEncoder<AnthropicMessage> {
  private readonly enc: AnthropicEncoder;

  constructor(label: string, prompt: () => number) {
    this.enc = new AnthropicEncoder(label, prompt());
  }

  push(ev: ChatEvent): void {
    this.enc.push(ev);
  }

  body(): AnthropicMessage {
    return this.enc.message();
  }
}
