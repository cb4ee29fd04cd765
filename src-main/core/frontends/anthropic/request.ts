/**
 * Anthropic Messages request → neutral `ChatRequest`. Pure; validation errors name the field.
 *
 * Accepted leniently where clients differ: unknown top-level fields (beta features such as
 * `context_management`, `service_tier`) are ignored; `cache_control` on any block is ignored.
 * Refused with a 400: content block types and tool types the gateway cannot serve.
 */
import type { ChatMessage, ChatRequest, ContentPart, ToolChoice, ToolDef } from '../../chat/model';
import {
  bad,
  isObject,
  optBoolean,
  optInteger,
  optNumber,
  optString,
  requireArray,
  requireObject,
  requireString,
  type Json,
} from '../shared/check';

export interface AnthropicParseOptions {
  /** `count_tokens` bodies carry no `max_tokens`. */
  forCountTokens?: boolean;
}

function imagePart(block: Json, path: string): ContentPart {
  const source = requireObject(block.source, `${path}.source`);
  const kind = requireString(source.type, `${path}.source.type`);
  if (kind === 'base64') {
    const mediaType = requireString(source.media_type, `${path}.source.media_type`, { nonEmpty: true });
    if (!/^image\/[a-z0-9.+-]+$/i.test(mediaType)) throw bad(`${path}.source.media_type`, `'${mediaType}' is not an image media type.`);
    const data = requireString(source.data, `${path}.source.data`, { nonEmpty: true });
    return { type: 'image', url: `data:${mediaType};base64,${data}`, mediaType };
  }
  if (kind === 'url') {
    const url = requireString(source.url, `${path}.source.url`, { nonEmpty: true });
    if (!/^https?:\/\//i.test(url)) throw bad(`${path}.source.url`, 'must be an http(s) URL.');
    return { type: 'image', url };
  }
  throw bad(`${path}.source.type`, `image source '${kind}' is not supported (use base64 or url).`);
}

function documentParts(block: Json, path: string): ContentPart[] {
  const source = requireObject(block.source, `${path}.source`);
  const kind = requireString(source.type, `${path}.source.type`);
  const title = typeof block.title === 'string' && block.title ? `${block.title}\n\n` : '';
  if (kind === 'text') return [{ type: 'text', text: title + requireString(source.data, `${path}.source.data`) }];
  if (kind === 'content') {
    const inner = requireArray(source.content, `${path}.source.content`);
    return inner.flatMap((b, i) => simpleParts(b, `${path}.source.content[${i}]`));
  }
  throw bad(`${path}.source.type`, `document source '${kind}' is not supported here (only plain-text documents).`);
}

/** Blocks allowed inside tool results and documents: text and image. */
function simpleParts(raw: unknown, path: string): ContentPart[] {
  const block = requireObject(raw, path);
  const type = requireString(block.type, `${path}.type`);
  if (type === 'text') return [{ type: 'text', text: requireString(block.text, `${path}.text`) }];
  if (type === 'image') return [imagePart(block, path)];
  if (type === 'document') return documentParts(block, path);
  throw bad(`${path}.type`, `content block type '${type}' is not supported here.`);
}

function systemMessage(raw: unknown): ChatMessage | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'string') return raw === '' ? undefined : { role: 'system', content: [{ type: 'text', text: raw }] };
  const blocks = requireArray(raw, 'system');
  const texts = blocks.map((b, i) => {
    const block = requireObject(b, `system[${i}]`);
    if (block.type !== 'text') throw bad(`system[${i}].type`, "system blocks must be of type 'text'.");
    return requireString(block.text, `system[${i}].text`);
  });
  const text = texts.filter((t) => t !== '').join('\n\n');
  return text ? { role: 'system', content: [{ type: 'text', text }] } : undefined;
}

function toolResultMessage(block: Json, path: string): ChatMessage {
  const id = requireString(block.tool_use_id, `${path}.tool_use_id`, { nonEmpty: true });
  let content: ContentPart[] = [];
  if (typeof block.content === 'string') content = [{ type: 'text', text: block.content }];
  else if (block.content !== undefined && block.content !== null) {
    content = requireArray(block.content, `${path}.content`).flatMap((b, i) => simpleParts(b, `${path}.content[${i}]`));
  }
  const isError = optBoolean(block.is_error, `${path}.is_error`);
  return { role: 'tool', content, toolCallId: id, ...(isError ? { isError: true } : {}) };
}

