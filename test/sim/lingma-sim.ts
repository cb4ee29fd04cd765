/**
 * A spawnable fake of the Lingma local service binary, written from shared/spec/lingma-protocol.md.
 * See ./README.md for the command line, the control endpoints and the environment variables.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { listenIpc } from './ipc-listen';

const VERSION = '2.5.0-sim';

// ---------------------------------------------------------------- command line
function parseArgs(argv: string[]): { cmd: string; flags: Record<string, string> } {
  const [cmd = '', ...rest] = argv;
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (i + 1 < rest.length && !rest[i + 1].startsWith('-')) flags[a.slice(2)] = rest[++i];
      else flags[a.slice(2)] = 'true';
    } else if (a === '-o' && i + 1 < rest.length) {
      flags.o = rest[++i];
    }
  }
  return { cmd, flags };
}

interface UserRecord {
  id: string;
  name: string;
  accountId: string;
  token: string;
  refreshToken: string;
  expireTime: number;
  userType: string;
  quotaExceeded?: boolean;
}

function userFile(workDir: string): string {
  return join(workDir, 'cache', 'user');
}
function readUser(workDir: string): UserRecord | undefined {
  try {
    return JSON.parse(readFileSync(userFile(workDir), 'utf8')) as UserRecord;
  } catch {
    return undefined;
  }
}
function writeUser(workDir: string, name: string): UserRecord {
  const rec: UserRecord = {
    id: `uid-${createHash('sha256').update(name).digest('hex').slice(0, 12)}`,
    name,
    accountId: `acc-${name}`,
    token: `tok-${randomBytes(8).toString('hex')}`,
    refreshToken: `rt-${randomBytes(8).toString('hex')}`,
    expireTime: Date.now() + 30 * 24 * 3600 * 1000,
    userType: 'personal_standard',
  };
  mkdirSync(join(workDir, 'cache'), { recursive: true });
  writeFileSync(userFile(workDir), JSON.stringify(rec));
  writeFileSync(join(workDir, 'cache', 'id'), rec.id);
  return rec;
}

const { cmd, flags } = parseArgs(process.argv.slice(2));
const log = (...a: unknown[]) => process.stderr.write(`[lingma-sim ${process.pid}] ${a.map(String).join(' ')}\n`);

if (cmd === 'status') {
  const workDir = flags.workDir;
  if (!workDir) {
    process.stderr.write('status: --workDir is required\n');
    process.exit(2);
  }
  const u = readUser(workDir);
  process.stdout.write(JSON.stringify({ logged_in: !!u, username: u?.name ?? '', user_type: u?.userType ?? '', version: VERSION }) + '\n');
  process.exit(0);
}
if (cmd !== 'start') {
  process.stderr.write(`unknown command '${cmd}'; use: start --workDir=<dir> --socketPort=<n> --httpPort=<m> | status -o json --workDir <dir>\n`);
  process.exit(2);
}

const workDir = flags.workDir;
const socketPort = Number(flags.socketPort);
const httpPort = Number(flags.httpPort);
if (!workDir || !Number.isInteger(socketPort) || !Number.isInteger(httpPort)) {
  process.stderr.write('start: --workDir, --socketPort and --httpPort are required\n');
  process.exit(2);
}
if (process.env.LINGMA_SIM_FAIL_START === '1') {
  process.stderr.write('fatal: simulated start-up failure\n');
  process.exit(1);
}
mkdirSync(join(workDir, 'cache'), { recursive: true });
if (process.env.LINGMA_SIM_LOGGED_IN_AS && !readUser(workDir)) writeUser(workDir, process.env.LINGMA_SIM_LOGGED_IN_AS);
const loginBase = process.env.LINGMA_SIM_LOGIN_BASE || 'https://lingma.alibabacloud.com';

// ---------------------------------------------------------------- faults and stats
interface ReplyPlan {
  /** `default`: a fixed deterministic answer; `echo`: "echo: <question text>"; `fixed`: `text`. */
  mode?: 'default' | 'echo' | 'fixed';
  text?: string;
  /** Number of `chat/answer` deltas. */
  deltas?: number;
  /** Send the second delta as an `overwrite` that extends the text (default true). */
  overwrite?: boolean;
  /** Send an overwrite that rewrites already-sent text. */
  rewrite?: boolean;
  /** Reasoning text sent as `chat/think` before the answer. */
  think?: string;
  /** Delay between streamed messages. */
  delayMs?: number;
  /** Put `fullAnswer` in `chat/finish` (default true). */
  fullAnswer?: boolean;
}

