/**
 * OpenAI Responses request → neutral `ChatRequest`. Pure apart from the `previous` lookup the
 * caller passes in (the response store). Validation errors name the field.
 *
 * Tools: `function` tools pass through; `custom` (free-form) tools become function tools with a
 * single string argument `input` and come back as `custom_tool_call` items; hosted tools the
 * gateway cannot run (web_search, file_search, local_shell, code_interpreter, mcp, ...) are left
 * out of what the model sees rather than failing the request (agents send them by default).
 */
import type { ChatMessage, ChatRequest, ContentPart, ToolChoice, ToolDef } from '../../chat/model';
import { errors } from '../../errors';
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

export interface ParsedResponsesRequest {
  request: ChatRequest;
  /** The conversation to remember for `previous_response_id`: history + this input (no instructions). */
  conversation: ChatMessage[];
  /** Echoed into the response object. */
  echo: ResponsesEcho;
  /** Names of tools declared as `custom` (their calls come back as `custom_tool_call` items). */
  customTools: Set<string>;
  store: boolean;
}

export interface ResponsesEcho {
  instructions: string | null;
  previous_response_id: string | null;
  max_output_tokens: number | null;
  temperature: number | null;
  top_p: number | null;
  parallel_tool_calls: boolean;
  tool_choice: unknown;
  tools: unknown[];
  reasoning: { effort: string | null; summary: string | null };
  text: Json;
  metadata: Json;
  user: string | null;
  store: boolean;
}

/** Looks up a stored conversation by response id; undefined when unknown. */
export type PreviousLookup = (id: string) => ChatMessage[] | undefined;

export const CUSTOM_TOOL_PARAMETERS = {
  type: 'object',
  properties: { input: { type: 'string', description: 'The raw input for this tool.' } },
  required: ['input'],
  additionalProperties: false,
};

function textPart(part: Json, path: string): ContentPart {
  return { type: 'text', text: requireString(part.text, `${path}.text`) };
}

function contentParts(raw: unknown, path: string): ContentPart[] {
  if (typeof raw === 'string') return [{ type: 'text', text: raw }];
  const list = requireArray(raw, path);
  return list.map((p, i): ContentPart => {
    const pp = `${path}[${i}]`;
    const part = requireObject(p, pp);
    const type = requireString(part.type, `${pp}.type`);
    switch (type) {
      case 'input_text':
      case 'output_text':
      case 'text':
      case 'summary_text':
        return textPart(part, pp);
      case 'refusal':
        return { type: 'text', text: requireString(part.refusal, `${pp}.refusal`) };
      case 'input_image': {
        if (typeof part.image_url !== 'string' || part.image_url === '') {
          throw bad(`${pp}.image_url`, part.file_id ? 'images by file_id are not supported; send image_url (http(s) or data: URL).' : 'is required.');
        }
        const url = part.image_url;
        if (!/^(https?:\/\/|data:image\/)/i.test(url)) throw bad(`${pp}.image_url`, 'must be an http(s) URL or a data:image URL.');
        const detail = part.detail === 'low' || part.detail === 'high' || part.detail === 'auto' ? part.detail : undefined;
        return { type: 'image', url, ...(detail ? { detail } : {}) };
      }
      case 'input_file':
        throw bad(`${pp}.type`, 'input_file is not supported by this gateway.');
      default:
        throw bad(`${pp}.type`, `content part type '${type}' is not supported.`);
    }
  });
}

function outputText(raw: unknown, path: string): ContentPart[] {
  if (raw === undefined || raw === null) return [];
  return contentParts(raw, path);
}

