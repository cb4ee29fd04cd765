/** Fold a stream of ChatEvents into one ChatResult (non-streaming answers). */
import type { ChatEvent, ChatResult, FinishReason, ToolCall, Usage } from './model';

/**
 * The fold, one event at a time (front ends push as events arrive). `maxChars` (default: no
 * bound) caps what text, reasoning and each call's arguments keep: the rest of a long answer is
 * dropped as it comes (`cut` tells), so a fold kept for inspection costs at most that much.
 */
export class ChatFold {
  private text = '';
  private reasoning = '';
  private readonly calls: Array<ToolCall | undefined> = [];
  private finishReason: FinishReason | undefined;
  private usage: Usage | undefined;
  /** Some text was dropped at `maxChars`. */
  cut = false;

  /**
   * `maxChars`: the most each string (text, reasoning, each call's arguments) keeps. `allow`: asked
   * before characters are kept, grants at most the number asked (a budget shared with other
   * folds); what it does not grant is dropped as beyond `maxChars` is.
   */
  constructor(
    private readonly maxChars = Infinity,
    private readonly allow?: (chars: number) => number,
  ) {}

  /** `s + more`, within `maxChars` and what `allow` grants. */
  private grow(s: string, more: string): string {
    let room = Math.min(more.length, this.maxChars - s.length);
    if (room > 0 && this.allow) room = Math.min(room, this.allow(room));
    if (room >= more.length) return s + more;
    this.cut = true;
    return room <= 0 ? s : s + more.slice(0, room);
  }

  push(ev: ChatEvent): void {
    switch (ev.type) {
      case 'text':
        this.text = this.grow(this.text, ev.text);
        break;
      case 'reasoning':
        this.reasoning = this.grow(this.reasoning, ev.text);
        break;
      case 'tool_call': {
        let c = this.calls[ev.index];
        if (!c) c = this.calls[ev.index] = { id: ev.id ?? '', name: ev.name ?? '', arguments: '' };
        if (ev.id) c.id = ev.id;
        if (ev.name) c.name = ev.name;
        c.arguments = this.grow(c.arguments, ev.argumentsDelta);
        break;
      }
      case 'usage':
        this.usage = ev.usage;
        break;
      case 'finish':
        this.finishReason = ev.reason;
        break;
    }
  }

  result(): ChatResult {
    const toolCalls = this.calls.filter((c): c is ToolCall => c !== undefined);
    return {
      text: this.text,
      reasoning: this.reasoning,
      toolCalls,
      finishReason: this.finishReason ?? (toolCalls.length ? 'tool_calls' : 'stop'),
      usage: this.usage,
    };
  }
}

export async function collectChat(events: AsyncIterable<ChatEvent>): Promise<ChatResult> {
  const fold = new ChatFold();
  for await (const ev of events) fold.push(ev);
  return fold.result();
}
