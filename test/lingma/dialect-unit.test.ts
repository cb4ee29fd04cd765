/** The pure parts: think fences, failure signals, a dialect against a fake RPC channel, binary choice. */
import { EventEmitter } from 'node:events';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findLingmaBinary } from '../../src-main/core/backends/lingma/binary';
import type { RpcChannel } from '../../src-main/core/backends/lingma/channel';
import { createSessionDialect } from '../../src-main/core/backends/lingma/dialect-session';
import { createChatDialect } from '../../src-main/core/backends/lingma/dialect-chat';
import type { DialectTurn, TurnOutcome } from '../../src-main/core/backends/lingma/dialect';
import { classifyFailure } from '../../src-main/core/backends/lingma/signals';
import { ThinkSplitter } from '../../src-main/core/backends/lingma/think';
import { QuotaError } from '../../src-main/core/errors';
import { collect, silentLog, tmpDir } from './helpers';

describe('think fences', () => {
  it('splits reasoning out of the text wherever the chunks cut the fences', () => {
    const whole = 'before ````think::\nthe reasoning````\nafter';
    for (let size = 1; size <= whole.length; size++) {
      const t = new ThinkSplitter();
      const pieces = [];
      for (let i = 0; i < whole.length; i += size) pieces.push(...t.push(whole.slice(i, i + size)));
      pieces.push(...t.flush());
      const text = pieces.filter((p) => p.kind === 'text').map((p) => p.text).join('');
      const reasoning = pieces.filter((p) => p.kind === 'reasoning').map((p) => p.text).join('');
      expect({ size, text, reasoning }).toEqual({ size, text: 'before after', reasoning: 'the reasoning' });
    }
  });

  it('leaves ordinary backticks alone', () => {
    const t = new ThinkSplitter();
    expect([...t.push('use ```js\ncode```'), ...t.flush()].map((p) => p.text).join('')).toBe('use ```js\ncode```');
  });
});

describe('failure signals (spec §8)', () => {
  it('maps each signal', () => {
    const now = 1_000_000;
    const q = classifyFailure(403, 'free model busy {"isQueued":true,"retryAfterSeconds":9}', {}, now);
    expect(q.kind === 'error' && q.error).toBeInstanceOf(QuotaError);
    expect(q.kind === 'error' && (q.error as QuotaError).resetsAt).toBe(now + 9000);
    expect(classifyFailure(429, 'usage exceeds frequency limit')).toMatchObject({ kind: 'error', error: { code: 'quota_exceeded', status: 429, retryable: true } });
    expect(classifyFailure(undefined, 'upstream said statusCodeValue=418')).toMatchObject({ kind: 'error', error: { upstreamStatus: 418, retryable: true } });
    expect(classifyFailure(400, 'InternalError.Algo.DataInspectionFailed')).toMatchObject({ kind: 'content_filter' });
    expect(classifyFailure(401, 'InvalidTokenError')).toMatchObject({ kind: 'error', error: { code: 'login_expired', status: 503, retryable: true } });
    expect(classifyFailure(406, 'Session blocked')).toMatchObject({ kind: 'error', error: { code: 'session_blocked' } });
  });
});

/** A scripted runtime: answers requests with `answers[method]`, pushes what `onRequest` sends. */
class FakeRpc extends EventEmitter implements RpcChannel {
  closed = false;
  readonly calls: Array<{ method: string; params: Record<string, unknown> }> = [];
  constructor(private readonly script: (method: string, params: Record<string, unknown>, push: (m: string, p: unknown) => void) => unknown) {
    super();
  }
  async request<T>(method: string, params: unknown): Promise<T> {
    const p = params as Record<string, unknown>;
    this.calls.push({ method, params: p });
    const push = (m: string, x: unknown) => setImmediate(() => this.emit('message', m, x, undefined));
    return this.script(method, p, push) as T;
  }
  notify(): void {}
}

const turn = (over: Partial<DialectTurn> = {}): DialectTurn => ({ prompt: 'hi', images: [], sessionId: '', model: 'm1', agent: false, locale: 'en', promptTokens: 3, ...over });
const env = (rpc: RpcChannel) => ({ rpc, signal: new AbortController().signal, log: silentLog(), idleTimeoutMs: 5000, cwd: '/tmp' });