/** Convert `input` items into messages, merging consecutive assistant output into one turn. */
function convertItems(items: unknown[], toolNames: Map<string, string>): ChatMessage[] {
  const out: ChatMessage[] = [];
  const lastAssistant = (): ChatMessage => {
    const last = out[out.length - 1];
    if (last && last.role === 'assistant') return last;
    const m: ChatMessage = { role: 'assistant', content: [] };
    out.push(m);
    return m;
  };
  items.forEach((raw, i) => {
    const path = `input[${i}]`;
    const item = requireObject(raw, path);
    const type = item.type === undefined ? (item.role !== undefined ? 'message' : undefined) : item.type;
    if (typeof type !== 'string') throw bad(`${path}.type`, 'is required.');
    switch (type) {
      case 'message': {
        const role = item.role;
        const content = contentParts(item.content, `${path}.content`);
        if (role === 'user') out.push({ role: 'user', content });
        else if (role === 'system' || role === 'developer') out.push({ role: 'system', content });
        else if (role === 'assistant') {
          const last = out[out.length - 1];
          // An assistant message after that turn's tool calls starts a new turn.
          if (last && last.role === 'assistant' && !last.toolCalls?.length) last.content.push(...content);
          else out.push({ role: 'assistant', content });
        } else throw bad(`${path}.role`, "must be 'user', 'assistant', 'system' or 'developer'.");
        break;
      }
      case 'function_call':
      case 'custom_tool_call': {
        const callId = requireString(item.call_id, `${path}.call_id`, { nonEmpty: true });
        const name = requireString(item.name, `${path}.name`, { nonEmpty: true });
        const args =
          type === 'function_call'
            ? requireString(item.arguments, `${path}.arguments`)
            : JSON.stringify({ input: requireString(item.input, `${path}.input`) });
        toolNames.set(callId, name);
        const m = lastAssistant();
        (m.toolCalls ??= []).push({ id: callId, name, arguments: args });
        break;
      }
      case 'function_call_output':
      case 'custom_tool_call_output': {
        const callId = requireString(item.call_id, `${path}.call_id`, { nonEmpty: true });
        const content = outputText(item.output, `${path}.output`);
        const m: ChatMessage = { role: 'tool', content, toolCallId: callId };
        const name = toolNames.get(callId);
        if (name) m.toolName = name;
        out.push(m);
        break;
      }
      case 'reasoning':
        // Reasoning items are the model's own scratch work (often encrypted); backends cannot use them.
        break;
      case 'item_reference':
        throw bad(`${path}.type`, 'item_reference is not supported; send the items themselves or use previous_response_id.');
      default:
        throw bad(`${path}.type`, `input item type '${type}' is not supported by this gateway.`);
    }
  });
  return out;
}

function convertTools(raw: unknown, custom: Set<string>): { tools: ToolDef[]; echo: unknown[] } {
  if (raw === undefined || raw === null) return { tools: [], echo: [] };
  const list = requireArray(raw, 'tools');
  const tools: ToolDef[] = [];
  const echo: unknown[] = [];
  list.forEach((t, i) => {
    const path = `tools[${i}]`;
    const tool = requireObject(t, path);
    const type = requireString(tool.type, `${path}.type`);
    if (type === 'function') {
      const name = requireString(tool.name, `${path}.name`, { nonEmpty: true });
      const parameters = tool.parameters === undefined || tool.parameters === null ? { type: 'object', properties: {} } : requireObject(tool.parameters, `${path}.parameters`);
      const description = optString(tool.description, `${path}.description`);
      tools.push({ name, ...(description ? { description } : {}), parameters });
      echo.push(tool);
    } else if (type === 'custom') {
      const name = requireString(tool.name, `${path}.name`, { nonEmpty: true });
      const description = optString(tool.description, `${path}.description`);
      let fmt = '';
      if (isObject(tool.format) && typeof tool.format.definition === 'string') fmt = `\nInput format (${String(tool.format.syntax ?? 'grammar')}):\n${tool.format.definition}`;
      custom.add(name);
      tools.push({ name, description: `${description ?? ''}${fmt}`.trim() || undefined, parameters: CUSTOM_TOOL_PARAMETERS });
      echo.push(tool);
    }
    // Hosted tools (web_search, file_search, local_shell, ...) cannot run here: left out.
  });
  const seen = new Set<string>();
  tools.forEach((t, i) => {
    if (seen.has(t.name)) throw bad(`tools[${i}].name`, `duplicate tool name '${t.name}'.`);
    seen.add(t.name);
  });
  return { tools, echo };
}