interface Faults {
  /** Split every outgoing frame into this many WebSocket messages. */
  split: number;
  /** With `split`: send binary messages cut at byte boundaries (mid-character). */
  splitBinary: boolean;
  /** Batch all frames of one streamed answer into a single WebSocket message. */
  batch: boolean;
  /** Exit after this many answer deltas of the next ask (`crashAfterDeltas: 0` = right after the ack). */
  crashAfterDeltas: number | null;
  /** `no_ack`: never answer chat/ask; `no_stream`: ack, then nothing; `all`: wedged, answers no request at all. */
  hang: 'no_ack' | 'no_stream' | 'all' | null;
  /** Status codes for the next asks' `chat/finish` (each used once, in order); 80408 = answer timeout. */
  finishStatus: number[];
  /** Next ask ends without `chat/finish`. */
  noFinish: boolean;
  /** Next ask's answer is marked `isFiltered`. */
  filtered: boolean;
  /** Answer unknown session ids with 406 (default true). */
  blockUnknownSessions: boolean;
  /** Every session continuation gets 406 until cleared. */
  blockAllSessions: boolean;
  /** In agent mode, call `tool/invoke` on the client before answering (default true). */
  toolInvoke: boolean;
  quotaExceeded: boolean;
  reply: ReplyPlan;
}

const faults: Faults = {
  split: 0,
  splitBinary: false,
  batch: false,
  crashAfterDeltas: null,
  hang: null,
  finishStatus: [],
  noFinish: false,
  filtered: false,
  blockUnknownSessions: true,
  blockAllSessions: false,
  toolInvoke: true,
  quotaExceeded: false,
  reply: {},
};

function applyControl(c: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(c)) {
    if (k === 'reset') {
      if (v) resetStats();
    } else if (k === 'login' && typeof v === 'string') {
      writeUser(workDir, v);
    } else if (k === 'logout' && v) {
      rmSync(userFile(workDir), { force: true });
    } else if (k === 'dropSockets' && v) {
      // Close every client connection; the process keeps running.
      setTimeout(() => {
        for (const c of conns) c.ws.terminate();
      }, 10);
    } else if (k === 'garbage' && v) {
      // Send bytes that are no frame at all.
      for (const c of conns) c.ws.send('%%% not a frame %%%\r\n\r\n');
    } else if (k === 'crashNow' && v) {
      log('simulated crash');
      process.exit(3);
    } else if (k === 'reply') {
      faults.reply = (v ?? {}) as ReplyPlan;
    } else if (k === 'finishStatus') {
      faults.finishStatus = Array.isArray(v) ? v.map(Number) : v == null ? [] : [Number(v)];
    } else if (k in faults) {
      (faults as unknown as Record<string, unknown>)[k] = v;
    } else {
      throw new Error(`unknown control key '${k}'`);
    }
  }
}
if (process.env.LINGMA_SIM_FAULTS) applyControl(JSON.parse(process.env.LINGMA_SIM_FAULTS) as Record<string, unknown>);

interface AskRecord {
  requestId: string;
  sessionIdIn: string;
  sessionIdOut: string;
  isReply: boolean;
  mode: string;
  sessionType: string;
  model: string;
  promptBytes: number;
  text: string;
  answer: string;
  statusCode: number | null;
}

const stats = {
  pid: process.pid,
  version: VERSION,
  asks: [] as AskRecord[],
  stops: [] as string[],
  initializes: 0,
  ignoredWhileWedged: 0,
  workspacePathEmpty: 0,
  unknownHeaders: 0,
  unknownMethods: [] as string[],
  serverRequestsSent: 0,
  serverRequestsAnswered: 0,
  nonNullAnswers: 0,
  toolInvokeResults: [] as unknown[],
  logouts: 0,
  endpoint: 'https://lingma.alibabacloud.com',
  endpointUpdates: [] as string[],
  callbacks: 0,
  connections: 0,
};
const unanswered = new Map<number, { method: string; at: number }>();
function resetStats(): void {
  stats.asks = [];
  stats.stops = [];
  stats.unknownMethods = [];
  stats.toolInvokeResults = [];
  stats.serverRequestsSent = 0;
  stats.serverRequestsAnswered = 0;
  stats.nonNullAnswers = 0;
}

