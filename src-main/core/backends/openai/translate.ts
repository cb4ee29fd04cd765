/**
 * Translation between the neutral chat model and the OpenAI chat-completions wire format, for
 * the upstream side (what we SEND to a provider and how we READ its answer). Pure functions.
 */
import type { ChatEvent, ChatMessage, ChatRequest, ContentPart, FinishReason, Usage } from '../../chat/model';
import { errors, RelayError } from '../../errors';
import { openaiOptions } from './options';
import { redactSecrets } from '../../redact';

type Json = Record<string, unknown>;

function partsToOpenAI(parts: ContentPart[]): string | Json[] {
  // Plain text stays a string: the most compatible form (llama.cpp, older vLLM).
  if (parts.every((p) => p.type === 'text')) return parts.map((p) => (p as { text: string }).text).join('');
  return parts.map((p) =>
    p.type === 'text'
      ? { type: 'text', text: p.text }
      : { type: 'image_url', image_url: p.detail ? { url: p.url, detail: p.detail } : { url: p.url } },
  );
}

function messageToOpenAI(m: ChatMessage): Json {
  if (m.role === 'tool') {
    return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: partsToOpenAI(m.content) };
  }
  const out: Json = { role: m.role };
  if (m.role === 'assistant') {
    const text = m.content.length ? partsToOpenAI(m.content) : null;
    out.content = m.toolCalls?.length && (text === '' || text === null) ? null : (text ?? '');
    if (m.toolCalls?.length) {
      out.tool_calls = m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments || '{}' } }));
    }
  } else {
    out.content = partsToOpenAI(m.content);
  }
  if (m.name) out.name = m.name;
  return out;
}

/** The request body sent upstream. Always streamed upstream (usage included) so the gateway sees the first byte early. */
/** The same for every request (frozen: shared by every body). */
const STREAM_OPTIONS = Object.freeze({ include_usage: true });

export function toOpenAIBody(req: ChatRequest): Json {
  const body: Json = {
    model: req.model,
    messages: req.messages.map(messageToOpenAI),
    stream: true,
    stream_options: STREAM_OPTIONS,
  };
  if (req.tools?.length) {
    body.tools = req.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters ?? { type: 'object', properties: {} } },
    }));
    if (req.toolChoice !== undefined) {
      body.tool_choice = typeof req.toolChoice === 'string' ? req.toolChoice : { type: 'function', function: { name: req.toolChoice.name } };
    }
    if (req.parallelToolCalls !== undefined) body.parallel_tool_calls = req.parallelToolCalls;
  }
  if (req.maxTokens !== undefined) body.max_tokens = req.maxTokens;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop?.length) body.stop = req.stop;
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.responseFormat) body.response_format = req.responseFormat;
  if (req.reasoning?.effort) body.reasoning_effort = req.reasoning.effort;
  if (req.user) body.user = req.user;
  // Non-standard knobs only when an alias asks for them (OpenAI itself rejects unknown fields).
  const options = openaiOptions(req);
  if (options.openaiExtraBody) Object.assign(body, options.openaiExtraBody);
  if (req.topK !== undefined && options.sendTopK) body.top_k = req.topK;
  return body;
}

const FINISH: Record<string, FinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

export function mapFinish(reason: unknown): FinishReason {
  return (typeof reason === 'string' && FINISH[reason]) || 'stop';
}

export function mapUsage(u: any): Usage {
  const usage: Usage = {
    promptTokens: Number(u?.prompt_tokens) || 0,
    completionTokens: Number(u?.completion_tokens) || 0,
    estimated: false,
  };
  const reasoning = u?.completion_tokens_details?.reasoning_tokens;
  if (typeof reasoning === 'number') usage.reasoningTokens = reasoning;
  const cached = u?.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') usage.cachedTokens = cached;
  return usage;
}

/**
 * State kept while reading one streamed answer: the finish reason arrives before the usage chunk,
 * and the neutral stream wants usage before finish, so finish is held until the end.
 */
export class ChunkReader {
  finish: FinishReason | undefined;
  usage: Usage | undefined;

  /** `provider` names the upstream in in-stream error messages; `secrets` are masked in them. */
  constructor(
    private readonly provider?: string,
    private readonly secrets: ReadonlyArray<string | undefined> = [],
  ) {}

