/**
 * Prompt-based tool calling for backends without native tools (Lingma), used only when an alias
 * sets `options.toolEmulation: true`. A translation step of its own, neutral → neutral:
 *
 * - the request: tool definitions become a system-prompt addendum with a strict output format
 *   (`<tool_call>{"name":...,"arguments":{...}}</tool_call>`); earlier tool calls are rendered in
 *   that same format and tool results as `<tool_result>` text, so the history reads naturally;
 *   `tools`/`toolChoice` are removed;
 * - the answer: the model's text is parsed back into `tool_call` events while it streams. Text
 *   that might be the start of a marker is held back until it is decided; a block that is not a
 *   well-formed call of a declared tool is passed through as plain text, never as an error.
 *
 * The dispatcher applies it (see `applyToolEmulation`).
 */
import { randomBytes } from 'node:crypto';
import type { ChatEvent, ChatMessage, ChatRequest, ContentPart, ToolDef } from './model';

export const CALL_OPEN = '<tool_call>';
export const CALL_CLOSE = '</tool_call>';

export interface ToolEmulation {
  /** The request to send to the backend: no `tools`, tools described in the system prompt. */
  request: ChatRequest;
  /** Wraps the backend's events: turns emulated calls in the text into `tool_call` events. */
  transform(events: AsyncIterable<ChatEvent>): AsyncIterable<ChatEvent>;
}

/** Does this request involve tools at all (definitions, or tool calls/results in its history)? */
export function requestUsesTools(req: ChatRequest): boolean {
  if (req.tools?.length) return true;
  return req.messages.some((m) => m.role === 'tool' || (m.toolCalls?.length ?? 0) > 0);
}

function toolsAddendum(tools: ToolDef[], choice: ChatRequest['toolChoice']): string {
  const lines = [
    '# Tools',
    '',
    'You can call the tools listed below. To call a tool, write a block in exactly this format:',
    '',
    CALL_OPEN,
    '{"name": "<tool name>", "arguments": {<arguments as a JSON object>}}',
    CALL_CLOSE,
    '',
    'Rules:',
    '- The content of the block must be one valid JSON object with the keys "name" and "arguments"; "arguments" must follow the tool\'s parameter schema.',
    '- You may write several blocks to call several tools. Write nothing after the last block: stop and wait.',
    '- The results come back in the next message as <tool_result> blocks. Never write <tool_result> blocks yourself.',
    '- If no tool is needed, answer normally without any block.',
  ];
  if (choice === 'required') lines.push('- In this answer you MUST call at least one tool.');
  else if (choice && typeof choice === 'object') lines.push(`- In this answer you MUST call the tool "${choice.name}".`);
  lines.push('', '## Available tools');
  for (const t of tools) {
    lines.push('', `### ${t.name}`);
    if (t.description) lines.push(t.description);
    lines.push(`Parameters (JSON Schema): ${JSON.stringify(t.parameters ?? { type: 'object', properties: {} })}`);
  }
  return lines.join('\n');
}

function renderCall(name: string, args: string): string {
  let parsed: unknown;
  try {
    parsed = args.trim() === '' ? {} : JSON.parse(args);
  } catch {
    parsed = args;
  }
  return `${CALL_OPEN}\n${JSON.stringify({ name, arguments: parsed })}\n${CALL_CLOSE}`;
}

