/** The legacy dialect of the simulator: `chat/ask`, then `chat/*` pushes (spec §4). */
import { randomUUID } from 'node:crypto';
import type { Conn, Reply } from '../sim-conn';
import { answerPieces, faults, FINISH_REASONS, log, plannedAnswer, readUser, sessions, splitPieces, stats, take, type AskRecord } from '../sim-state';

export async function askChat(conn: Conn, p: Record<string, unknown>, reply: Reply): Promise<void> {
  const requestId = String(p.requestId ?? '');
  const text = String((p.chatContext as { text?: string } | undefined)?.text ?? p.questionText ?? '');
  const extra = p.extra as { modelConfig?: { key?: string } } | undefined;
  const rec: AskRecord = {
    requestId,
    sessionIdIn: String(p.sessionId ?? ''),
    sessionIdOut: '',
    isReply: p.isReply === true,
    mode: String(p.mode ?? ''),
    sessionType: String(p.sessionType ?? ''),
    model: String(extra?.modelConfig?.key ?? ''),
    hasModelConfig: !!extra?.modelConfig,
    customModel: p.customModel === undefined ? 'absent' : p.customModel,
    pluginPayloadConfig: p.pluginPayloadConfig,
    promptBytes: Buffer.byteLength(text, 'utf8'),
    text,
    answer: '',
    statusCode: null,
  };
  stats.asks.push(rec);
  if (faults.hang === 'no_ack') return;
  if (!readUser()) return reply({ success: false, errorCode: '401', errorMessage: 'user not login' });
  if (!requestId) return reply({ success: false, errorCode: '400', errorMessage: 'requestId is required' });
  if (take('ackIsSuccessFalse')) return reply({ isSuccess: false, errorCode: '500', errorMessage: 'refused by the simulator' });
  const up = faults.upstreamError?.where === 'ack' ? take('upstreamError') : null;
  if (up) return reply({ success: false, errorCode: String(up.status), errorMessage: up.message, ...up.fields });
  reply({ success: true, errorCode: '', errorMessage: '' });
  if (faults.hang === 'no_stream') return;
  const control = { stopped: false };
  conn.active.set(requestId, control);
  try {
    await stream(conn, rec, control);
  } finally {
    conn.active.delete(requestId);
  }
}

async function stream(conn: Conn, rec: AskRecord, control: { stopped: boolean }): Promise<void> {
  const { requestId, sessionIdIn } = rec;
  const plan = faults.reply;
  const pause = () => new Promise((r) => setTimeout(r, plan.delayMs ?? 2));
  // Unknown or blocked sessions get 406 (spec §4 error signals).
  let sessionId = sessionIdIn;
  let status = faults.finishStatus.length ? faults.finishStatus.shift()! : 200;
  if (sessionIdIn) {
    if (faults.blockAllSessions || (faults.blockUnknownSessions && !sessions.has(sessionIdIn))) status = 406;
  } else sessionId = randomUUID();
  const crashAfter = take('crashAfterDeltas');
  const noFinish = take('noFinish');
  const filtered = take('filtered');
  const errorPush = take('errorPush');
  const up = take('upstreamError');

  if (rec.mode === 'agent' && faults.toolInvoke) {
    const result = await conn.serverRequest('tool/invoke', { requestId, toolCallId: randomUUID(), name: 'read_file', parameters: { path: 'README.md' } });
    stats.toolInvokeResults.push(result);
  }
  void conn.serverRequest('chat/start', { requestId, sessionId });
  if (up?.where === 'stream') {
    await pause();
    void conn.serverRequest('chat/answer', { requestId, sessionId, text: `upstream error: ${up.message} statusCodeValue=${up.status}`, overwrite: false, isFiltered: false, timestamp: Date.now(), extra: {} });
    return;
  }
  if (up || status !== 200) {
    await pause();
    const st = up ? up.status : status;
    void conn.serverRequest('chat/finish', { requestId, sessionId, reason: up ? up.message : (FINISH_REASONS[status] ?? 'error'), statusCode: st, fullAnswer: '', ...up?.fields });
    rec.statusCode = st;
    rec.sessionIdOut = sessionId;
    return;
  }

  const { answer, think } = plannedAnswer(rec.text, rec.model);
  const pieces = answerPieces(answer, think);
  conn.beginBatch();
  void conn.serverRequest('chat/process_step_callback', { requestId, step: 'step_start', status: 'doing' });
  if (think && !plan.thinkFences) {
    for (const t of splitPieces(think, 2)) {
      conn.notify('chat/think', { requestId, text: t, step: 'thinking' });
      if (!faults.batch) await pause();
    }
  }
  let sent = '';
  for (let i = 0; i < pieces.length; i++) {
    if (control.stopped) break;
    if (errorPush && i >= (errorPush.afterDeltas ?? 0)) {
      conn.notify(errorPush.method, { message: errorPush.message });
      conn.flushBatch();
      rec.answer = sent;
      return;
    }
    if (crashAfter !== null && i >= crashAfter) {
      conn.flushBatch();
      log('simulated crash mid-stream');
      setTimeout(() => process.exit(3), 5);
      return;
    }
    sent += pieces[i];
    if (plan.overwrite !== false && !plan.thinkFences && i === 1 && pieces.length > 2) {
      void conn.serverRequest('chat/answer', { requestId, sessionId, text: sent, overwrite: true, isFiltered: false, timestamp: Date.now(), extra: {} });
    } else {
      void conn.serverRequest('chat/answer', { requestId, sessionId, text: pieces[i], overwrite: false, isFiltered: filtered && i === pieces.length - 1, timestamp: Date.now(), extra: {} });
    }
    if (i === 0) void conn.serverRequest('chat/answer', { requestId, sessionId, text: '', overwrite: false, isFiltered: false, timestamp: Date.now(), extra: {} });
    if (!faults.batch) await pause();
  }
  if (plan.rewrite) void conn.serverRequest('chat/answer', { requestId, sessionId, text: `REWRITTEN ${sent}`, overwrite: true, isFiltered: false, timestamp: Date.now(), extra: {} });
  rec.answer = sent;
  if (control.stopped) return void conn.flushBatch();
  void conn.serverRequest('session/title/update', { sessionId, sessionTitle: rec.text.slice(0, 20) });
  rec.sessionIdOut = sessionId;
  if (noFinish) return void conn.flushBatch();
  if (faults.usageSync) conn.notify('context/usage/sync', { usedTokens: 1234, limitTokens: 128000 });
  const s = sessions.get(sessionId) ?? { turns: 0 };
  s.turns++;
  sessions.set(sessionId, s);
  rec.statusCode = 200;
  void conn.serverRequest('chat/finish', { requestId, sessionId, reason: 'success', statusCode: 200, fullAnswer: plan.fullAnswer === false ? '' : sent });
  // Spec §4: step_end may arrive after chat/finish.
  void conn.serverRequest('chat/process_step_callback', { requestId, step: 'step_end', status: 'done' });
  conn.flushBatch();
}