describe('dialects against a fake RPC', () => {
  it('session: new → set_model → prompt; updates matched by request id; finish; real usage', async () => {
    const rpc = new FakeRpc((method, p, push) => {
      if (method === 'session/new') return { id: 's-1' };
      if (method === 'session/prompt') {
        const rid = (p._meta as Record<string, string>)['ai-coding/request-id'];
        const meta = { 'ai-coding/request-id': rid };
        push('session/update', { sessionId: 's-1', _meta: { 'ai-coding/request-id': 'someone-else' }, update: { sessionUpdate: 'agent_message_chunk', content: { text: 'NOT MINE' } } });
        push('session/update', { sessionId: 's-1', _meta: meta, update: { sessionUpdate: 'agent_thought_chunk', content: { text: 'hmm' } } });
        push('session/update', { sessionId: 's-1', _meta: meta, update: { sessionUpdate: 'plan', entries: [] } });
        push('session/update', { sessionId: 's-1', _meta: meta, update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 'Hello' } } });
        push('session/update', { sessionId: 's-1', _meta: meta, update: { sessionUpdate: 'notification', type: 'context_usage', data: { usedTokens: 42, limitTokens: 1000 } } });
        push('session/update', { sessionId: 's-1', _meta: meta, update: { sessionUpdate: 'notification', type: 'chat_finish', data: { reason: 'success' } } });
        return new Promise(() => {}); // the prompt's own answer never comes: not needed
      }
      return null;
    });
    const out: TurnOutcome = { emitted: false, answer: '', sessionId: '' };
    const r = await collect(createSessionDialect().turn(turn(), env(rpc), out));
    expect(r.text).toBe('Hello');
    expect(r.reasoning).toBe('hmm');
    expect(r.events.find((e) => e.type === 'usage')).toMatchObject({ usage: { promptTokens: 42, estimated: false } });
    expect(out).toMatchObject({ sessionId: 's-1', answer: 'Hello' });
    expect(rpc.calls.map((c) => c.method)).toEqual(['session/new', 'session/set_model', 'session/prompt']);
  });

  it('chat: the acknowledgement refusal (isSuccess false) and the 403 queued finish', async () => {
    const refused = new FakeRpc((m) => (m === 'chat/ask' ? { isSuccess: false, errorCode: '', errorMessage: 'no' } : null));
    await expect(collect(createChatDialect().turn(turn(), env(refused), { emitted: false, answer: '', sessionId: '' }))).rejects.toMatchObject({ status: 502 });
    const queued = new FakeRpc((m, p, push) => {
      if (m === 'chat/ask') push('chat/finish', { requestId: p.requestId, statusCode: 403, reason: 'queued', isQueued: true, retryAfterSeconds: 20 });
      return { success: true };
    });
    await expect(collect(createChatDialect().turn(turn(), env(queued), { emitted: false, answer: '', sessionId: '' }))).rejects.toBeInstanceOf(QuotaError);
    const ask = queued.calls.find((c) => c.method === 'chat/ask')!.params;
    expect(ask).toMatchObject({ mode: 'chat', customModel: null, extra: { modelConfig: { key: 'm1' } } });
    // No model: no modelConfig at all.
    const noModel = new FakeRpc((m, p, push) => {
      if (m === 'chat/ask') push('chat/finish', { requestId: p.requestId, statusCode: 200 });
      return { success: true };
    });
    await collect(createChatDialect().turn(turn({ model: undefined }), env(noModel), { emitted: false, answer: '', sessionId: '' }));
    expect(noModel.calls[0].params.extra).toEqual({});
  });
});

describe('binary discovery: desktop apps, Qoder CN, newest wins', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const bin = (p: string) => {
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, '#!/bin/sh\n');
    chmodSync(p, 0o755);
    return p;
  };

  it('prefers the newest of the IDE plugin, the Lingma app and Qoder CN, and says which', () => {
    const home = tmpDir('lingma-home-');
    const apps = tmpDir('lingma-apps-');
    dirs.push(home, apps);
    bin(join(home, '.lingma', 'bin', '2.5.0', 'aarch64_darwin', 'Lingma'));
    const app = (name: string, version: string) => {
      const res = join(apps, name, 'Contents', 'Resources');
      mkdirSync(join(res, 'app'), { recursive: true });
      writeFileSync(join(res, 'app', 'package.json'), JSON.stringify({ version }));
      // arm64 macOS falls back to the x86_64 build
      return bin(join(res, 'app', 'resources', 'bin', 'x86_64_darwin', 'Lingma'));
    };
    const lingmaApp = app('Lingma.app', '2.11.1');
    const o = { setting: 'auto', env: {}, platform: 'darwin' as const, arch: 'arm64', home, systemApps: apps };
    expect(findLingmaBinary(o)).toMatchObject({ found: true, path: lingmaApp, label: 'lingma-app', version: '2.11.1', installs: 2 });
    const qoder = app('Qoder CN.app', '3.0.0');
    expect(findLingmaBinary(o)).toMatchObject({ found: true, path: qoder, label: 'qoder-cn-app', version: '3.0.0' });
  });

  it('finds Qoder CN on Windows under LOCALAPPDATA', () => {
    const home = tmpDir('lingma-home-');
    dirs.push(home);
    const local = join(home, 'AppData', 'Local');
    const q = bin(join(local, 'Programs', 'Qoder CN', 'resources', 'app', 'resources', 'bin', 'x86_64_windows', 'Lingma.exe'));
    expect(findLingmaBinary({ setting: 'auto', env: { LOCALAPPDATA: local }, platform: 'win32', arch: 'x64', home })).toMatchObject({ found: true, path: q, label: 'qoder-cn-app' });
  });
});
