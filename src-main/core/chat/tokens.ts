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
 * Texts past `EXACT_LIMIT` characters are counted on samples and scaled (`TextTally`, which also
 * estimates a streamed answer without holding all of it), so one estimate never costs more than a
 * few milliseconds. Figures are flagged `estimated` wherever they are used.
 */
import { createRequire } from 'node:module';
import type { ChatMessage, ChatRequest, ContentPart } from './model';

const PER_MESSAGE = 4;
const PER_IMAGE = 85;
/** Longer texts are counted on samples of `SAMPLE` characters and scaled (`TextTally`). */
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
  if (text.length <= EXACT_LIMIT) return countShort(text);
  const tally = new TextTally();
  tally.add(text);
  return tally.count();
}

/** A text of at most `EXACT_LIMIT` characters: counted whole (or approximated). */
function countShort(text: string): number {
  const count = counter;
  if (!count) {
    if (!onFirstUse || tried) return approximateTokens(text);
    loadNow();
    return countShort(text);
  }
  return count(text);
}

/** Sampled blocks a `TextTally` keeps at most (besides the last `SAMPLE` characters). */
const MAX_SAMPLES = 4;

/**
 * A text seen piece by piece (a streamed answer), estimated as `estimateTokens` estimates it whole,
 * holding a bounded part of it: the whole text while it is at most `EXACT_LIMIT` characters (then
 * counted exactly), past that at most `MAX_SAMPLES` blocks of `SAMPLE` characters, evenly spread
 * (block 0, then every `stride`-th, the stride doubling whenever one more would be kept) and the
 * last `SAMPLE` characters; the count is the samples' tokens scaled to the whole length. So a
 * 600 KB answer costs ~50 KB while it streams, not 600 KB, and one estimate never counts more
 * than five samples. Long texts given whole take the same path, so a text gets the same figure
 * whether it arrived in one piece or many.
 */
export class TextTally {
  /** Characters seen. */
  length = 0;
  /** The whole text, while it is at most `EXACT_LIMIT` characters. */
  private whole: string | undefined = '';
  private readonly samples: { index: number; text: string }[] = [];
  private stride = 1;
  /** Blocks completed. */
  private blocks = 0;
  private prev = '';
  private cur = '';

  add(piece: string): void {
    if (!piece) return;
    this.length += piece.length;
    if (this.whole !== undefined) {
      if (this.length <= EXACT_LIMIT) {
        this.whole += piece;
        return;
      }
      piece = this.whole + piece;
      this.whole = undefined;
    }
    const s = this.cur + piece;
    let i = 0;
    for (; s.length - i >= SAMPLE; i += SAMPLE) this.complete(s.slice(i, i + SAMPLE));
    this.cur = s.slice(i);
  }

  /** The whole text, while it is short enough to be held (at most `EXACT_LIMIT` characters). */
  get text(): string | undefined {
    return this.whole;
  }

  /** Characters held (the whole text while short; else the samples and the last block and a half). */
  get held(): number {
    if (this.whole !== undefined) return this.whole.length;
    let n = this.prev.length + this.cur.length;
    for (const s of this.samples) n += s.text.length;
    return n;
  }

  count(): number {
    if (this.whole !== undefined) return this.whole ? countShort(this.whole) : 0;
    let tokens = countShort((this.prev + this.cur).slice(-SAMPLE));
    let chars = SAMPLE;
    for (const s of this.samples) {
      tokens += countShort(s.text);
      chars += s.text.length;
    }
    return Math.round((tokens * this.length) / chars);
  }

  private complete(block: string): void {
    const index = this.blocks++;
    this.prev = block;
    if (index % this.stride !== 0) return;
    this.samples.push({ index, text: block });
    if (this.samples.length <= MAX_SAMPLES) return;
    this.stride *= 2;
    let kept = 0;
    for (const s of this.samples) if (s.index % this.stride === 0) this.samples[kept++] = s;
    this.samples.length = kept;
  }
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
