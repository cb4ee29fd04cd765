/**
 * The one protocol-neutral chat model.
 *
 * Front ends (OpenAI chat, Anthropic Messages, OpenAI Responses) translate their wire format INTO
 * a `ChatRequest`, and translate a stream of `ChatEvent`s back OUT to their wire format.
 * Backends (Lingma, OpenAI-compatible HTTP) translate a `ChatRequest` out to their upstream and
 * produce `ChatEvent`s. N front ends + M backends = N + M translators; nothing else knows a wire
 * format.
 */

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export type ContentPart =
  | { type: 'text'; text: string }
  /** `url` is an http(s) URL or a `data:` URL (base64). */
  | { type: 'image'; url: string; mediaType?: string; detail?: 'auto' | 'low' | 'high' };

export interface ToolCall {
  /** Call id as the client knows it (OpenAI `call_...`, Anthropic `toolu_...`). */
  id: string;
  name: string;
  /** JSON text of the arguments, exactly as produced. */
  arguments: string;
}

export interface ChatMessage {
  /** `developer` (OpenAI) is mapped to `system`; `function` (legacy OpenAI) to `tool`. */
  role: Role;
  /** Always normalised to parts; an empty array is allowed (e.g. an assistant turn with tool calls only). */
  content: ContentPart[];
  /** Optional participant name (OpenAI `name`). */
  name?: string;
  /** Assistant turns: tool calls the model made. */
  toolCalls?: ToolCall[];
  /** Tool turns: the id of the call this message answers. */
  toolCallId?: string;
  /** Tool turns: the tool's name, when the protocol carries it. */
  toolName?: string;
  /** Assistant turns: reasoning text, when a protocol sends it back (Anthropic thinking blocks). */
  reasoning?: string;
  /** Tool turns: the tool reported an error (Anthropic `is_error`). */
  isError?: boolean;
}

export interface ToolDef {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters?: Record<string, unknown>;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export interface ChatRequest {
  /** The model name as the client sent it (before alias resolution). Backends receive the upstream id here. */
  model: string;
  /** In order; system messages are kept where they stand (most backends want them first). */
  messages: ChatMessage[];
  stream: boolean;
  tools?: ToolDef[];
  toolChoice?: ToolChoice;
  /** Allow the model to emit several tool calls in one turn (OpenAI `parallel_tool_calls`). */
  parallelToolCalls?: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  /** OpenAI `response_format`, passed through to backends that understand it. */
  responseFormat?: Record<string, unknown>;
  /** Reasoning / thinking request. */
  reasoning?: { effort?: 'minimal' | 'low' | 'medium' | 'high'; budgetTokens?: number };
  /** End-user id (OpenAI `user`, Anthropic `metadata.user_id`): used for affinity. */
  user?: string;
  /** A client-provided session/cache key (`x-session-id` header, OpenAI `prompt_cache_key`): used for affinity. */
  sessionKey?: string;
  /** Backend-specific options set by an alias (e.g. `{ lingmaMode: 'agent', toolEmulation: true }`). */
  options?: Record<string, unknown>;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  reasoningTokens?: number;
  cachedTokens?: number;
  /** true when the gateway estimated the counts because the backend reported none. */
  estimated: boolean;
}

/**
 * The stream a backend produces. Order: any number of text/reasoning/tool_call events, then
 * optionally `usage`, then exactly one `finish`. Failures are thrown from the iterator as
 * `RelayError` (see ../errors.ts), never yielded.
 */
export type ChatEvent =
  | { type: 'text'; text: string }
  | { type: 'reasoning'; text: string }
  /**
   * A tool-call fragment. The first fragment of a call carries `id` and `name`; later fragments
   * of the same `index` carry only `argumentsDelta`.
   */
  | { type: 'tool_call'; index: number; id?: string; name?: string; argumentsDelta: string }
  | { type: 'usage'; usage: Usage }
  | { type: 'finish'; reason: FinishReason };

/** A whole (non-streamed) answer, folded from events by `collectChat` in ./collect.ts. */
export interface ChatResult {
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage?: Usage;
}

export interface EmbeddingsRequest {
  model: string;
  input: string[] | number[][];
  dimensions?: number;
  encodingFormat?: 'float' | 'base64';
  user?: string;
}

export interface EmbeddingsResult {
  /** One vector per input, in order (or base64 strings when `encodingFormat` is base64). */
  data: Array<number[] | string>;
  usage: { promptTokens: number; totalTokens: number };
}

/** Flatten the text parts of a message (images and other parts are skipped). */
export function textOf(parts: ContentPart[]): string {
  let out = '';
  for (const p of parts) if (p.type === 'text') out += p.text;
  return out;
}
