/**
 * The legacy dialect (spec §4): `chat/ask` acknowledged at once, then `chat/think` / `chat/answer`
 * / `chat/finish` pushes matched by `requestId`. Verified values of Lingma 2.11.1: `mode` "chat"
 * or "agent", `customModel: null`, auto-memory / project rules / ask-agent off, `isSuccess` in the
 * acknowledgement, reasoning between ````think:: fences, `error` pushes, `context/usage/sync`.
 */
import { randomUUID } from 'node:crypto';
import type { ChatEvent } from '../../chat/model';
import { errors } from '../../errors';
import type { RpcChannel } from './channel';
import { AnswerBuilder, failureEvents, idleError, openStream, rpcToRelay, type Dialect, type DialectEnv, type DialectTurn, type TurnOutcome } from './dialect';
import { RpcError } from './rpc';
import { classifyFailure } from './signals';
import { answerOnly } from './think';

/** Spec §4: auto-memory would otherwise carry context between unrelated callers. */
export const PLUGIN_PAYLOAD_CONFIG = { isEnableAutoMemory: false, isEnableProjectRule: false, isEnableAskAgent: false } as const;

export function chatAskParams(t: DialectTurn, requestId: string, askDefaults?: Record<string, unknown>): Record<string, unknown> {
  return {
    requestId,
    chatTask: 'FREE_INPUT',
    chatContext: { text: t.prompt, locale: t.locale },
    sessionId: t.sessionId,
    isReply: !!t.sessionId,
    source: 1,
    questionText: t.prompt,
    stream: true,
    taskDefinitionType: 'system',
    // No model named: leave the choice to the runtime (its Auto model), never a made-up key.
    extra: t.model ? { modelConfig: { key: t.model } } : {},
    sessionType: t.agent ? 'assistant' : 'chat',
    mode: t.agent ? 'agent' : 'chat',
    codeLanguage: '',
    targetAgent: '',
    pluginPayloadConfig: { ...PLUGIN_PAYLOAD_CONFIG },
    shellType: '',
    customModel: null,
    preferredLanguage: t.locale,
    ...askDefaults,
  };
}

export function createChatDialect(): Dialect {
  return {
    name: 'chat',
    images: false,
    turn: chatTurn,
    async dropSession(rpc: RpcChannel, sessionId: string) {
      await rpc.request('chat/deleteSessionById', { sessionId }, { timeoutMs: 5000 });
    },
  };
}

async function* chatTurn(t: DialectTurn, env: DialectEnv, out: TurnOutcome): AsyncGenerator<ChatEvent> {
  if (t.images.length) throw errors.invalid('This Lingma runtime speaks the legacy chat/ask protocol, which cannot carry images.', 'messages', 'unsupported_content');
  const { rpc } = env;
  const requestId = randomUUID();
  const stream = openStream(env, requestId, (_m, p) => p.requestId === requestId);
  const answer = new AnswerBuilder(t, out);
  let finished = false;
  try {
    let ack: Record<string, unknown> | null;
    try {
      ack = await rpc.request<Record<string, unknown> | null>('chat/ask', chatAskParams(t, requestId, env.askDefaults), { signal: env.signal });
    } catch (e) {
      if (e instanceof RpcError && e.kind === 'timeout') env.onSilent?.('chat/ask timed out');
      if (e instanceof RpcError && e.kind === 'remote' && classifyFailure(undefined, e.message).kind === 'content_filter') {
        finished = true;
        yield* answer.finish('content_filter');
        return;
      }
      throw rpcToRelay(e, 'chat/ask');
    }
    // Either spelling false = refused at once (spec §4 verified values).
    if (ack && (ack.success === false || ack.isSuccess === false)) {
      finished = true;
      const code = Number(ack.errorCode);
      const msg = String(ack.errorMessage ?? ack.errorMsg ?? '');
      yield* failureEvents({ ...ack, message: `chat/ask refused: ${String(ack.errorCode ?? '')} ${msg}`.trim() }, answer, Number.isFinite(code) && String(ack.errorCode ?? '') !== '' ? code : /not\s*log/i.test(msg) ? 401 : undefined);
      return;
    }

    // Overwrite rule (spec §4): a delta appends; an overwrite replaces. Emit only what extends the
    // text already sent; a rewrite of sent text emits nothing that contradicts it.
    let upstream = '';
    let filtered = false;
    for (;;) {
      const msg = await stream.queue.next(env.idleTimeoutMs);
      if (msg === 'idle') throw idleError(env, !!upstream || answer.started, 'chat/finish');
      const p = msg.params;
      switch (msg.method) {
        case 'chat/think':
          yield* answer.reason(typeof p.text === 'string' ? p.text : '');
          break;
        case 'chat/answer': {
          if (p.isFiltered === true) filtered = true;
          if (typeof p.sessionId === 'string' && p.sessionId) out.sessionId = p.sessionId;
          const txt = typeof p.text === 'string' ? p.text : '';
          // A stream error reported as answer text before anything was sent (spec §8, 418).
          if (!answer.started && /statusCodeValue\s*=\s*418/.test(txt)) yield* failureEvents({ message: txt }, answer, 418);
          let add = '';
          if (p.overwrite === true) {
            if (txt.startsWith(upstream)) add = txt.slice(upstream.length);
            upstream = txt;
          } else {
            upstream += txt;
            add = txt;
          }
          // Deltas go out as they arrive even for a non-streaming client: the dispatcher's
          // first-byte timeout then bounds the wait for the first token, not the whole answer.
          if (add) yield* answer.text(add);
          break;
        }
        case 'context/usage/sync':
          answer.usage(p);
          break;
        case 'error':
        case 'fatal_error':
          finished = true;
          yield* failureEvents(p, answer);
          return;
        case 'chat/finish': {
          finished = true;
          env.onAnswered?.();
          const status = Number(p.statusCode ?? 200);
          if (typeof p.sessionId === 'string' && p.sessionId) out.sessionId = p.sessionId;
          if (status !== 200) {
            yield* failureEvents(p, answer, status);
            return;
          }
          // fullAnswer completes a tail the deltas missed; it never contradicts text already sent.
          const full = typeof p.fullAnswer === 'string' ? answerOnly(p.fullAnswer) : '';
          if (full && full.length > answer.sent.length && full.startsWith(answer.sent)) yield* answer.text(full.slice(answer.sent.length));
          else if (full && full !== answer.sent) env.log.debug({ sent: answer.sent.length, full: full.length }, 'lingma fullAnswer differs from the streamed deltas; keeping the deltas');
          yield* answer.finish(filtered ? 'content_filter' : 'stop');
          return;
        }
        default:
        // chat/process_step_callback, chat/start and others: progress only (already answered).
      }
    }
  } finally {
    stream.close();
    if (!finished && !rpc.closed) {
      // The client went away, a timeout fired, or the consumer stopped early: stop the answer.
      rpc.request('chat/stop', { requestId }, { timeoutMs: 5000 }).catch(() => undefined);
    }
  }
}
