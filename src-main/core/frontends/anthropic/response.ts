/**
 * Neutral `ChatEvent`s → Anthropic Messages, streamed (SSE events in Anthropic's order) or whole.
 *
 * One encoder serves both: streaming writes the events `push`/`end` return; non-streaming ignores
 * them and sends `message()` at the end. Order on the wire:
 * `message_start`, then per content block `content_block_start` → deltas → `content_block_stop`
 * (one block open at a time, each closed before the next opens), then `message_delta` (stop
 * reason + usage) and `message_stop`.
 */
import type { ChatEvent, FinishReason, Usage } from '../../chat/model';
import type { RelayError } from '../../errors';
import { argumentsObject, newId, type Json } from '../shared/check';
import { toAnthropicError } from './errors';

export interface SseEvent {
  event: string;
  data: Json;
}

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal';

type Block =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string }
  | { type: 'tool_use'; id: string; name: string; args: string; callIndex: number };

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: Json[];
  stop_reason: StopReason;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

export function stopReasonOf(reason: FinishReason, sawToolCalls: boolean): StopReason {
  switch (reason) {
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    case 'stop':
    default:
      // Some upstreams say "stop" after emitting tool calls; the client must still run them.
      return sawToolCalls ? 'tool_use' : 'end_turn';
  }
}

export class AnthropicEncoder {
  readonly id: string;
  private readonly blocks: Block[] = [];
  /** Index (into `blocks`) of the block open on the wire, or -1. */
  private open = -1;
  private finish: FinishReason | undefined;
  private usage: Usage | undefined;

  /**
   * `inputTokensEstimate`: the input tokens `message_start` announces, the dispatcher's one prompt
   * estimate (`ChatExecution.promptTokens`). The final figures come from the stream's `usage`
   * event (decided by the dispatcher); this encoder estimates nothing.
   */
  constructor(
    private readonly model: string,
    private readonly inputTokensEstimate: number,
    id?: string,
  ) {
    this.id = id ?? newId('msg_');
  }

  start(): SseEvent[] {
    return [
      {
        event: 'message_start',
        data: {
          type: 'message_start',
          message: {
            id: this.id,
            type: 'message',
            role: 'assistant',
            model: this.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: this.inputTokensEstimate, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
          },
        },
      },
    ];
  }

  private close(out: SseEvent[]): void {
    if (this.open < 0) return;
    out.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: this.open } });
    this.open = -1;
  }

  private openBlock(block: Block, out: SseEvent[]): number {
    this.close(out);
    this.blocks.push(block);
    const index = this.blocks.length - 1;
    let contentBlock: Json;
    if (block.type === 'text') contentBlock = { type: 'text', text: '' };
    else if (block.type === 'thinking') contentBlock = { type: 'thinking', thinking: '', signature: '' };
    else contentBlock = { type: 'tool_use', id: block.id, name: block.name, input: {} };
    out.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: contentBlock } });
    this.open = index;
    return index;
  }

  push(ev: ChatEvent): SseEvent[] {
    const out: SseEvent[] = [];
    const current = this.open >= 0 ? this.blocks[this.open] : undefined;
    switch (ev.type) {
      case 'text': {
        if (!ev.text) break;
        const index = current?.type === 'text' ? this.open : this.openBlock({ type: 'text', text: '' }, out);
        (this.blocks[index] as { text: string }).text += ev.text;
        out.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text: ev.text } } });
        break;
      }
      case 'reasoning': {
        if (!ev.text) break;
        const index = current?.type === 'thinking' ? this.open : this.openBlock({ type: 'thinking', thinking: '' }, out);
        (this.blocks[index] as { thinking: string }).thinking += ev.text;
        out.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: ev.text } } });
        break;
      }
      case 'tool_call': {
        let index: number;
        if (current?.type === 'tool_use' && current.callIndex === ev.index) index = this.open;
        else {
          const earlier = this.blocks.findIndex((b) => b.type === 'tool_use' && b.callIndex === ev.index);
          if (earlier >= 0) {
            // A late fragment of a call whose block is already closed: keep it for the final
            // message; the wire cannot reopen a closed block.
            (this.blocks[earlier] as { args: string }).args += ev.argumentsDelta;
            break;
          }
          index = this.openBlock({ type: 'tool_use', id: ev.id || newId('toolu_'), name: ev.name ?? '', args: '', callIndex: ev.index }, out);
        }
        const block = this.blocks[index] as Extract<Block, { type: 'tool_use' }>;
        if (ev.name && !block.name) block.name = ev.name;
        if (ev.argumentsDelta) {
          block.args += ev.argumentsDelta;
          out.push({
            event: 'content_block_delta',
            data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: ev.argumentsDelta } },
          });
        }
        break;
      }
      case 'usage':
        this.usage = ev.usage;
        break;
      case 'finish':
        this.finish = ev.reason;
        break;
    }
    return out;
  }

  private finalUsage(): AnthropicUsage {
    if (this.usage) {
      const cached = this.usage.cachedTokens ?? 0;
      return {
        input_tokens: Math.max(0, this.usage.promptTokens - cached),
        output_tokens: this.usage.completionTokens,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cached,
      };
    }
    // No usage event (the dispatcher always sends one): what message_start said, nothing counted.
    return {
      input_tokens: this.inputTokensEstimate,
      output_tokens: 0,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
    };
  }

  stopReason(): StopReason {
    return stopReasonOf(this.finish ?? 'stop', this.blocks.some((b) => b.type === 'tool_use'));
  }

  /** Close the open block and end the message. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    this.close(out);
    out.push({
      event: 'message_delta',
      data: { type: 'message_delta', delta: { stop_reason: this.stopReason(), stop_sequence: null }, usage: this.finalUsage() },
    });
    out.push({ event: 'message_stop', data: { type: 'message_stop' } });
    return out;
  }

  /** A failure after the stream started: Anthropic sends a lone `error` event. */
  error(e: RelayError, requestId?: string): SseEvent[] {
    return [{ event: 'error', data: toAnthropicError(e, requestId) as unknown as Json }];
  }

  /** The whole message (non-streaming answer). */
  message(): AnthropicMessage {
    const content = this.blocks.map((b): Json => {
      if (b.type === 'text') return { type: 'text', text: b.text };
      if (b.type === 'thinking') return { type: 'thinking', thinking: b.thinking, signature: '' };
      return { type: 'tool_use', id: b.id, name: b.name, input: argumentsObject(b.args) };
    });
    return {
      id: this.id,
      type: 'message',
      role: 'assistant',
      model: this.model,
      content,
      stop_reason: this.stopReason(),
      stop_sequence: null,
      usage: this.finalUsage(),
    };
  }
}

export const PING_EVENT: SseEvent = { event: 'ping', data: { type: 'ping' } };