function convertToolChoice(raw: unknown, tools: ToolDef[]): ToolChoice | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw === 'auto' || raw === 'none' || raw === 'required') return raw;
  if (typeof raw === 'string') throw bad('tool_choice', "must be 'auto', 'none', 'required' or an object.");
  const tc = requireObject(raw, 'tool_choice');
  const type = requireString(tc.type, 'tool_choice.type');
  if (type === 'function' || type === 'custom') {
    const name = requireString(tc.name, 'tool_choice.name', { nonEmpty: true });
    if (!tools.some((t) => t.name === name)) throw bad('tool_choice.name', `no tool named '${name}' in tools.`);
    return { name };
  }
  if (type === 'allowed_tools') return tc.mode === 'required' ? 'required' : 'auto';
  // Hosted-tool choices (web_search_preview, ...) name tools we left out.
  return 'auto';
}

function convertReasoning(raw: unknown): { req?: ChatRequest['reasoning']; echo: ResponsesEcho['reasoning'] } {
  if (raw === undefined || raw === null) return { echo: { effort: null, summary: null } };
  const r = requireObject(raw, 'reasoning');
  const effort = optString(r.effort, 'reasoning.effort');
  const summary = optString(r.summary ?? r.generate_summary, 'reasoning.summary') ?? null;
  const map: Record<string, 'minimal' | 'low' | 'medium' | 'high' | undefined> = {
    none: undefined,
    minimal: 'minimal',
    low: 'low',
    medium: 'medium',
    high: 'high',
    xhigh: 'high',
  };
  if (effort !== undefined && !(effort in map)) throw bad('reasoning.effort', "must be one of 'none', 'minimal', 'low', 'medium', 'high', 'xhigh'.");
  const mapped = effort === undefined ? undefined : map[effort];
  return { req: mapped ? { effort: mapped } : undefined, echo: { effort: effort ?? null, summary } };
}

function convertTextFormat(raw: unknown): { format?: Record<string, unknown>; echo: Json } {
  if (raw === undefined || raw === null) return { echo: { format: { type: 'text' } } };
  const text = requireObject(raw, 'text');
  if (text.format === undefined || text.format === null) return { echo: { ...text, format: { type: 'text' } } };
  const f = requireObject(text.format, 'text.format');
  const type = requireString(f.type, 'text.format.type');
  if (type === 'text') return { echo: text };
  if (type === 'json_object') return { format: { type: 'json_object' }, echo: text };
  if (type === 'json_schema') {
    const name = requireString(f.name, 'text.format.name', { nonEmpty: true });
    const schema = requireObject(f.schema, 'text.format.schema');
    const strict = optBoolean(f.strict, 'text.format.strict');
    return {
      format: { type: 'json_schema', json_schema: { name, schema, ...(strict !== undefined ? { strict } : {}), ...(typeof f.description === 'string' ? { description: f.description } : {}) } },
      echo: text,
    };
  }
  throw bad('text.format.type', "must be 'text', 'json_object' or 'json_schema'.");
}

/** A 400 for an unknown `previous_response_id` (code `previous_response_not_found`, as OpenAI sends). */
export function previousNotFound(id: string) {
  return errors.invalid(
    `Previous response with id '${id}' not found. Only responses produced by this gateway (and stored: store was not false) can be continued.`,
    'previous_response_id',
    'previous_response_not_found',
  );
}

export const RESPONSES_ENDPOINT = '/v1/responses';

/** Translate a body; `session` (the `x-session-id` header) is the affinity key unless the body names one. */
export function prepareResponses(body: unknown, session: string | undefined, lookup: (id: string) => ChatMessage[] | undefined): ParsedResponsesRequest {
  const parsed = responsesToChatRequest(body, lookup);
  if (session && !parsed.request.sessionKey) parsed.request.sessionKey = session;
  return parsed;
}