function escapeAttr(s: string): string {
  return s.replace(/[&"<>]/g, (c) => ({ '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;' })[c]!);
}

function renderResult(m: ChatMessage): ContentPart[] {
  const attrs = [m.toolName ? `name="${escapeAttr(m.toolName)}"` : '', m.toolCallId ? `id="${escapeAttr(m.toolCallId)}"` : '', m.isError ? 'status="error"' : '']
    .filter(Boolean)
    .join(' ');
  const parts: ContentPart[] = [{ type: 'text', text: `<tool_result${attrs ? ' ' + attrs : ''}>\n` }];
  for (const p of m.content) parts.push(p);
  parts.push({ type: 'text', text: '\n</tool_result>' });
  return parts;
}

/** Merge adjacent text parts so backends see plain, readable text. */
function mergeText(parts: ContentPart[]): ContentPart[] {
  const out: ContentPart[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (p.type === 'text' && last?.type === 'text') out[out.length - 1] = { type: 'text', text: last.text + p.text };
    else out.push(p);
  }
  return out;
}

function rewriteMessages(req: ChatRequest, addendum: string | undefined): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of req.messages) {
    if (m.role === 'tool') {
      const parts = renderResult(m);
      const last = out[out.length - 1];
      // Results of one turn travel together in one user message.
      if (last && last.role === 'user' && (last as ChatMessage & { _results?: true })._results) {
        last.content = mergeText([...last.content, { type: 'text', text: '\n' }, ...parts]);
      } else {
        const msg: ChatMessage & { _results?: true } = { role: 'user', content: mergeText(parts), _results: true };
        out.push(msg);
      }
      continue;
    }
    if (m.role === 'assistant' && m.toolCalls?.length) {
      const calls = m.toolCalls.map((c) => renderCall(c.name, c.arguments)).join('\n');
      const text = m.content.length ? [...m.content, { type: 'text' as const, text: '\n' + calls }] : [{ type: 'text' as const, text: calls }];
      const { toolCalls: _drop, ...rest } = m;
      out.push({ ...rest, content: mergeText(text) });
      continue;
    }
    out.push({ ...m });
  }
  for (const m of out) delete (m as ChatMessage & { _results?: true })._results;
  if (addendum) {
    const sys = out.find((m) => m.role === 'system');
    if (sys) sys.content = mergeText([...sys.content, { type: 'text', text: '\n\n' + addendum }]);
    else out.unshift({ role: 'system', content: [{ type: 'text', text: addendum }] });
  }
  return out;
}

function newCallId(): string {
  return 'call_' + randomBytes(12).toString('hex');
}

interface ParsedCall {
  name: string;
  arguments: string;
}

function parseOneCall(v: unknown, toolNames: Set<string>): ParsedCall | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const name = o.name;
  if (typeof name !== 'string' || !toolNames.has(name)) return undefined;
  let args = o.arguments ?? o.parameters ?? o.input ?? {};
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return undefined;
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return undefined;
  return { name, arguments: JSON.stringify(args) };
}

/**
 * Parse one block's content: a call object, or an array of them (some models batch calls).
 * Undefined when it is not entirely well-formed calls of declared tools.
 */
export function parseCallBlock(body: string, toolNames: Set<string>): ParsedCall[] | undefined {
  let text = body.trim();
  const fence = /^```[\w-]*\s*\n?([\s\S]*?)\n?```$/.exec(text);
  if (fence) text = fence[1].trim();
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return undefined;
  const calls: ParsedCall[] = [];
  for (const item of list) {
    const c = parseOneCall(item, toolNames);
    if (!c) return undefined;
    calls.push(c);
  }
  return calls;
}

