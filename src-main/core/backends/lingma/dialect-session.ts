/**
 * The session dialect (spec §6; the Lingma desktop app's runtime, Qoder CN): `session/new`,
 * `session/set_model`, `session/prompt`, answers as `session/update` pushes matched by
 * `_meta["ai-coding/request-id"]`, `chat_finish` ending the answer, `context_usage` giving real
 * token figures, `session/cancel` (else `chat/stop`), `chat/deleteSessionById`.
 */
import { randomUUID } from 'node:crypto';
import type { ChatEvent } from '../../chat/model';
import { errors } from '../../errors';
import { METHOD_NOT_FOUND, type RpcChannel } from './channel';
import { AnswerBuilder, failureEvents, idleError, openStream, rpcToRelay, type Dialect, type DialectEnv, type DialectTurn, type TurnOutcome } from './dialect';
import { RpcError } from './rpc';
import { classifyFailure, statusOf } from './signals';

export const REQUEST_ID_META = 'ai-coding/request-id';

/** The prompt answer comes only at the end of the answer: wait for it as long as a session may run. */
const PROMPT_TIMEOUT_MS = 6 * 3600_000;

function requestIdOf(p: Record<string, unknown>): unknown {
  const meta = (p._meta ?? (p.update as Record<string, unknown> | undefined)?._meta) as Record<string, unknown> | undefined;
  return meta?.[REQUEST_ID_META];
}

/** `session/new` → the new session's id (`sessionId`, some builds `id`). */
export async function newSession(rpc: RpcChannel, cwd: string, signal?: AbortSignal): Promise<string> {
  const r = await rpc.request<Record<string, unknown> | null>('session/new', { cwd, mcpServers: [], _meta: {}, timestamp: Date.now() }, { signal });
  const id = r?.sessionId ?? r?.id;
  if (typeof id !== 'string' || !id) throw errors.upstream('Lingma did not open a session.', { retryable: true, detail: 'session/new returned no sessionId' });
  return id;
}