  /** Translate one parsed chunk; pushes events into `out`. Throws RelayError on an in-stream error. */
  read(chunk: any, out: ChatEvent[]): void {
    if (chunk?.error) throw upstreamBodyError(200, chunk, undefined, this.provider, this.secrets);
    if (chunk?.usage) this.usage = mapUsage(chunk.usage);
    const choice = chunk?.choices?.[0];
    if (!choice) return;
    const d = choice.delta ?? choice.message;
    if (d) {
      const reasoning = d.reasoning_content ?? d.reasoning;
      if (typeof reasoning === 'string' && reasoning) out.push({ type: 'reasoning', text: reasoning });
      if (typeof d.content === 'string' && d.content) out.push({ type: 'text', text: d.content });
      if (Array.isArray(d.tool_calls)) {
        for (const tc of d.tool_calls) {
          const ev: ChatEvent = { type: 'tool_call', index: Number(tc.index ?? 0), argumentsDelta: tc.function?.arguments ?? '' };
          if (tc.id) ev.id = tc.id;
          if (tc.function?.name) ev.name = tc.function.name;
          out.push(ev);
        }
      }
    }
    if (choice.finish_reason) this.finish = mapFinish(choice.finish_reason);
  }
}

/** A whole non-streamed completion body → events (some servers ignore `stream: true`). */
export function completionToEvents(body: any, provider?: string, secrets: ReadonlyArray<string | undefined> = []): ChatEvent[] {
  const out: ChatEvent[] = [];
  const r = new ChunkReader(provider, secrets);
  r.read(body, out);
  if (Array.isArray(body?.choices?.[0]?.message?.tool_calls)) {
    // `message.tool_calls` carry whole calls (no index): number them.
    for (let i = 0; i < out.length; i++) {
      const e = out[i];
      if (e.type === 'tool_call') out[i] = { ...e, index: body.choices[0].message.tool_calls.findIndex((t: any) => t.id === e.id) };
    }
  }
  if (r.usage) out.push({ type: 'usage', usage: r.usage });
  out.push({ type: 'finish', reason: r.finish ?? 'stop' });
  return out;
}

/** Parse `Retry-After` (seconds or an HTTP date) into whole seconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return Math.max(1, Math.ceil(n));
  const t = Date.parse(v);
  if (Number.isFinite(t)) return Math.max(1, Math.ceil((t - now) / 1000));
  return undefined;
}

/**
 * Map an upstream error answer to a RelayError. `provider` names the upstream in messages;
 * `secrets` (the provider key) are masked: upstreams do echo keys ("Incorrect API key provided: sk-…").
 */
export function upstreamBodyError(status: number, body: any, retryAfter: number | undefined, provider = 'the provider', secrets: ReadonlyArray<string | undefined> = []): RelayError {
  const e = body?.error ?? body;
  const rawMsg = typeof e?.message === 'string' ? e.message : typeof e === 'string' ? e : '';
  const upstreamMsg = rawMsg ? redactSecrets(rawMsg, secrets) : '';
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const msg = upstreamMsg ? `${provider}: ${upstreamMsg}`.slice(0, 1000) : `${provider} answered ${status}.`;
  const common = { upstreamStatus: status, detail: `upstream ${status} ${code ?? ''} ${upstreamMsg}`.slice(0, 2000) };
  if (status === 200) return errors.upstream(msg, { ...common, code: 'upstream_stream_error', retryable: false });
  if (code === 'context_length_exceeded' || /context length|maximum context|too many tokens/i.test(upstreamMsg)) {
    return new RelayError({ status: 400, type: 'invalid_request_error', code: 'context_length_exceeded', message: msg, retryable: false, ...common });
  }
  if (status === 400 || status === 422) return errors.invalid(msg, undefined, code ?? 'invalid_request');
  if (status === 401 || status === 403) {
    // Not the client's fault: our credentials for that provider were refused. Another target may work.
    return errors.upstream(`${provider} refused the configured credentials (${status}).`, { ...common, code: 'upstream_auth_failed', retryable: true });
  }
  if (status === 404) return errors.upstream(msg, { ...common, code: 'upstream_not_found', retryable: true });
  if (status === 408) return errors.timeout(msg, { ...common, retryable: true });
  if (status === 413) return new RelayError({ status: 413, type: 'request_too_large', code: 'request_too_large', message: msg, retryable: false, ...common });
  if (status === 429) return errors.rateLimited(msg, retryAfter ?? 1, code ?? 'upstream_rate_limited');
  if (status === 451 || code === 'content_filter') return new RelayError({ status: 400, type: 'invalid_request_error', code: 'content_filter', message: msg, retryable: false, ...common });
  if (status === 503) return errors.unavailable(msg, { ...common, retryAfter, retryable: true });
  if (status === 504) return errors.timeout(msg, { ...common, retryable: true });
  return errors.upstream(msg, { ...common, retryable: status >= 500 || status === 409 || status === 425 });
}
