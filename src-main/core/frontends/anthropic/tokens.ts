/**
 * A cheap token estimate for `count_tokens`, `message_start` usage and answers whose backend
 * reported no usage. It is an estimate (no tokenizer for every backend's model): about four
 * characters per token for Latin text, one token per CJK character, fixed costs for images and
 * per message.
 */
import type { ChatMessage, ChatRequest } from '../../chat/model';

const CJK = /[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]/g;
const IMAGE_TOKENS = 1600;
const MESSAGE_OVERHEAD = 4;

export function estimateTextTokens(text: string): number {
  if (!text) return 0;
  const cjk = text.match(CJK)?.length ?? 0;
  const rest = text.length - cjk;
  return cjk + Math.ceil(rest / 4);
}

function messageTokens(m: ChatMessage): number {
  let n = MESSAGE_OVERHEAD;
  for (const p of m.content) n += p.type === 'text' ? estimateTextTokens(p.text) : IMAGE_TOKENS;
  for (const c of m.toolCalls ?? []) n += estimateTextTokens(c.name) + estimateTextTokens(c.arguments) + 3;
  if (m.reasoning) n += estimateTextTokens(m.reasoning);
  return n;
}

/** Estimated prompt tokens of a whole request: messages plus tool definitions. */
export function estimateRequestTokens(req: Pick<ChatRequest, 'messages' | 'tools'>): number {
  let n = 3;
  for (const m of req.messages) n += messageTokens(m);
  for (const t of req.tools ?? []) {
    n += estimateTextTokens(t.name) + estimateTextTokens(t.description ?? '');
    n += estimateTextTokens(JSON.stringify(t.parameters ?? {})) + 8;
  }
  return Math.max(1, n);
}