export function createSessionDialect(): Dialect {
  /** The model each live session was last set to (set_model only when it changes). */
  const models = new Map<string, string>();

  async function* turn(t: DialectTurn, env: DialectEnv, out: TurnOutcome): AsyncGenerator<ChatEvent> {
    const { rpc } = env;
    const requestId = randomUUID();
    const answer = new AnswerBuilder(t, out);
    let sessionId = t.sessionId;
    try {
      if (!sessionId) sessionId = await newSession(rpc, env.cwd, env.signal);
      if (t.model && models.get(sessionId) !== t.model) {
        await rpc.request('session/set_model', { sessionId, modelId: t.model, timestamp: Date.now(), _meta: {} }, { signal: env.signal });
        models.set(sessionId, t.model);
      }
    } catch (e) {
      if (e instanceof RpcError && e.kind === 'timeout') env.onSilent?.('session/new timed out');
      throw rpcToRelay(e, t.sessionId ? 'session/set_model' : 'session/new');
    }
    out.sessionId = sessionId;
    const stream = openStream(env, requestId, (m, p) => {
      if (m !== 'session/update') return false;
      const rid = requestIdOf(p);
      return rid === requestId || (rid === undefined && p.sessionId === sessionId);
    });
    let finished = false;
    try {
      const mode = t.agent ? 'agent' : 'chat';
      const items = [{ type: 'text', text: t.prompt }, ...t.images];
      const params = {
        sessionId,
        prompt: items,
        contextParams: t.images,
        _meta: {
          [REQUEST_ID_META]: requestId,
          'ai-coding/mode': mode,
          'ai-coding/model': t.model ?? '',
          'ai-coding/shell-type': '',
          'ai-coding/enabled-mcp-servers': [],
        },
      };
      // Sent as a request whose answer may come only at the end: do not wait for it to stream.
      rpc.request<Record<string, unknown> | null>('session/prompt', params, { timeoutMs: PROMPT_TIMEOUT_MS }).then(
        (r) => stream.queue.push({ method: '$prompt/result', params: r ?? {} }),
        (e) => stream.queue.push({ method: '$prompt/error', params: { error: e } }),
      );
      for (;;) {
        const msg = await stream.queue.next(env.idleTimeoutMs);
        if (msg === 'idle') throw idleError(env, answer.started, 'session/prompt');
        const p = msg.params;
        if (msg.method === '$prompt/error') {
          finished = true;
          const e = p.error;
          if (e instanceof RpcError && e.kind === 'remote' && classifyFailure(undefined, e.message).kind === 'content_filter') {
            yield* answer.finish('content_filter');
            return;
          }
          throw rpcToRelay(e, 'session/prompt');
        }
        if (msg.method === '$prompt/result') {
          // The prompt call ended before any chat_finish: its stop reason ends the answer.
          finished = true;
          env.onAnswered?.();
          const stop = String(p.stopReason ?? p.reason ?? 'end_turn');
          yield* answer.finish(stop === 'refusal' ? 'content_filter' : stop === 'max_tokens' ? 'length' : 'stop');
          return;
        }
        if (msg.method === 'error' || msg.method === 'fatal_error') {
          finished = true;
          yield* failureEvents(p, answer);
          return;
        }
        if (msg.method === 'context/usage/sync') {
          answer.usage(p);
          continue;
        }
        const u = (p.update ?? {}) as Record<string, unknown>;
        const content = (u.content ?? {}) as Record<string, unknown>;
        switch (u.sessionUpdate) {
          case 'agent_message_chunk': {
            const txt = typeof content.text === 'string' ? content.text : '';
            // A stream error reported as answer text before anything was sent (spec §8, 418).
            if (!answer.started && /statusCodeValue\s*=\s*418/.test(txt)) {
              finished = true;
              yield* failureEvents({ message: txt }, answer, 418);
            }
            yield* answer.text(txt);
            break;
          }
          case 'agent_thought_chunk':
            yield* answer.reason(typeof content.text === 'string' ? content.text : '');
            break;
          case 'notification': {
            const type = String(u.type ?? '');
            const data = (u.data ?? {}) as Record<string, unknown>;
            if (type === 'context_usage') answer.usage(data);
            else if (type === 'chat_finish') {
              finished = true;
              env.onAnswered?.();
              const status = statusOf(data);
              const failed = (status !== undefined && status !== 200) || data.success === false || /error|fail/i.test(String(data.reason ?? ''));
              if (failed) {
                yield* failureEvents(data, answer, status);
                return;
              }
              yield* answer.finish(data.reason === 'content_filter' || data.isFiltered === true ? 'content_filter' : data.reason === 'length' ? 'length' : 'stop');
              return;
            }
            break;
          }
          default:
          // Tool calls, plans, titles, anything new: ignored (id-carrying pushes are answered).
        }
      }
    } finally {
      stream.close();
      if (!finished && !rpc.closed) void cancel(rpc, sessionId, requestId);
    }
  }

  return {
    name: 'session',
    images: true,
    turn,
    async dropSession(rpc: RpcChannel, sessionId: string) {
      models.delete(sessionId);
      await rpc.request('chat/deleteSessionById', { sessionId }, { timeoutMs: 5000 });
    },
  };
}

/** `session/cancel` (ACP), else `chat/stop` when the runtime does not know it. */
async function cancel(rpc: RpcChannel, sessionId: string, requestId: string): Promise<void> {
  try {
    await rpc.request('session/cancel', { sessionId, _meta: { [REQUEST_ID_META]: requestId } }, { timeoutMs: 5000 });
  } catch (e) {
    if (e instanceof RpcError && e.kind === 'remote' && e.code === METHOD_NOT_FOUND) {
      await rpc.request('chat/stop', { requestId }, { timeoutMs: 5000 }).catch(() => undefined);
    }
  }
}
