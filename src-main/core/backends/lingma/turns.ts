/**
 * One chat call on one Lingma runtime, whatever its dialect: session reuse (the cached session of
 * the conversation's prefix is continued with only the new turn), model and mode choice, images
 * on vision models, the 406 retry with a fresh session, and login expiry. Independent of how the
 * runtime is reached: a spawned process (instance.ts) or, later, an attached app, supply a
 * `TurnHost` (see channel.ts for the seam).
 */
import type { Logger } from 'pino';
import type { ChatEvent, ChatMessage, ChatRequest } from '../../chat/model';
import { errors, RelayError, toRelayError } from '../../errors';
import type { CallContext, ModelInfo } from '../types';
import type { Dialect, DialectEnv, DialectTurn, TurnOutcome } from './dialect';
import type { LingmaConfig } from './types';
import { autoModel, modelKey, notVisionError } from './models';
import { lingmaOptions } from './options';
import { collectImages, estimateTokens, renderConversation, renderTurn } from './prompt';
import type { SessionCache } from './session-cache';
import { LOGIN_EXPIRED } from './signals';

export interface TurnHost {
  /** The instance name (owner of cached sessions). */
  readonly name: string;
  readonly sessions: SessionCache;
  readonly log: Logger;
  config(): LingmaConfig;
  /** This runtime's live chat models (may be empty before the first listing). */
  models(): ModelInfo[];
  /** The runtime's dialect (detected once per process). */
  dialect(signal: AbortSignal): Promise<Dialect>;
  /** Where a turn runs (channel, cwd, watchdog callbacks). */
  env(ctx: CallContext): DialectEnv;
  /** A 401 from the runtime: the error to throw (after the login hand-off). */
  expired(err: RelayError): Promise<RelayError>;
  askDefaults?: Record<string, unknown>;
  /** The runtime reported `model`'s context window (`/v1/models` shows it as `context_length`). */
  sawContextLimit?(model: string, tokens: number): void;
}

/** Agent mode: the model is an agent model name, or an alias asked for it. */
export function isAgentRequest(req: ChatRequest, cfg: LingmaConfig): boolean {
  const mode = lingmaOptions(req).lingmaMode;
  if (mode !== undefined) return mode === 'agent';
  const m = req.model.toLowerCase();
  return cfg.agentModels.some((a) => a.toLowerCase() === m);
}

/**
 * The runtime key for the request: an agent model name is no Lingma key, so the alias's
 * `lingmaModel`, else the live Auto entry, else none (the runtime picks). Other names map to the
 * live list (by key or display name).
 */
export function requestModel(req: ChatRequest, cfg: LingmaConfig, models: ModelInfo[]): string | undefined {
  const agentName = cfg.agentModels.some((m) => m.toLowerCase() === req.model.toLowerCase());
  if (agentName) {
    const named = lingmaOptions(req).lingmaModel;
    return named ? modelKey(models, named) : autoModel(models)?.id;
  }
  return modelKey(models, req.model);
}

export async function* runChat(host: TurnHost, req: ChatRequest, ctx: CallContext): AsyncGenerator<ChatEvent> {
  if (!req.messages.length) throw errors.invalid('messages must not be empty.', 'messages');
  const cfg = host.config();
  const models = host.models();
  const agent = isAgentRequest(req, cfg);
  const model = requestModel(req, cfg, models);
  const allImages = collectImages(req.messages);
  const fullPrompt = renderConversation(req.messages);
  if (!fullPrompt && !allImages.length) throw errors.invalid('The conversation has no text to send.', 'messages');
  const dialect = await host.dialect(ctx.signal);
  if (allImages.length) {
    const info = models.find((m) => m.id === model);
    if (!info?.vision) throw notVisionError(model ?? req.model, models);
    if (!dialect.images) throw notVisionError(model ?? req.model, models, 'This Lingma runtime speaks the legacy chat/ask protocol, which cannot carry images.');
  }

  const cache = host.sessions;
  const last = req.messages[req.messages.length - 1];
  // Session reuse applies to chat mode, multi-turn, ending with a new user/tool turn.
  const eligible = cache.enabled && !agent && req.messages.length >= 2 && last.role !== 'assistant';
  let sessionId = '';
  // Hashed once per request: the pool's preference asked with the same message list.
  const keys = cache.enabled && !agent ? cache.keysFor(ctx.apiKeyId, req.messages) : undefined;
  if (eligible && keys) {
    const lookupKey = keys.lookup;
    const entry = cache.peek(lookupKey);
    if (entry && entry.instance === host.name) sessionId = entry.sessionId;
    else if (entry) cache.delete(lookupKey); // owned by an instance that is not serving: useless here
    cache.record(!!sessionId);
    if (sessionId) cache.delete(lookupKey); // the session moves on with this turn; a retry must not reuse it
  }

  for (let attempt = 0; ; attempt++) {
    const reuse = !!sessionId;
    const prompt = reuse ? renderTurn(last) || (allImages.length ? '' : fullPrompt) : fullPrompt;
    const images = reuse ? collectImages([last], req.messages.length - 1) : allImages;
    ctx.meta.sessionReuse = reuse;
    ctx.meta.promptBytes = (attempt === 0 ? 0 : (ctx.meta.promptBytes ?? 0)) + Buffer.byteLength(prompt, 'utf8');
    // For the request inspector: the prompt text this turn actually sends (a reuse hit: the delta).
    ctx.meta.upstream = { kind: 'lingma', prompt, info: { model: model ?? '', sessionReuse: reuse, images: images.length, agent, attempt } };
    const promptTokens = estimateTokens(fullPrompt);
    const turn: DialectTurn = {
      prompt,
      images,
      sessionId,
      model,
      agent,
      locale: cfg.locale,
      promptTokens,
      cachedTokens: reuse ? Math.max(0, promptTokens - estimateTokens(prompt)) : undefined,
    };
    const out: TurnOutcome = { emitted: false, answer: '', sessionId: '' };
    try {
      yield* dialect.turn(turn, host.env(ctx), out);
      if (out.limitTokens && model) host.sawContextLimit?.(model, out.limitTokens);
      // Written after a clean finish only, for the conversation as it now stands.
      if (keys && out.sessionId) {
        const answered: ChatMessage = { role: 'assistant', content: [{ type: 'text', text: out.answer }] };
        cache.put(keys.after(answered), out.sessionId, host.name);
      }
      return;
    } catch (e) {
      const err = toRelayError(e);
      // 406: the session is dead. Retry once here with a fresh session and the full prompt.
      if (err.code === 'session_blocked' && attempt === 0 && !out.emitted && !ctx.signal.aborted) {
        host.log.info({ reuse }, 'session blocked (406): retrying once with a fresh session');
        sessionId = '';
        continue;
      }
      if (err.code === LOGIN_EXPIRED) throw await host.expired(err);
      throw err;
    }
  }
}
