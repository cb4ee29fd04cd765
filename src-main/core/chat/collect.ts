/** Fold a stream of ChatEvents into one ChatResult (non-streaming answers). */
import type { ChatEvent, ChatResult, FinishReason, ToolCall, Usage } from './model';

export async function collectChat(events: AsyncIterable<ChatEvent>): Promise<ChatResult> {
  let text = '';
  let reasoning = '';
  const calls: Array<ToolCall | undefined> = [];
  let finishReason: FinishReason | undefined;
  let usage: Usage | undefined;
  for await (const ev of events) {
    switch (ev.type) {
      case 'text':
        text += ev.text;
        break;
      case 'reasoning':
        reasoning += ev.text;
        break;
      case 'tool_call': {
        let c = calls[ev.index];
        if (!c) c = calls[ev.index] = { id: ev.id ?? '', name: ev.name ?? '', arguments: '' };
        if (ev.id) c.id = ev.id;
        if (ev.name) c.name = ev.name;
        c.arguments += ev.argumentsDelta;
        break;
      }
      case 'usage':
        usage = ev.usage;
        break;
      case 'finish':
        finishReason = ev.reason;
        break;
    }
  }
  const toolCalls = calls.filter((c): c is ToolCall => c !== undefined);
  return {
    text,
    reasoning,
    toolCalls,
    finishReason: finishReason ?? (toolCalls.length ? 'tool_calls' : 'stop'),
    usage,
  };
}