// ---------------------------------------------------------------- framing
function frame(msg: unknown): string {
  const body = JSON.stringify(msg);
  return `Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`;
}

class Conn {
  private buf = Buffer.alloc(0);
  private batching: string[] | null = null;
  private nextServerId = 100000;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  active = new Map<string, { stopped: boolean }>();

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => this.onData(data));
  }

  send(msg: unknown): void {
    const f = frame(msg);
    if (this.batching) {
      this.batching.push(f);
      return;
    }
    this.write(f);
  }

  /**
   * Writes one frame, split into `faults.split` messages when asked. Text messages must be valid
   * UTF-8, so they split between characters; `splitBinary` sends binary messages split by bytes,
   * even inside a character.
   */
  private write(f: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const n = faults.split > 1 ? faults.split : 1;
    if (n === 1) {
      this.ws.send(f);
      return;
    }
    if (faults.splitBinary) {
      const bytes = Buffer.from(f, 'utf8');
      const size = Math.max(1, Math.ceil(bytes.length / n));
      for (let i = 0; i < bytes.length; i += size) this.ws.send(bytes.subarray(i, i + size), { binary: true });
      return;
    }
    for (const part of splitPieces(f, n)) this.ws.send(part);
  }

  beginBatch(): void {
    if (faults.batch) this.batching = [];
  }
  flushBatch(): void {
    if (!this.batching) return;
    const all = this.batching.join('');
    this.batching = null;
    if (all) this.write(all);
  }

  /** A server→client message with an id (the client must answer it; spec §3). */
  serverRequest(method: string, params: unknown): Promise<unknown> {
    const id = this.nextServerId++;
    stats.serverRequestsSent++;
    unanswered.set(id, { method, at: Date.now() });
    const p = new Promise<unknown>((resolve) => this.waiting.set(id, resolve));
    this.send({ jsonrpc: '2.0', id, method, params });
    return p;
  }
  notify(method: string, params: unknown): void {
    this.send({ jsonrpc: '2.0', method, params });
  }

  private onData(data: Buffer): void {
    this.buf = Buffer.concat([this.buf, data]);
    for (;;) {
      if (this.buf.length === 0) return;
      const text = this.buf.toString('latin1');
      if (!/^Content-Length/i.test(text)) {
        if (text.length >= 14 || !'Content-Length'.toLowerCase().startsWith(text.toLowerCase())) {
          stats.unknownHeaders++;
          log('Unknown message header, ignoring message:', JSON.stringify(text.slice(0, 40)));
          this.buf = Buffer.alloc(0);
        }
        return;
      }
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /content-length:\s*(\d+)/i.exec(this.buf.subarray(0, end).toString('latin1'));
      if (!m) {
        stats.unknownHeaders++;
        log('Unknown message header');
        this.buf = Buffer.alloc(0);
        return;
      }
      const len = Number(m[1]);
      if (this.buf.length < end + 4 + len) return;
      const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
      this.buf = this.buf.subarray(end + 4 + len);
      let msg: { id?: number | string; method?: string; params?: unknown; result?: unknown; error?: unknown };
      try {
        msg = JSON.parse(body);
      } catch {
        log('bad JSON body');
        continue;
      }
      void this.handle(msg);
    }
  }

  private async handle(msg: { id?: number | string; method?: string; params?: unknown; result?: unknown; error?: unknown }): Promise<void> {
    if (!msg.method) {
      // An answer to one of our server requests.
      if (typeof msg.id === 'number' && this.waiting.has(msg.id)) {
        unanswered.delete(msg.id);
        stats.serverRequestsAnswered++;
        if (msg.result !== null && msg.result !== undefined) stats.nonNullAnswers++;
        const r = this.waiting.get(msg.id)!;
        this.waiting.delete(msg.id);
        r(msg.result);
      }
      return;
    }
    const reply = (result: unknown) => {
      if (msg.id !== undefined) this.send({ jsonrpc: '2.0', id: msg.id, result });
    };
    const fail = (code: number, message: string) => {
      if (msg.id !== undefined) this.send({ jsonrpc: '2.0', id: msg.id, error: { code, message } });
    };
    const p = (msg.params ?? {}) as Record<string, unknown>;
    if (faults.hang === 'all') {
      stats.ignoredWhileWedged++;
      return;
    }
    switch (msg.method) {
      case 'initialize': {
        stats.initializes++;
        const folders = p.workspaceFolders as unknown[] | undefined;
        if (!Array.isArray(folders) || folders.length === 0) {
          stats.workspacePathEmpty++;
          log('workspacePath is empty');
        }
        reply({ serverInfo: { name: 'lingma', version: VERSION }, capabilities: {} });
        return;
      }
      case 'auth/status': {
        const u = readUser(workDir);
        if (!u) return reply({ status: 1, id: '', name: '', accountId: '', token: '', refreshToken: '', expireTime: 0, userType: '' });
        return reply({ status: 2, ...u, IsQuotaExceeded: faults.quotaExceeded || !!u.quotaExceeded });
      }
      case 'login/generateUrl': {
        const state = randomBytes(12).toString('hex');
        issuedStates.add(state);
        const q = new URLSearchParams({
          nonce: randomBytes(8).toString('hex'),
          state,
          challenge: createHash('sha256').update(state).digest('base64url'),
          challenge_method: 'S256',
          machine_id: `sim-${createHash('sha256').update(workDir).digest('hex').slice(0, 16)}`,
          port: String(httpPort),
        });
        return reply({ loginUrl: `${loginBase.replace(/\/$/, '')}/lingma/login?${q}`, success: true, errorCode: '', errorMsg: '' });
      }
      case 'auth/logout':
        stats.logouts++;
        rmSync(userFile(workDir), { force: true });
        return reply({ success: true });
      case 'auth/refreshToken':
        return reply({ success: !!readUser(workDir) });
      case 'config/getEndpoint':
        return reply({ endpoint: stats.endpoint });
      case 'config/updateEndpoint':
        if (typeof p.endpoint !== 'string' || !p.endpoint) return reply({ success: false });
        stats.endpoint = p.endpoint;
        stats.endpointUpdates.push(p.endpoint);
        return reply({ success: true });
      case 'config/queryModels':
        return reply(readUser(workDir) ? MODELS : {});
      case 'chat/ask':
        return this.ask(p, reply);
      case 'chat/stop': {
        const rid = String(p.requestId ?? '');
        stats.stops.push(rid);
        const a = this.active.get(rid);
        if (a) a.stopped = true;
        return reply({ success: true });
      }
      default:
        stats.unknownMethods.push(msg.method);
        return fail(-32601, `unknown method: ${msg.method}`);
    }
  }

  private async ask(p: Record<string, unknown>, reply: (r: unknown) => void): Promise<void> {
    const requestId = String(p.requestId ?? '');
    const text = String((p.chatContext as { text?: string } | undefined)?.text ?? p.questionText ?? '');
    const sessionIn = String(p.sessionId ?? '');
    const model = String(((p.extra as { modelConfig?: { key?: string } } | undefined)?.modelConfig?.key) ?? '');
    const rec: AskRecord = {
      requestId,
      sessionIdIn: sessionIn,
      sessionIdOut: '',
      isReply: p.isReply === true,
      mode: String(p.mode ?? ''),
      sessionType: String(p.sessionType ?? ''),
      model,
      promptBytes: Buffer.byteLength(text, 'utf8'),
      text,
      answer: '',
      statusCode: null,
    };
    stats.asks.push(rec);
    if (faults.hang === 'no_ack') return;
    if (!readUser(workDir)) return reply({ success: false, errorCode: '401', errorMessage: 'user not login' });
    if (!requestId) return reply({ success: false, errorCode: '400', errorMessage: 'requestId is required' });
    reply({ success: true, errorCode: '', errorMessage: '' });
    if (faults.hang === 'no_stream') return;

    const control = { stopped: false };
    this.active.set(requestId, control);
    try {
      await this.stream(rec, p, text, sessionIn, model, control);
    } finally {
      this.active.delete(requestId);
    }
  }

  private async stream(rec: AskRecord, p: Record<string, unknown>, text: string, sessionIn: string, model: string, control: { stopped: boolean }): Promise<void> {
    const requestId = rec.requestId;
    const plan = faults.reply;
    const delay = plan.delayMs ?? 2;
    const pause = () => new Promise((r) => setTimeout(r, delay));

    // Session bookkeeping: unknown or blocked sessions get 406 (spec §4 error signals).
    let sessionId = sessionIn;
    let status = faults.finishStatus.length ? faults.finishStatus.shift()! : 200;
    if (sessionIn) {
      if (faults.blockAllSessions || (faults.blockUnknownSessions && !sessions.has(sessionIn))) status = 406;
    } else {
      sessionId = randomUUID();
    }
    const crashAfter = faults.crashAfterDeltas;
    faults.crashAfterDeltas = null;
    const noFinish = faults.noFinish;
    faults.noFinish = false;
    const filtered = faults.filtered;
    faults.filtered = false;

    if (rec.mode === 'agent' && faults.toolInvoke) {
      const result = await this.serverRequest('tool/invoke', { requestId, toolCallId: randomUUID(), name: 'read_file', parameters: { path: 'README.md' } });
      stats.toolInvokeResults.push(result);
    }

    if (status !== 200) {
      await pause();
      void this.serverRequest('chat/finish', { requestId, sessionId, reason: FINISH_REASONS[status] ?? 'error', statusCode: status, fullAnswer: '' });
      rec.statusCode = status;
      rec.sessionIdOut = sessionId;
      return;
    }

    const answer = plan.mode === 'echo' ? `echo: ${text}` : plan.mode === 'fixed' ? (plan.text ?? '') : DEFAULT_ANSWER;
    const pieces = splitPieces(answer, Math.max(1, plan.deltas ?? 4));
    const think = plan.think ?? (REASONING_MODELS.has(model) ? 'Considering the question step by step.' : undefined);

    this.beginBatch();
    void this.serverRequest('chat/process_step_callback', { requestId, step: 'step_start', status: 'doing' });
    if (think) {
      for (const t of splitPieces(think, 2)) {
        this.notify('chat/think', { requestId, text: t, step: 'thinking' });
        if (!faults.batch) await pause();
      }
    }
    let sent = '';
    for (let i = 0; i < pieces.length; i++) {
      if (control.stopped) break;
      if (crashAfter !== null && i >= crashAfter) {
        this.flushBatch();
        log('simulated crash mid-stream');
        setTimeout(() => process.exit(3), 5);
        return;
      }
      const useOverwrite = plan.overwrite !== false && i === 1 && pieces.length > 2;
      if (useOverwrite) {
        sent += pieces[i];
        void this.serverRequest('chat/answer', { requestId, sessionId, text: sent, overwrite: true, isFiltered: false, timestamp: Date.now(), extra: {} });
      } else {
        sent += pieces[i];
        void this.serverRequest('chat/answer', { requestId, sessionId, text: pieces[i], overwrite: false, isFiltered: filtered && i === pieces.length - 1, timestamp: Date.now(), extra: {} });
      }
      if (i === 0) void this.serverRequest('chat/answer', { requestId, sessionId, text: '', overwrite: false, isFiltered: false, timestamp: Date.now(), extra: {} });
      if (!faults.batch) await pause();
    }
    if (plan.rewrite) {
      void this.serverRequest('chat/answer', { requestId, sessionId, text: `REWRITTEN ${sent}`, overwrite: true, isFiltered: false, timestamp: Date.now(), extra: {} });
    }
    if (control.stopped) {
      this.flushBatch();
      rec.answer = sent;
      return;
    }
    void this.serverRequest('chat/process_step_callback', { requestId, step: 'step_end', status: 'done' });
    void this.serverRequest('session/title/update', { sessionId, sessionTitle: text.slice(0, 20) });
    rec.answer = sent;
    rec.sessionIdOut = sessionId;
    if (noFinish) {
      this.flushBatch();
      return;
    }
    const s = sessions.get(sessionId) ?? { turns: 0 };
    s.turns++;
    sessions.set(sessionId, s);
    rec.statusCode = 200;
    void this.serverRequest('chat/finish', { requestId, sessionId, reason: 'success', statusCode: 200, fullAnswer: plan.fullAnswer === false ? '' : sent });
    this.flushBatch();
  }

}

