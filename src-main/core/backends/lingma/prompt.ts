/**
 * Rendering a neutral conversation into the one prompt text Lingma takes (plus its images as
 * prompt items). Without the runtime's own figures the gateway estimates tokens.
 */
import { textOf, type ChatMessage } from '../../chat/model';
import { errors } from '../../errors';
import type { PromptImage } from './dialect';

/**
 * The images of some messages as runtime prompt items (spec §6): a `data:` URL becomes
 * `{type, mimeType, data}`, an http(s) URL `{type, uri}`. Anything else is a 400 naming the part.
 */
export function collectImages(messages: ChatMessage[], offset = 0): PromptImage[] {
  const out: PromptImage[] = [];
  messages.forEach((m, i) => {
    m.content.forEach((p, j) => {
      if (p.type !== 'image') return;
      const where = `messages[${i + offset}].content[${j}]`;
      const data = /^data:([^;,]+)?(;[^,]*)?,(.*)$/s.exec(p.url);
      if (data) {
        if (!/;base64/i.test(data[2] ?? '')) throw errors.invalid(`${where}: an image data URL must be base64.`, where, 'unsupported_content');
        out.push({ type: 'image', mimeType: data[1] || p.mediaType || 'image/png', data: data[3] });
      } else if (/^https?:\/\//i.test(p.url)) {
        out.push(p.mediaType ? { type: 'image', mimeType: p.mediaType, uri: p.url } : { type: 'image', uri: p.url });
      } else {
        throw errors.invalid(`${where}: an image must be a data: URL or an http(s) URL.`, where, 'unsupported_content');
      }
    });
  });
  return out;
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
