/**
 * Token estimates for when a backend reports no usage. Not a tokenizer: a cheap, stable
 * approximation (about 4 characters per token for Latin text, 1 token per CJK character,
 * plus a small per-message overhead), good for budgets and dashboards, flagged `estimated`.
 */
import type { ChatMessage, ChatRequest, ContentPart } from './model';

const PER_MESSAGE = 4;
const PER_IMAGE = 85;

/** Estimated tokens of a text. */
export function estimateTokens(text: string): number {
  if (!text) return 0;
  let cjk = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // CJK unified ideographs, kana, hangul, full-width forms: roughly one token each.
    if ((c >= 0x3040 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xff00 && c <= 0xffef)) cjk++;
    else other++;
  }
  return cjk + Math.ceil(other / 4);
}

function partsTokens(parts: ContentPart[]): number {
  let n = 0;
  for (const p of parts) n += p.type === 'text' ? estimateTokens(p.text) : PER_IMAGE;
  return n;
}

export function estimateMessageTokens(m: ChatMessage): number {
  let n = PER_MESSAGE + partsTokens(m.content);
  if (m.reasoning) n += estimateTokens(m.reasoning);
  if (m.toolCalls) for (const c of m.toolCalls) n += estimateTokens(c.name) + estimateTokens(c.arguments);
  return n;
}

/** Estimated prompt tokens of a whole request (messages and tool definitions). */
export function estimatePromptTokens(req: Pick<ChatRequest, 'messages' | 'tools'>): number {
  let n = 3;
  for (const m of req.messages) n += estimateMessageTokens(m);
  if (req.tools) for (const t of req.tools) n += estimateTokens(t.name) + estimateTokens(t.description ?? '') + (t.parameters ? estimateTokens(JSON.stringify(t.parameters)) : 0);
  return n;
}
