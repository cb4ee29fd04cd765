/**
 * OpenAI chat completions <-> the neutral chat model. Pure functions: no I/O, no fastify.
 * Request: validated body -> ChatRequest. Response: ChatResult -> `chat.completion`, or ChatEvents
 * -> `chat.completion.chunk` SSE frames (pre-rendered prefix per stream, one JSON.stringify per
 * piece of text; nothing is parsed back).
 */
import type {
  ChatEvent,
  ChatMessage,
  ChatRequest,
  ChatResult,
  ContentPart,
  EmbeddingsRequest,
  EmbeddingsResult,
  FinishReason,
  ToolChoice,
  ToolDef,
  Usage,
} from '../../chat/model';
import { errors, type RelayError } from '../../errors';
import { chatCheck, embeddingsCheck, firstProblem } from './schema';

export interface ParsedChat {
  request: ChatRequest;
  /** `stream_options.include_usage`. */
  includeUsage: boolean;
}

type Body = Record<string, any>;

function toParts(content: unknown, path: string): ContentPart[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  const out: ContentPart[] = [];
  (content as Body[]).forEach((p, j) => {
    switch (p.type) {
      case 'text':
      case 'input_text':
      case 'refusal':
        if (typeof (p.text ?? p.refusal) !== 'string') throw errors.invalid(`${path}[${j}].text: expected a string`, `${path}[${j}].text`);
        out.push({ type: 'text', text: p.text ?? p.refusal });
        break;
      case 'image_url': {
        const img = p.image_url;
        const url = typeof img === 'string' ? img : img?.url;
        if (typeof url !== 'string' || !/^(https?:|data:)/i.test(url)) {
          throw errors.invalid(`${path}[${j}].image_url.url: expected an http(s) or data: URL`, `${path}[${j}].image_url.url`);
        }
        const part: ContentPart = { type: 'image', url };
        const m = /^data:([^;,]+)[;,]/i.exec(url);
        if (m) part.mediaType = m[1];
        if (typeof img === 'object' && img.detail) part.detail = img.detail;
        out.push(part);
        break;
      }
      default:
        throw errors.invalid(
          `${path}[${j}].type: content parts of type '${String(p.type).slice(0, 40)}' are not supported (use 'text' or 'image_url')`,
          `${path}[${j}].type`,
        );
    }
  });
  return out;
}

function toMessage(m: Body, i: number): ChatMessage {
  const path = `messages[${i}]`;
  const content = toParts(m.content, `${path}.content`);
  switch (m.role) {
    case 'system':
    case 'developer':
      return m.name ? { role: 'system', content, name: m.name } : { role: 'system', content };
    case 'user':
      return m.name ? { role: 'user', content, name: m.name } : { role: 'user', content };
    case 'assistant': {
      const out: ChatMessage = { role: 'assistant', content };
      if (m.name) out.name = m.name;
      if (Array.isArray(m.tool_calls) && m.tool_calls.length) {
        out.toolCalls = m.tool_calls.map((c: Body) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments ?? '' }));
      } else if (m.function_call) {
        out.toolCalls = [{ id: m.function_call.name, name: m.function_call.name, arguments: m.function_call.arguments ?? '' }];
      }
      if (typeof m.reasoning_content === 'string' && m.reasoning_content) out.reasoning = m.reasoning_content;
      return out;
    }
    case 'tool':
      if (typeof m.tool_call_id !== 'string' || !m.tool_call_id) {
        throw errors.invalid(`${path}.tool_call_id: required for role 'tool'`, `${path}.tool_call_id`, 'missing_required_parameter');
      }
      return m.name ? { role: 'tool', content, toolCallId: m.tool_call_id, toolName: m.name } : { role: 'tool', content, toolCallId: m.tool_call_id };
    case 'function':
      // Legacy: the function's answer; its call id was the function name.
      if (typeof m.name !== 'string' || !m.name) throw errors.invalid(`${path}.name: required for role 'function'`, `${path}.name`, 'missing_required_parameter');
      return { role: 'tool', content, toolCallId: m.name, toolName: m.name };
    default:
      throw errors.invalid(`${path}.role: unknown role`, `${path}.role`);
  }
}