const FINISH_REASONS: Record<number, string> = {
  406: 'Session blocked, please clear context',
  408: 'Response timeout',
  80408: 'Response timeout',
  500: 'Internal server error',
  418: 'Unknown sse issue',
  101: 'Signature invalid',
};

const DEFAULT_ANSWER = 'Hello from the Lingma simulator. This answer is deterministic.';
const REASONING_MODELS = new Set(['dashscope_qwq']);
const MODEL_LIST = [
  { key: 'auto', displayName: 'Auto', format: 'openai', source: 'system', isReasoning: false, isVl: false },
  { key: 'dashscope_qwen3_coder', displayName: 'Qwen3-Coder', format: 'openai', source: 'system', isReasoning: false, isVl: false },
  { key: 'dashscope_qwen_max_latest', displayName: 'Qwen-Max', format: 'openai', source: 'system', isReasoning: false, isVl: true },
  { key: 'dashscope_qwq', displayName: 'QwQ', format: 'openai', source: 'system', isReasoning: true, isVl: false },
];
const MODELS = {
  assistant: MODEL_LIST.slice(0, 3),
  chat: MODEL_LIST,
  developer: MODEL_LIST.slice(1, 2),
  inline: [MODEL_LIST[1]],
  quest: [MODEL_LIST[0], MODEL_LIST[1]],
};