function convertMessage(raw: unknown, i: number, toolNames: Map<string, string>): ChatMessage[] {
  const path = `messages[${i}]`;
  const msg = requireObject(raw, path);
  const role = msg.role;
  if (role === 'system') {
    // Not in Anthropic's API, but Claude Code sends mid-conversation system messages to
    // non-Claude model names; keep them where they stand.
    if (typeof msg.content === 'string') return [{ role: 'system', content: [{ type: 'text', text: msg.content }] }];
    const parts = requireArray(msg.content, `${path}.content`).map((b, j): ContentPart => {
      const block = requireObject(b, `${path}.content[${j}]`);
      if (block.type !== 'text') throw bad(`${path}.content[${j}].type`, "system messages may only hold 'text' blocks.");
      return { type: 'text', text: requireString(block.text, `${path}.content[${j}].text`) };
    });
    return [{ role: 'system', content: parts }];
  }
  if (role !== 'user' && role !== 'assistant') throw bad(`${path}.role`, "must be 'user' or 'assistant'.");
  if (typeof msg.content === 'string') return [{ role, content: [{ type: 'text', text: msg.content }] }];
  const blocks = requireArray(msg.content, `${path}.content`);

  if (role === 'assistant') {
    const out: ChatMessage = { role: 'assistant', content: [] };
    let reasoning = '';
    blocks.forEach((b, j) => {
      const bp = `${path}.content[${j}]`;
      const block = requireObject(b, bp);
      const type = requireString(block.type, `${bp}.type`);
      switch (type) {
        case 'text':
          out.content.push({ type: 'text', text: requireString(block.text, `${bp}.text`) });
          break;
        case 'thinking':
          reasoning += requireString(block.thinking, `${bp}.thinking`);
          break;
        case 'redacted_thinking':
          break; // opaque to us; nothing a non-Anthropic backend could use
        case 'tool_use': {
          const id = requireString(block.id, `${bp}.id`, { nonEmpty: true });
          const name = requireString(block.name, `${bp}.name`, { nonEmpty: true });
          const input = block.input === undefined ? {} : block.input;
          if (!isObject(input)) throw bad(`${bp}.input`, 'must be an object.');
          toolNames.set(id, name);
          (out.toolCalls ??= []).push({ id, name, arguments: JSON.stringify(input) });
          break;
        }
        default:
          throw bad(`${bp}.type`, `content block type '${type}' is not supported in assistant messages.`);
      }
    });
    if (reasoning) out.reasoning = reasoning;
    return [out];
  }

  // User turn: tool results become tool messages; the other blocks stay a user message, in order.
  const out: ChatMessage[] = [];
  let pending: ContentPart[] = [];
  const flush = () => {
    if (pending.length) out.push({ role: 'user', content: pending });
    pending = [];
  };
  blocks.forEach((b, j) => {
    const bp = `${path}.content[${j}]`;
    const block = requireObject(b, bp);
    const type = requireString(block.type, `${bp}.type`);
    switch (type) {
      case 'text':
        pending.push({ type: 'text', text: requireString(block.text, `${bp}.text`) });
        break;
      case 'image':
        pending.push(imagePart(block, bp));
        break;
      case 'document':
        pending.push(...documentParts(block, bp));
        break;
      case 'tool_result': {
        flush();
        const m = toolResultMessage(block, bp);
        const name = toolNames.get(m.toolCallId!);
        if (name) m.toolName = name;
        out.push(m);
        break;
      }
      default:
        throw bad(`${bp}.type`, `content block type '${type}' is not supported in user messages.`);
    }
  });
  flush();
  return out;
}

function convertTools(raw: unknown): ToolDef[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  const list = requireArray(raw, 'tools');
  const seen = new Set<string>();
  return list.map((t, i) => {
    const path = `tools[${i}]`;
    const tool = requireObject(t, path);
    if (tool.type !== undefined && tool.type !== null && tool.type !== 'custom') {
      throw bad(`${path}.type`, `tool type '${String(tool.type)}' (a server tool) is not supported by this gateway; define it as a client tool.`);
    }
    const name = requireString(tool.name, `${path}.name`, { nonEmpty: true });
    if (seen.has(name)) throw bad(`${path}.name`, `duplicate tool name '${name}'.`);
    seen.add(name);
    const schema = tool.input_schema === undefined ? { type: 'object', properties: {} } : requireObject(tool.input_schema, `${path}.input_schema`);
    const description = optString(tool.description, `${path}.description`);
    return { name, ...(description ? { description } : {}), parameters: schema };
  });
}

