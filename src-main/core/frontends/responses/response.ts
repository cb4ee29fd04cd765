/**
 * Neutral `ChatEvent`s → OpenAI Responses: the streaming events (each with a `sequence_number`)
 * and the final response object. The same encoder serves HTTP SSE, WebSocket and non-streaming
 * answers (which only use `response()`).
 *
 * Items on the wire, one open at a time:
 * - reasoning: `output_item.added` → `reasoning_summary_part.added` → `reasoning_summary_text.delta`*
 *   → `reasoning_summary_text.done` → `reasoning_summary_part.done` → `output_item.done`
 * - message: `output_item.added` → `content_part.added` → `output_text.delta`* → `output_text.done`
 *   → `content_part.done` → `output_item.done`
 * - function_call: `output_item.added` → `function_call_arguments.delta`* →
 *   `function_call_arguments.done` → `output_item.done`
 * - custom_tool_call (a `custom` tool): buffered, then `output_item.added` →
 *   `custom_tool_call_input.delta` → `custom_tool_call_input.done` → `output_item.done`
 * Then `response.completed` (or `response.incomplete` when cut by max_output_tokens / a filter).
 */
import type { ChatEvent, ChatMessage, FinishReason, Usage } from '../../chat/model';
import type { RelayError } from '../../errors';
import { isObject, newId, type Json } from '../shared/check';
import type { ResponsesEcho } from './request';

export interface ResponsesEvent extends Json {
  type: string;
  sequence_number: number;
}

type Item =
  | { kind: 'reasoning'; id: string; text: string }
  | { kind: 'message'; id: string; text: string }
  | { kind: 'call'; id: string; callId: string; name: string; args: string; callIndex: number; custom: boolean };

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

/** The code put in `response.error.code` / error events for a RelayError. */
export function responsesErrorCode(e: RelayError): string {
  if (e.status === 429) return 'rate_limit_exceeded';
  if (e.status >= 500 && e.code === 'upstream_error') return 'server_error';
  return e.code;
}

export class ResponsesEncoder {
  readonly id: string;
  readonly createdAt: number;
  private seq = 0;
  private readonly items: Item[] = [];
  private open = -1;
  private finish: FinishReason | undefined;
  private usage: Usage | undefined;
  private status: 'in_progress' | 'completed' | 'incomplete' | 'failed' = 'in_progress';
  private failure: { code: string; message: string } | null = null;

  constructor(
    private readonly model: string,
    private readonly echo: ResponsesEcho,
    private readonly customTools: Set<string>,
    /** The dispatcher's prompt figure, read only when no usage came. */
    private readonly inputTokensEstimate: () => number,
    opts: { id?: string; now?: number } = {},
  ) {
    this.id = opts.id ?? newId('resp_');
    this.createdAt = Math.floor((opts.now ?? Date.now()) / 1000);
  }

  private ev(type: string, body: Json): ResponsesEvent {
    return { type, sequence_number: this.seq++, ...body };
  }

  start(): ResponsesEvent[] {
    const snapshot = this.response();
    return [this.ev('response.created', { response: snapshot }), this.ev('response.in_progress', { response: snapshot })];
  }

  private itemJson(item: Item, done: boolean): Json {
    const status = done ? 'completed' : 'in_progress';
    switch (item.kind) {
      case 'reasoning':
        return { id: item.id, type: 'reasoning', summary: done ? [{ type: 'summary_text', text: item.text }] : [] };
      case 'message':
        return {
          id: item.id,
          type: 'message',
          status,
          role: 'assistant',
          content: done ? [{ type: 'output_text', annotations: [], logprobs: [], text: item.text }] : [],
        };
      case 'call':
        if (item.custom) {
          return { id: item.id, type: 'custom_tool_call', status, call_id: item.callId, name: item.name, input: done ? customInput(item.args) : '' };
        }
        return { id: item.id, type: 'function_call', status, call_id: item.callId, name: item.name, arguments: done ? item.args : '' };
    }
  }