/** Split into n pieces by characters (never inside a surrogate pair). */
function splitPieces(s: string, n: number): string[] {
  const chars = Array.from(s);
  const size = Math.max(1, Math.ceil(chars.length / n));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out.length ? out : [''];
}

const sessions = new Map<string, { turns: number }>();
const conns = new Set<Conn>();
const issuedStates = new Set<string>();

// ---------------------------------------------------------------- HTTP: callback + control
function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${body}</p></body></html>`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

const http = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', `http://127.0.0.1:${httpPort}`);
  try {
    if (req.method === 'GET' && url.pathname === '/auth/callback') {
      stats.callbacks++;
      const state = url.searchParams.get('state') ?? '';
      const auth = url.searchParams.get('auth') ?? '';
      if (!issuedStates.has(state) || !auth) return page(res, 400, 'Login failed', 'The login request is unknown or incomplete.');
      let username = '';
      try {
        username = String((JSON.parse(Buffer.from(auth, 'base64url').toString('utf8')) as { username?: unknown }).username ?? '');
      } catch {
        /* handled below */
      }
      if (!username) return page(res, 400, 'Login failed', 'The login answer could not be read.');
      issuedStates.delete(state);
      writeUser(workDir, username);
      return page(res, 200, 'Login successful', 'You can close this window.');
    }
    if (req.method === 'GET' && url.pathname === '/__sim/stats') {
      const u = readUser(workDir);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...stats, unanswered: unanswered.size, loggedIn: !!u, user: u?.name ?? null, sessions: sessions.size, socketPort, httpPort, workDir }));
      return;
    }
    if (req.method === 'POST' && url.pathname === '/__sim/control') {
      const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
      applyControl(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
      return;
    }
    page(res, 404, 'Not found', 'Nothing here.');
  } catch (e) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: false, error: (e as Error).message }));
  }
});

// ---------------------------------------------------------------- start
async function main(): Promise<void> {
  const delay = Number(process.env.LINGMA_SIM_START_DELAY_MS ?? 0);
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(httpPort, '127.0.0.1', () => resolve());
  });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: socketPort, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => resolve());
  });
  wss.on('connection', (ws) => {
    stats.connections++;
    const c = new Conn(ws);
    conns.add(c);
    ws.on('close', () => conns.delete(c));
  });
  await listenIpc(flags.ipcPath, (ws) => wss.emit('connection', ws)); // --ipcPath: the same frames on a Unix socket / pipe (ipc-listen.ts)
  log(`listening socketPort=${socketPort} httpPort=${httpPort} workDir=${workDir}`);
  process.stdout.write(`Lingma ${VERSION} started\n`);
  const stop = (sig: string) => {
    if (process.env.LINGMA_SIM_IGNORE_SIGINT === '1' && sig === 'SIGINT') {
      log('ignoring SIGINT');
      return;
    }
    log(`stopping on ${sig}`);
    wss.close();
    http.close();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e) => {
  process.stderr.write(`fatal: ${(e as Error).message}\n`);
  process.exit(1);
});