/** Translate a parsed Responses body (HTTP body, or a WebSocket `response.create` minus its `type`). */
export function responsesToChatRequest(body: unknown, previous: PreviousLookup): ParsedResponsesRequest {
  const b = requireObject(body, 'body');
  const model = requireString(b.model, 'model', { nonEmpty: true });
  const instructions = optString(b.instructions, 'instructions') ?? null;
  const previousId = optString(b.previous_response_id, 'previous_response_id') || null;
  if (b.conversation !== undefined && b.conversation !== null) throw bad('conversation', 'conversations are not supported by this gateway; use previous_response_id.');
  if (optBoolean(b.background, 'background')) throw bad('background', 'background responses are not supported by this gateway.');

  let history: ChatMessage[] = [];
  if (previousId) {
    const found = previous(previousId);
    if (!found) throw previousNotFound(previousId);
    history = found;
  }

  const toolNames = new Map<string, string>();
  for (const m of history) for (const c of m.toolCalls ?? []) toolNames.set(c.id, c.name);
  let input: ChatMessage[];
  if (typeof b.input === 'string') input = [{ role: 'user', content: [{ type: 'text', text: b.input }] }];
  else if (b.input === undefined || b.input === null) input = [];
  else if (!Array.isArray(b.input)) throw bad('input', 'must be a string or an array of items.');
  else input = convertItems(b.input, toolNames);
  if (input.length === 0 && history.length === 0) throw bad('input', 'is required (a string or a non-empty array of items).');

  const customTools = new Set<string>();
  const { tools, echo: toolsEcho } = convertTools(b.tools, customTools);
  const toolChoice = convertToolChoice(b.tool_choice, tools);
  const parallel = optBoolean(b.parallel_tool_calls, 'parallel_tool_calls');
  const maxTokens = optInteger(b.max_output_tokens, 'max_output_tokens', 1);
  const temperature = optNumber(b.temperature, 'temperature', 0, 2);
  const topP = optNumber(b.top_p, 'top_p', 0, 1);
  const reasoning = convertReasoning(b.reasoning);
  const text = convertTextFormat(b.text);
  const store = optBoolean(b.store, 'store') ?? true;
  const user = optString(b.safety_identifier, 'safety_identifier') || optString(b.user, 'user') || undefined;
  const cacheKey = optString(b.prompt_cache_key, 'prompt_cache_key') || undefined;
  const metadata = b.metadata === undefined || b.metadata === null ? {} : requireObject(b.metadata, 'metadata');

  const conversation = [...history, ...input];
  const messages: ChatMessage[] = instructions ? [{ role: 'system', content: [{ type: 'text', text: instructions }] }, ...conversation] : conversation;

  const request: ChatRequest = { model, messages, stream: optBoolean(b.stream, 'stream') ?? false };
  if (tools.length) request.tools = tools;
  if (toolChoice) request.toolChoice = toolChoice;
  if (parallel !== undefined) request.parallelToolCalls = parallel;
  if (maxTokens !== undefined) request.maxTokens = maxTokens;
  if (temperature !== undefined) request.temperature = temperature;
  if (topP !== undefined) request.topP = topP;
  if (reasoning.req) request.reasoning = reasoning.req;
  if (text.format) request.responseFormat = text.format;
  if (user) request.user = user;
  if (cacheKey) request.sessionKey = cacheKey;

  return {
    request,
    conversation,
    customTools,
    store,
    echo: {
      instructions,
      previous_response_id: previousId,
      max_output_tokens: maxTokens ?? null,
      temperature: temperature ?? null,
      top_p: topP ?? null,
      parallel_tool_calls: parallel ?? true,
      tool_choice: b.tool_choice ?? 'auto',
      tools: toolsEcho,
      reasoning: reasoning.echo,
      text: text.echo,
      metadata,
      user: user ?? null,
      store,
    },
  };
}