function toolChoiceOf(tc: unknown): ToolChoice | undefined {
  if (tc === null || tc === undefined) return undefined;
  if (typeof tc === 'string') return tc as ToolChoice;
  const o = tc as Body;
  const name = o.function?.name ?? o.name;
  return typeof name === 'string' ? { name } : undefined;
}

/** Validate and translate a chat completions body. Throws a 400 RelayError naming the field. */
export function parseChatRequest(body: unknown, sessionHeader?: string): ParsedChat {
  if (!chatCheck.Check(body)) throw firstProblem(chatCheck, body);
  const b = body as Body;
  if (b.n !== undefined && b.n !== null && b.n !== 1) throw errors.invalid('n: only n=1 is supported', 'n', 'unsupported_value');
  const req: ChatRequest = {
    model: b.model,
    messages: (b.messages as Body[]).map(toMessage),
    stream: b.stream === true,
  };
  const tools: ToolDef[] | undefined = b.tools?.length
    ? (b.tools as Body[]).map((t) => fnDef(t.function))
    : b.functions?.length
      ? (b.functions as Body[]).map(fnDef)
      : undefined;
  if (tools) req.tools = tools;
  const tc = toolChoiceOf(b.tool_choice ?? b.function_call);
  if (tc) {
    if (typeof tc === 'object' && !tools?.some((t) => t.name === tc.name)) {
      throw errors.invalid(`tool_choice: names a function '${tc.name.slice(0, 64)}' that is not in tools`, 'tool_choice');
    }
    req.toolChoice = tc;
  }
  if (typeof b.parallel_tool_calls === 'boolean') req.parallelToolCalls = b.parallel_tool_calls;
  const maxTokens = b.max_completion_tokens ?? b.max_tokens;
  if (typeof maxTokens === 'number') req.maxTokens = maxTokens;
  if (typeof b.temperature === 'number') req.temperature = b.temperature;
  if (typeof b.top_p === 'number') req.topP = b.top_p;
  if (typeof b.top_k === 'number') req.topK = b.top_k;
  if (typeof b.stop === 'string') req.stop = [b.stop];
  else if (Array.isArray(b.stop) && b.stop.length) req.stop = b.stop;
  if (typeof b.seed === 'number') req.seed = b.seed;
  if (b.response_format && b.response_format.type !== 'text') req.responseFormat = b.response_format;
  if (typeof b.reasoning_effort === 'string') req.reasoning = { effort: b.reasoning_effort as NonNullable<ChatRequest['reasoning']>['effort'] };
  if (typeof b.user === 'string' && b.user) req.user = b.user;
  const session = typeof sessionHeader === 'string' && sessionHeader ? sessionHeader : b.prompt_cache_key;
  if (typeof session === 'string' && session) req.sessionKey = session.slice(0, 256);
  return { request: req, includeUsage: b.stream === true && b.stream_options?.include_usage === true };
}

function fnDef(f: Body): ToolDef {
  const t: ToolDef = { name: f.name };
  if (typeof f.description === 'string') t.description = f.description;
  if (f.parameters) t.parameters = f.parameters;
  return t;
}

export function usageBody(u: Usage): Record<string, unknown> {
  const out: Record<string, unknown> = {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.promptTokens + u.completionTokens,
  };
  if (u.cachedTokens !== undefined) out.prompt_tokens_details = { cached_tokens: u.cachedTokens };
  if (u.reasoningTokens !== undefined) out.completion_tokens_details = { reasoning_tokens: u.reasoningTokens };
  return out;
}

/** A whole `chat.completion` object. */
export function completionBody(id: string, created: number, model: string, r: ChatResult, usage: Usage): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: r.text || (r.toolCalls.length ? null : '') };
  if (r.reasoning) message.reasoning_content = r.reasoning;
  if (r.toolCalls.length) {
    message.tool_calls = r.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  }
  return {
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: r.finishReason }],
    usage: usageBody(usage),
    system_fingerprint: null,
  };
}