/** A code fence that opens right before a call block (models like to wrap calls in one). */
const TRAILING_FENCE = /(^|\n)[ \t]*`{1,3}[\w-]*[ \t]*$/;

/** Length of the longest suffix of `s` that is a proper prefix of `marker`. */
function partialMarkerSuffix(s: string, marker: string): number {
  const max = Math.min(s.length, marker.length - 1);
  for (let n = max; n > 0; n--) if (marker.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

/**
 * The streaming parser: feed text, get text and call events back. Exposed for tests; the
 * transform drives it.
 */
export class ToolCallParser {
  private pending = '';
  private inCall = false;
  /** Whitespace trimmed before the open block: given back if the block is not a call. */
  private gap = '';
  private calls = 0;

  constructor(private readonly toolNames: Set<string>) {}

  get callCount(): number {
    return this.calls;
  }

  private text(t: string, out: ChatEvent[]): void {
    // Once calls were made, whitespace and code fences between/after blocks are noise.
    if (!t || (this.calls > 0 && /^[\s`]*$/.test(t))) return;
    out.push({ type: 'text', text: t });
  }

  private call(body: string, out: ChatEvent[], closed: boolean): void {
    const parsed = parseCallBlock(body, this.toolNames);
    const gap = this.gap;
    this.gap = '';
    if (!parsed) {
      this.text(gap + CALL_OPEN + body + (closed ? CALL_CLOSE : ''), out);
      return;
    }
    for (const c of parsed) out.push({ type: 'tool_call', index: this.calls++, id: newCallId(), name: c.name, argumentsDelta: c.arguments });
  }

  feed(chunk: string): ChatEvent[] {
    const out: ChatEvent[] = [];
    this.pending += chunk;
    for (;;) {
      if (this.inCall) {
        const end = this.pending.indexOf(CALL_CLOSE);
        if (end < 0) break;
        this.call(this.pending.slice(0, end), out, true);
        this.pending = this.pending.slice(end + CALL_CLOSE.length);
        this.inCall = false;
        continue;
      }
      const start = this.pending.indexOf(CALL_OPEN);
      if (start >= 0) {
        const before = this.pending.slice(0, start);
        let trimmed = before.replace(/\s+$/, '');
        const fence = TRAILING_FENCE.exec(trimmed);
        if (fence) trimmed = trimmed.slice(0, fence.index).replace(/\s+$/, '');
        this.gap = before.slice(trimmed.length);
        this.text(trimmed, out);
        this.pending = this.pending.slice(start + CALL_OPEN.length);
        this.inCall = true;
        continue;
      }
      const hold = partialMarkerSuffix(this.pending, CALL_OPEN);
      // Trailing whitespace may precede a marker: hold it too, so it can be trimmed.
      let emitEnd = this.pending.length - hold;
      while (emitEnd > 0 && /\s/.test(this.pending[emitEnd - 1])) emitEnd--;
      // A fence opening at the end may belong to a call block that follows: hold it too.
      const fence = TRAILING_FENCE.exec(this.pending.slice(0, emitEnd));
      if (fence) {
        emitEnd = fence.index;
        while (emitEnd > 0 && /\s/.test(this.pending[emitEnd - 1])) emitEnd--;
      }
      this.text(this.pending.slice(0, emitEnd), out);
      this.pending = this.pending.slice(emitEnd);
      break;
    }
    return out;
  }

  /** The source ended: decide whatever is held back. */
  end(): ChatEvent[] {
    const out: ChatEvent[] = [];
    if (this.inCall) {
      // Unterminated block: models sometimes drop the closing tag. Accept it if it parses.
      this.call(this.pending, out, false);
    } else this.text(this.pending, out);
    this.pending = '';
    this.inCall = false;
    return out;
  }
}

/**
 * Rewrite a request for a backend without native tools, and get the matching event transform.
 * The dispatcher calls it for a target whose provider has `capabilities.tools === false` when the
 * target's `options.toolEmulation` is true and `requestUsesTools(req)`; it sends `request` to the
 * instance and iterates `transform(instance.chat(request, ctx))` instead of the raw events.
 */
export function applyToolEmulation(req: ChatRequest): ToolEmulation {
  const tools = req.toolChoice === 'none' ? [] : (req.tools ?? []);
  const addendum = tools.length ? toolsAddendum(tools, req.toolChoice) : undefined;
  const { tools: _t, toolChoice: _c, parallelToolCalls: _p, ...rest } = req;
  const request: ChatRequest = { ...rest, messages: rewriteMessages(req, addendum) };
  const toolNames = new Set(tools.map((t) => t.name));

  async function* transform(events: AsyncIterable<ChatEvent>): AsyncIterable<ChatEvent> {
    const parser = new ToolCallParser(toolNames);
    let yielded = false;
    for await (const ev of events) {
      if (ev.type === 'text') {
        if (toolNames.size === 0) {
          yielded = true;
          yield ev;
          continue;
        }
        const out = parser.feed(ev.text);
        if (out.length === 0 && !yielded) {
          // The backend answered but everything is held back (an answer that opens with a call):
          // one empty text event tells the dispatcher the first byte arrived, so a long call
          // block is not mistaken for a silent backend. Encoders skip empty text.
          yielded = true;
          yield { type: 'text', text: '' };
          continue;
        }
        if (out.length) yielded = true;
        yield* out;
      } else if (ev.type === 'finish') {
        yield* parser.end();
        yield { type: 'finish', reason: parser.callCount > 0 && ev.reason === 'stop' ? 'tool_calls' : ev.reason };
      } else {
        if (ev.type === 'usage') yield* parser.end();
        yielded = true;
        yield ev;
      }
    }
  }

  return { request, transform };
}
