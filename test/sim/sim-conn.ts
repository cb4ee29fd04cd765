/** One client connection of the simulator: framing, id-carrying pushes, the shared methods. */
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { WebSocket } from 'ws';
import { askChat } from './dialects/chat';
import { cancelSession, newSession, promptSession, setModel } from './dialects/session';
import { env, faults, issuedStates, log, MODELS, readUser, sessions, splitPieces, stats, unanswered, userFile, VERSION } from './sim-state';

export type Reply = (result: unknown) => void;
export type Fail = (code: number, message: string) => void;

function frame(msg: unknown): string {
  const body = JSON.stringify(msg);
  return `Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`;
}

export class Conn {
  private buf = Buffer.alloc(0);
  private batching: string[] | null = null;
  private nextServerId = 100000;
  private readonly waiting = new Map<number, (v: unknown) => void>();
  /** Answers in progress: legacy by requestId, session by sessionId. */
  readonly active = new Map<string, { stopped: boolean }>();

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
   * UTF-8, so they split between characters; `splitBinary` sends binary messages split by bytes.
   */
  private write(f: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    const n = faults.split > 1 ? faults.split : 1;
    if (n === 1) return void this.ws.send(f);
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
      let msg: { id?: number | string; method?: string; params?: unknown; result?: unknown };
      try {
        msg = JSON.parse(body);
      } catch {
        log('bad JSON body');
        continue;
      }
      void this.handle(msg);
    }
  }

  private async handle(msg: { id?: number | string; method?: string; params?: unknown; result?: unknown }): Promise<void> {
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
    const reply: Reply = (result) => {
      if (msg.id !== undefined) this.send({ jsonrpc: '2.0', id: msg.id, result });
    };
    const fail: Fail = (code, message) => {
      if (msg.id !== undefined) this.send({ jsonrpc: '2.0', id: msg.id, error: { code, message } });
    };
    const p = (msg.params ?? {}) as Record<string, unknown>;
    if (faults.hang === 'all') {
      stats.ignoredWhileWedged++;
      return;
    }
    const chat = faults.dialect !== 'session';
    const session = faults.dialect !== 'chat';
    const unknown = () => {
      stats.unknownMethods.push(msg.method!);
      fail(-32601, `method not found: ${msg.method}`);
    };
    switch (msg.method) {
      case 'initialize': {
        stats.initializes++;
        const folders = p.workspaceFolders as unknown[] | undefined;
        if (!Array.isArray(folders) || folders.length === 0) {
          stats.workspacePathEmpty++;
          log('workspacePath is empty');
        }
        return reply({ serverInfo: { name: 'lingma', version: VERSION }, capabilities: {} });
      }
      case 'auth/status': {
        if (faults.authStatusErrors > 0) {
          faults.authStatusErrors--;
          return fail(-32603, 'internal error: auth service not ready');
        }
        const u = readUser();
        if (!u) return reply({ status: 1, id: '', name: '', accountId: '', token: '', refreshToken: '', expireTime: 0, userType: '' });
        const q = faults.quotaExceeded || !!u.quotaExceeded;
        const quota = faults.quotaSnakeCase ? { is_quota_exceeded: q } : { IsQuotaExceeded: q };
        return reply({ status: 2, ...u, ...quota, ...(q && faults.quotaResetTime ? { quotaResetTime: faults.quotaResetTime } : {}) });
      }
      case 'login/generateUrl':
        if (faults.noGenerateUrl) return unknown();
        return reply({ loginUrl: loginUrl(), success: true, errorCode: '', errorMsg: '', nonce: randomBytes(8).toString('hex'), challengeMethod: 'S256' });
      case 'auth/login':
        stats.authLogins++;
        return reply({ url: loginUrl() });
      case 'auth/logout':
        stats.logouts++;
        rmSync(userFile(env.workDir), { force: true });
        return reply({ success: true });
      case 'auth/refreshToken':
        return reply({ success: !!readUser() });
      case 'config/getEndpoint':
        return reply({ endpoint: stats.endpoint });
      case 'config/updateEndpoint':
        if (typeof p.endpoint !== 'string' || !p.endpoint) return reply({ success: false });
        stats.endpoint = p.endpoint;
        stats.endpointUpdates.push(p.endpoint);
        return reply({ success: true });
      case 'config/queryModels':
        return reply(readUser() ? MODELS : {});
      case 'chat/ask':
        return chat ? askChat(this, p, reply) : unknown();
      case 'chat/stop': {
        const rid = String(p.requestId ?? '');
        stats.stops.push(rid);
        const a = this.active.get(rid);
        if (a) a.stopped = true;
        return reply({ success: true });
      }
      case 'chat/deleteSessionById': {
        const id = String(p.sessionId ?? p.id ?? '');
        stats.deletedSessions.push(id);
        sessions.delete(id);
        return reply({ success: true });
      }
      case 'session/new':
        return session ? newSession(p, reply) : unknown();
      case 'session/set_model':
        return session ? setModel(p, reply, fail) : unknown();
      case 'session/prompt':
        return session ? promptSession(this, p, reply, fail) : unknown();
      case 'session/cancel':
        return session && !faults.noSessionCancel ? cancelSession(this, p, reply) : unknown();
      default:
        return unknown();
    }
  }
}

function loginUrl(): string {
  const state = randomBytes(12).toString('hex');
  issuedStates.add(state);
  const q = new URLSearchParams({
    nonce: randomBytes(8).toString('hex'),
    state,
    challenge: createHash('sha256').update(state).digest('base64url'),
    challenge_method: 'S256',
    machine_id: `sim-${createHash('sha256').update(env.workDir).digest('hex').slice(0, 16)}`,
    port: String(env.httpPort),
  });
  return `${env.loginBase.replace(/\/$/, '')}/lingma/login?${q}`;
}
