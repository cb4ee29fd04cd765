/** The session dialect of the simulator (spec §6): `session/new`, `set_model`, `prompt`, `session/update` pushes. */
import { randomUUID } from 'node:crypto';
import type { Conn, Fail, Reply } from '../sim-conn';
import { answerPieces, faults, FINISH_REASONS, log, plannedAnswer, readUser, sessions, splitPieces, stats, take, type PromptRecord } from '../sim-state';

export function newSession(p: Record<string, unknown>, reply: Reply): void {
  const id = randomUUID();
  sessions.set(id, { turns: 0 });
  stats.sessionsCreated.push(id);
  // Some builds answer `{id}`; this one gives both only when asked for `cwd` (always sent).
  reply(typeof p.cwd === 'string' && p.cwd ? { sessionId: id } : { id });
}

export function setModel(p: Record<string, unknown>, reply: Reply, fail: Fail): void {
  const sessionId = String(p.sessionId ?? '');
  const s = sessions.get(sessionId);
  if (!s) return fail(-32602, `unknown session ${sessionId}`);
  s.model = String(p.modelId ?? '');
  stats.setModels.push({ sessionId, modelId: s.model });
  reply({ success: true });
}

export function cancelSession(conn: Conn, p: Record<string, unknown>, reply: Reply): void {
  const sessionId = String(p.sessionId ?? '');
  stats.cancels.push(sessionId);
  const a = conn.active.get(sessionId);
  if (a) a.stopped = true;
  reply(null);
}

const update = (sessionId: string, requestId: string, u: Record<string, unknown>) => ({ sessionId, update: u, _meta: { 'ai-coding/request-id': requestId } });

export async function promptSession(conn: Conn, p: Record<string, unknown>, reply: Reply, fail: Fail): Promise<void> {
  const meta = (p._meta ?? {}) as Record<string, unknown>;
  const requestId = String(meta['ai-coding/request-id'] ?? '');
  const sessionId = String(p.sessionId ?? '');
  const items = Array.isArray(p.prompt) ? (p.prompt as Array<Record<string, unknown>>) : [];
  const text = items.filter((i) => i.type === 'text').map((i) => String(i.text ?? '')).join('');
  const s = sessions.get(sessionId);
  const rec: PromptRecord = {
    requestId,
    sessionIdIn: sessionId,
    model: s?.model ?? '',
    mode: String(meta['ai-coding/mode'] ?? ''),
    meta,
    promptBytes: Buffer.byteLength(text, 'utf8'),
    text,
    images: items.filter((i) => i.type === 'image'),
    contextParams: Array.isArray(p.contextParams) ? p.contextParams : [],
    answer: '',
    statusCode: null,
  };
  stats.prompts.push(rec);
  if (faults.hang === 'no_ack' || faults.hang === 'no_stream') return;
  if (!readUser()) return fail(401, 'InvalidTokenError: user not login');
  const up = take('upstreamError');
  if (up?.where === 'ack') return fail(up.status, `${up.message}${up.fields ? ` ${JSON.stringify(up.fields)}` : ''}`);
  const plan = faults.reply;
  const pause = () => new Promise((r) => setTimeout(r, plan.delayMs ?? 2));
  let status = faults.finishStatus.length ? faults.finishStatus.shift()! : 200;
  if (!s) status = faults.blockUnknownSessions ? 406 : status;
  else if (faults.blockAllSessions && s.turns > 0) status = 406;
  const crashAfter = take('crashAfterDeltas');
  const noFinish = take('noFinish');
  const filtered = take('filtered');
  const errorPush = take('errorPush');
  const control = { stopped: false };
  conn.active.set(sessionId, control);
  const finish = (data: Record<string, unknown>) =>
    void conn.serverRequest('session/update', update(sessionId, requestId, { sessionUpdate: 'notification', type: 'chat_finish', data }));
  try {
    // Unknown kinds the client must ignore (answering their ids with null).
    void conn.serverRequest('session/update', update(sessionId, requestId, { sessionUpdate: 'available_commands_update', availableCommands: [] }));
    if (up?.where === 'stream') {
      await pause();
      void conn.serverRequest('session/update', update(sessionId, requestId, { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: `upstream error: ${up.message} statusCodeValue=${up.status}` } }));
      return;
    }
    if (up || status !== 200) {
      await pause();
      const st = up ? up.status : status;
      finish({ reason: 'error', statusCode: st, message: up ? up.message : (FINISH_REASONS[status] ?? 'error'), ...up?.fields });
      rec.statusCode = st;
      return reply({ stopReason: 'error' });
    }
    const { answer, think } = plannedAnswer(text, rec.model);
    const pieces = answerPieces(answer, think);
    conn.beginBatch();
    if (think && !plan.thinkFences) {
      for (const t of splitPieces(think, 2)) {
        conn.notify('session/update', update(sessionId, requestId, { sessionUpdate: 'agent_thought_chunk', content: { type: 'text', text: t }, _meta: { 'ai-coding/thinking-duration-millis': 12 } }));
        if (!faults.batch) await pause();
      }
    }
    void conn.serverRequest('session/update', update(sessionId, requestId, { sessionUpdate: 'tool_call', toolCallId: 't1', title: 'nothing', status: 'completed' }));
    for (let i = 0; i < pieces.length; i++) {
      if (control.stopped) break;
      if (errorPush && i >= (errorPush.afterDeltas ?? 0)) {
        conn.notify(errorPush.method, { message: errorPush.message });
        conn.flushBatch();
        return;
      }
      if (crashAfter !== null && i >= crashAfter) {
        conn.flushBatch();
        log('simulated crash mid-stream');
        setTimeout(() => process.exit(3), 5);
        return;
      }
      rec.answer += pieces[i];
      void conn.serverRequest('session/update', update(sessionId, requestId, { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: pieces[i] } }));
      if (!faults.batch) await pause();
    }
    if (control.stopped || noFinish) return void conn.flushBatch();
    if (faults.usageSync !== false) {
      const used = 100 + Buffer.byteLength(text) + rec.answer.length;
      void conn.serverRequest('session/update', update(sessionId, requestId, { sessionUpdate: 'notification', type: 'context_usage', data: { usedTokens: used, limitTokens: 131072 } }));
    }
    if (s) s.turns++;
    rec.statusCode = 200;
    finish({ reason: filtered ? 'content_filter' : 'success', statusCode: 200 });
    conn.flushBatch();
    reply({ stopReason: 'end_turn' });
  } finally {
    conn.active.delete(sessionId);
  }
}
