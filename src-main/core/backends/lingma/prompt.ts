/**
 * Rendering a neutral conversation into the one prompt text Lingma takes. Lingma reports no token
 * counts, so the gateway estimates them (usage.estimated = true).
 */
import { textOf, type ChatMessage } from '../../chat/model';
import { errors } from '../../errors';

/** Throws 400 when a message carries an image: Lingma takes text only. */
export function assertTextOnly(messages: ChatMessage[]): void {
  messages.forEach((m, i) => {
    if (m.content.some((p) => p.type === 'image')) {
      throw errors.invalid(`messages[${i}] contains an image, but Lingma models accept text only.`, `messages[${i}].content`, 'unsupported_content');
    }
  });
}

/** One message as readable text: its text, its tool calls, or its tool result. */
export function renderMessage(m: ChatMessage): string {
  const text = textOf(m.content).trim();
  if (m.role === 'tool') {
    const who = [m.toolName, m.toolCallId && `id ${m.toolCallId}`].filter(Boolean).join(', ');
    return `[tool result${who ? ` (${who})` : ''}${m.isError ? ' error' : ''}] ${text}`;
  }
  const lines: string[] = [];
  if (text) lines.push(`[${m.role}] ${text}`);
  for (const c of m.toolCalls ?? []) lines.push(`[${m.role} tool call] ${c.name}(${c.arguments}) (id ${c.id})`);
  return lines.join('\n');
}

/**
 * A new session gets the whole conversation as `[role] text` lines. A lone user message is sent
 * as it is, so a plain question reads as a plain question.
 */
export function renderConversation(messages: ChatMessage[]): string {
  if (messages.length === 1 && messages[0].role === 'user' && !messages[0].toolCalls?.length) return textOf(messages[0].content).trim();
  return messages
    .map(renderMessage)
    .filter((s) => s.length > 0)
    .join('\n')
    .trim();
}

/** The new turn of a reused session: the last message only (a user turn as plain text). */
export function renderTurn(last: ChatMessage): string {
  if (last.role === 'user' && !last.toolCalls?.length) return textOf(last.content).trim();
  return renderMessage(last);
}

/** The gateway-wide estimate (core/chat/tokens), so Lingma usage matches what the dispatcher counts. */
export { estimateTokens } from '../../chat/tokens';