function convertToolChoice(raw: unknown, tools: ToolDef[] | undefined): { choice?: ToolChoice; parallel?: boolean } {
  if (raw === undefined || raw === null) return {};
  const tc = requireObject(raw, 'tool_choice');
  const type = requireString(tc.type, 'tool_choice.type');
  const disable = optBoolean(tc.disable_parallel_tool_use, 'tool_choice.disable_parallel_tool_use');
  const parallel = disable === undefined ? undefined : !disable;
  switch (type) {
    case 'auto':
      return { choice: 'auto', parallel };
    case 'any':
      return { choice: 'required', parallel };
    case 'none':
      return { choice: 'none' };
    case 'tool': {
      const name = requireString(tc.name, 'tool_choice.name', { nonEmpty: true });
      if (!tools?.some((t) => t.name === name)) throw bad('tool_choice.name', `no tool named '${name}' in tools.`);
      return { choice: { name }, parallel };
    }
    default:
      throw bad('tool_choice.type', "must be one of 'auto', 'any', 'tool', 'none'.");
  }
}

function convertThinking(raw: unknown): ChatRequest['reasoning'] {
  if (raw === undefined || raw === null) return undefined;
  const th = requireObject(raw, 'thinking');
  const type = requireString(th.type, 'thinking.type');
  if (type === 'disabled') return undefined;
  if (type === 'enabled') {
    const budget = optInteger(th.budget_tokens, 'thinking.budget_tokens', 1);
    if (budget === undefined) throw bad('thinking.budget_tokens', 'is required when thinking is enabled.');
    return { budgetTokens: budget };
  }
  if (type === 'adaptive') return { effort: 'medium' };
  throw bad('thinking.type', "must be 'enabled', 'disabled' or 'adaptive'.");
}

/** Translate a parsed Anthropic Messages body. Throws a 400 RelayError naming the bad field. */
export function anthropicToChatRequest(body: unknown, opts: AnthropicParseOptions = {}): ChatRequest {
  const b = requireObject(body, 'body');
  const model = requireString(b.model, 'model', { nonEmpty: true });
  const rawMessages = requireArray(b.messages, 'messages');
  if (rawMessages.length === 0) throw bad('messages', 'must contain at least one message.');

  const messages: ChatMessage[] = [];
  const sys = systemMessage(b.system);
  if (sys) messages.push(sys);
  const toolNames = new Map<string, string>();
  rawMessages.forEach((m, i) => messages.push(...convertMessage(m, i, toolNames)));

  const maxTokens = optInteger(b.max_tokens, 'max_tokens', 1);
  if (maxTokens === undefined && !opts.forCountTokens) throw bad('max_tokens', 'is required (a positive integer).');

  const tools = convertTools(b.tools);
  const { choice, parallel } = convertToolChoice(b.tool_choice, tools);

  let stop: string[] | undefined;
  if (b.stop_sequences !== undefined && b.stop_sequences !== null) {
    stop = requireArray(b.stop_sequences, 'stop_sequences').map((s, i) => requireString(s, `stop_sequences[${i}]`));
    if (stop.length === 0) stop = undefined;
  }

  let user: string | undefined;
  if (b.metadata !== undefined && b.metadata !== null) {
    const md = requireObject(b.metadata, 'metadata');
    user = optString(md.user_id, 'metadata.user_id') || undefined;
  }

  const req: ChatRequest = {
    model,
    messages,
    stream: optBoolean(b.stream, 'stream') ?? false,
  };
  if (tools?.length) req.tools = tools;
  if (choice) req.toolChoice = choice;
  if (parallel !== undefined) req.parallelToolCalls = parallel;
  if (maxTokens !== undefined) req.maxTokens = maxTokens;
  const temperature = optNumber(b.temperature, 'temperature', 0, 2);
  if (temperature !== undefined) req.temperature = temperature;
  const topP = optNumber(b.top_p, 'top_p', 0, 1);
  if (topP !== undefined) req.topP = topP;
  const topK = optInteger(b.top_k, 'top_k', 0);
  if (topK !== undefined) req.topK = topK;
  if (stop) req.stop = stop;
  const reasoning = convertThinking(b.thinking);
  if (reasoning) {
    // `output_config.effort` (sent with adaptive thinking) says how hard to think.
    const oc = b.output_config;
    if (isObject(oc) && typeof oc.effort === 'string') {
      const effort = ({ low: 'low', medium: 'medium', high: 'high', max: 'high' } as const)[oc.effort as 'low' | 'medium' | 'high' | 'max'];
      if (effort && reasoning.budgetTokens === undefined) reasoning.effort = effort;
    }
    req.reasoning = reasoning;
  }
  if (user) req.user = user;
  return req;
}