  private close(out: ResponsesEvent[]): void {
    if (this.open < 0) return;
    const index = this.open;
    const item = this.items[index];
    this.open = -1;
    const ref = { item_id: item.id, output_index: index };
    if (item.kind === 'reasoning') {
      out.push(this.ev('response.reasoning_summary_text.done', { ...ref, summary_index: 0, text: item.text }));
      out.push(this.ev('response.reasoning_summary_part.done', { ...ref, summary_index: 0, part: { type: 'summary_text', text: item.text } }));
    } else if (item.kind === 'message') {
      out.push(this.ev('response.output_text.done', { ...ref, content_index: 0, text: item.text, logprobs: [] }));
      out.push(this.ev('response.content_part.done', { ...ref, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: item.text } }));
    } else if (item.custom) {
      // Custom calls are announced only now: their input is the decoded `input` argument.
      out.push(this.ev('response.output_item.added', { output_index: index, item: this.itemJson(item, false) }));
      const input = customInput(item.args);
      out.push(this.ev('response.custom_tool_call_input.delta', { ...ref, delta: input }));
      out.push(this.ev('response.custom_tool_call_input.done', { ...ref, input }));
    } else {
      out.push(this.ev('response.function_call_arguments.done', { ...ref, name: item.name, arguments: item.args }));
    }
    out.push(this.ev('response.output_item.done', { output_index: index, item: this.itemJson(item, true) }));
  }

  private openItem(item: Item, out: ResponsesEvent[]): number {
    this.close(out);
    this.items.push(item);
    const index = this.items.length - 1;
    this.open = index;
    if (item.kind === 'call' && item.custom) return index;
    out.push(this.ev('response.output_item.added', { output_index: index, item: this.itemJson(item, false) }));
    const ref = { item_id: item.id, output_index: index };
    if (item.kind === 'reasoning') out.push(this.ev('response.reasoning_summary_part.added', { ...ref, summary_index: 0, part: { type: 'summary_text', text: '' } }));
    if (item.kind === 'message') out.push(this.ev('response.content_part.added', { ...ref, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } }));
    return index;
  }

  push(ev: ChatEvent): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    const current = this.open >= 0 ? this.items[this.open] : undefined;
    switch (ev.type) {
      case 'text': {
        if (!ev.text) break;
        const index = current?.kind === 'message' ? this.open : this.openItem({ kind: 'message', id: newId('msg_'), text: '' }, out);
        const item = this.items[index] as { text: string; id: string };
        item.text += ev.text;
        out.push(this.ev('response.output_text.delta', { item_id: item.id, output_index: index, content_index: 0, delta: ev.text, logprobs: [] }));
        break;
      }
      case 'reasoning': {
        if (!ev.text) break;
        const index = current?.kind === 'reasoning' ? this.open : this.openItem({ kind: 'reasoning', id: newId('rs_'), text: '' }, out);
        const item = this.items[index] as { text: string; id: string };
        item.text += ev.text;
        out.push(this.ev('response.reasoning_summary_text.delta', { item_id: item.id, output_index: index, summary_index: 0, delta: ev.text }));
        break;
      }
      case 'tool_call': {
        let index: number;
        if (current?.kind === 'call' && current.callIndex === ev.index) index = this.open;
        else {
          const earlier = this.items.findIndex((it) => it.kind === 'call' && it.callIndex === ev.index);
          if (earlier >= 0) {
            // Late fragment of an already-closed call: only the final response object can carry it.
            (this.items[earlier] as { args: string }).args += ev.argumentsDelta;
            break;
          }
          const name = ev.name ?? '';
          const custom = this.customTools.has(name);
          index = this.openItem(
            { kind: 'call', id: newId(custom ? 'ctc_' : 'fc_'), callId: ev.id || newId('call_'), name, args: '', callIndex: ev.index, custom },
            out,
          );
        }
        const item = this.items[index] as Extract<Item, { kind: 'call' }>;
        if (ev.argumentsDelta) {
          item.args += ev.argumentsDelta;
          if (!item.custom) out.push(this.ev('response.function_call_arguments.delta', { item_id: item.id, output_index: index, delta: ev.argumentsDelta }));
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

  private finalUsage(): ResponsesUsage {
    const input = this.usage ? this.usage.promptTokens : this.inputTokensEstimate();
    // The figures are the stream's usage event (decided by the dispatcher); without one, the
    // dispatcher's prompt figure given at construction and nothing counted for the output.
    const output = this.usage ? this.usage.completionTokens : 0;
    return {
      input_tokens: input,
      input_tokens_details: { cached_tokens: this.usage?.cachedTokens ?? 0 },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: this.usage?.reasoningTokens ?? 0 },
      total_tokens: input + output,
    };
  }

  /** Close the open item and end the response. */
  end(): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    this.close(out);
    const incomplete = this.finish === 'length' || this.finish === 'content_filter';
    this.status = incomplete ? 'incomplete' : 'completed';
    out.push(this.ev(incomplete ? 'response.incomplete' : 'response.completed', { response: this.response() }));
    return out;
  }

  /** A failure after the stream started: `response.failed` with the error in the response object. */
  fail(e: RelayError): ResponsesEvent[] {
    const out: ResponsesEvent[] = [];
    this.close(out);
    this.status = 'failed';
    this.failure = { code: responsesErrorCode(e), message: e.message };
    out.push(this.ev('response.failed', { response: this.response() }));
    return out;
  }

  outputItems(): Json[] {
    return this.items.map((it, i) => this.itemJson(it, i !== this.open));
  }

  /** The full response object (the non-streaming body, and the payload of lifecycle events). */
  response(): Json {
    const done = this.status !== 'in_progress';
    const output = this.outputItems();
    return {
      id: this.id,
      object: 'response',
      created_at: this.createdAt,
      status: this.status,
      ...(this.status === 'completed' ? { completed_at: Math.floor(Date.now() / 1000) } : {}),
      background: false,
      error: this.failure,
      incomplete_details: this.status === 'incomplete' ? { reason: this.finish === 'length' ? 'max_output_tokens' : 'content_filter' } : null,
      instructions: this.echo.instructions,
      max_output_tokens: this.echo.max_output_tokens,
      model: this.model,
      output,
      output_text: output
        .filter((o) => o.type === 'message')
        .map((o) => ((o.content as Json[]) ?? []).map((c) => String(c.text ?? '')).join(''))
        .join(''),
      parallel_tool_calls: this.echo.parallel_tool_calls,
      previous_response_id: this.echo.previous_response_id,
      reasoning: this.echo.reasoning,
      store: this.echo.store,
      temperature: this.echo.temperature,
      text: this.echo.text,
      tool_choice: this.echo.tool_choice,
      tools: this.echo.tools,
      top_p: this.echo.top_p,
      truncation: 'disabled',
      usage: done && this.status !== 'failed' ? this.finalUsage() : null,
      user: this.echo.user,
      metadata: this.echo.metadata,
    };
  }

  /** The assistant turn this response produced, for the conversation store. */
  assistantMessage(): ChatMessage {
    const m: ChatMessage = { role: 'assistant', content: [] };
    let reasoning = '';
    for (const it of this.items) {
      if (it.kind === 'message') m.content.push({ type: 'text', text: it.text });
      else if (it.kind === 'reasoning') reasoning += it.text;
      else (m.toolCalls ??= []).push({ id: it.callId, name: it.name, arguments: it.args });
    }
    if (reasoning) m.reasoning = reasoning;
    return m;
  }
}

/** A custom tool's raw input: the `input` string argument (or the raw text when it is not JSON). */
function customInput(args: string): string {
  try {
    const v: unknown = JSON.parse(args);
    if (isObject(v) && typeof v.input === 'string') return v.input;
  } catch {
    /* not JSON: the model wrote the raw input */
  }
  return args;
}