/**
 * Renders chunk frames for one stream. The constant part of every chunk (id, created, model) is
 * serialised once; each event costs one JSON.stringify of its text.
 */
export class ChunkRenderer {
  private readonly head: string;
  private readonly tail: string;
  private roleSent = false;
  private readonly includeUsage: boolean;
  finishReason: FinishReason | undefined;
  usage: Usage | undefined;

  constructor(id: string, created: number, model: string, includeUsage: boolean) {
    this.includeUsage = includeUsage;
    this.head = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"system_fingerprint":null,"choices":[{"index":0,"delta":{`;
    this.tail = includeUsage ? `,"logprobs":null}],"usage":null}\n\n` : `,"logprobs":null}]}\n\n`;
  }

  private role(): string {
    if (this.roleSent) return '';
    this.roleSent = true;
    return '"role":"assistant",';
  }

  /** The frame for one event, or '' when the event produces none (usage/finish are held for the end). */
  frame(ev: ChatEvent): string {
    switch (ev.type) {
      case 'text':
        return `${this.head}${this.role()}"content":${JSON.stringify(ev.text)}},"finish_reason":null${this.tail}`;
      case 'reasoning':
        return `${this.head}${this.role()}"reasoning_content":${JSON.stringify(ev.text)}},"finish_reason":null${this.tail}`;
      case 'tool_call': {
        let call = `{"index":${ev.index}`;
        if (ev.id !== undefined) call += `,"id":${JSON.stringify(ev.id)},"type":"function"`;
        call += `,"function":{`;
        if (ev.name !== undefined) call += `"name":${JSON.stringify(ev.name)},`;
        call += `"arguments":${JSON.stringify(ev.argumentsDelta)}}}`;
        return `${this.head}${this.role()}"tool_calls":[${call}]},"finish_reason":null${this.tail}`;
      }
      case 'usage':
        this.usage = ev.usage;
        return '';
      case 'finish':
        this.finishReason = ev.reason;
        return '';
    }
  }

  /** The closing frames: finish chunk, optional usage chunk, `[DONE]`. */
  end(usage: Usage | undefined): string {
    let out = `${this.head}${this.role()}},"finish_reason":${JSON.stringify(this.finishReason ?? 'stop')}${this.tail}`;
    if (this.includeUsage && usage) {
      const h = this.head.slice(0, this.head.indexOf('"choices":['));
      out += `${h}"choices":[],"usage":${JSON.stringify(usageBody(usage))}}\n\n`;
    }
    return out + 'data: [DONE]\n\n';
  }

  /** An error after the stream started: one error event, then `[DONE]`. */
  static error(body: unknown): string {
    return `data: ${JSON.stringify(body)}\n\ndata: [DONE]\n\n`;
  }
}

export interface ParsedEmbeddings {
  request: EmbeddingsRequest;
}

export function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!embeddingsCheck.Check(body)) throw firstProblem(embeddingsCheck, body);
  const b = body as Body;
  let input: string[] | number[][];
  if (typeof b.input === 'string') input = [b.input];
  else if (typeof b.input[0] === 'number') input = [b.input as number[]];
  else input = b.input;
  const req: EmbeddingsRequest = { model: b.model, input };
  if (b.dimensions !== undefined) req.dimensions = b.dimensions;
  if (b.encoding_format) req.encodingFormat = b.encoding_format;
  if (b.user) req.user = b.user;
  return req;
}

export function embeddingsBody(model: string, r: EmbeddingsResult): Record<string, unknown> {
  return {
    object: 'list',
    data: r.data.map((embedding, index) => ({ object: 'embedding', index, embedding })),
    model,
    usage: { prompt_tokens: r.usage.promptTokens, total_tokens: r.usage.totalTokens },
  };
}

export type { RelayError };
