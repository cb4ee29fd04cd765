/**
 * The one token estimate, for when a backend reports no usage and for Anthropic `count_tokens`.
 *
 * Tokenizer-grade: a real BPE tokenizer (`gpt-tokenizer`, o200k_base, the encoding of current
 * OpenAI models; Qwen's and Claude's vocabularies count within a few percent of it on code and
 * prose) counts the text. It costs ~65 MB of memory and ~150 ms to load, so it is loaded only
 * when an estimate is first needed (most backends report real usage, and then none is): the relay
 * calls `useTokenizer()` at start, and the first estimate after that loads it, once. So every
 * estimate a relay makes is tokenizer-grade, deterministically. `count_tokens` loads it off the
 * request's own tick (`loadTokenizer()`). Without `useTokenizer()` (plain unit use), or if it
 * cannot be loaded, a cheap approximation stands in (about 4 characters per token for Latin text,
 * 1 per CJK character).
 * Texts past `EXACT_LIMIT` characters are counted on samples and scaled, so one estimate never
 * costs more than a few milliseconds. Figures are flagged `estimated` wherever they are used.
 */
import { createRequire } from 'node:module';
import type { ChatMessage, ChatRequest, ContentPart } from './model';

const PER_MESSAGE = 4;
const PER_IMAGE = 85;
/** Longer texts are counted on three samples of `SAMPLE` characters and scaled. */
export const EXACT_LIMIT = 24_000;
const SAMPLE = 8_000;

type Counter = (text: string) => number;
let counter: Counter | undefined;
/** Tried already (loaded, or known not to load). */
let tried = false;
/** The first estimate loads the tokenizer (set by the relay's start). */
let onFirstUse = false;
let loading: Promise<void> | undefined;

function loadNow(): void {
  if (tried) return;
  tried = true;
  try {
    const mod = createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as { countTokens(t: string): number };
    counter = (t) => mod.countTokens(t);
  } catch {
    counter = undefined; // not installed: the approximation stays
  }
}

/** From now on the first estimate loads the tokenizer (the relay's start; costs nothing until then). */
export function useTokenizer(): void {
  onFirstUse = true;
}

/** Load the tokenizer (once; resolves when it is usable or known not to be). */
export function loadTokenizer(): Promise<void> {
  loading ??= tried
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
        // A macrotask later: the request that asked first is not held up by the load.
        setImmediate(() => {
          loadNow();
          resolve();
        });
      });
  return loading;
}

/** Is the tokenizer in use (false: the approximation)? */
export function tokenizerReady(): boolean {
  return counter !== undefined;
}

/** The approximation (also the fallback): ~4 characters per token, 1 per CJK character. */
export function approximateTokens(text: string): number {
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

/** Estimated tokens of a text. */
export function estimateTokens(text: string): number {
  if (!text) return 0;
  const count = counter;
  if (!count) {
    if (!onFirstUse || tried) return approximateTokens(text);
    loadNow();
    return estimateTokens(text);
  }
  if (text.length <= EXACT_LIMIT) return count(text);
  // Start, middle and end, scaled to the whole length.
  const mid = Math.floor((text.length - SAMPLE) / 2);
  const sampled = count(text.slice(0, SAMPLE)) + count(text.slice(mid, mid + SAMPLE)) + count(text.slice(-SAMPLE));
  return Math.round((sampled * text.length) / (3 * SAMPLE));
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
