/** The legacy dialect's verified values (spec §4) and the account-limit signals (spec §8), against the simulator. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuotaError } from '../../src-main/core/errors';
import type { LingmaInstance } from '../../src-main/core/backends/lingma/instance';
import { chatReq, collect, ctx, makeProvider, readyInstance, sim, user, waitFor, type Harness } from './helpers';

type VStats = Awaited<ReturnType<typeof sim>> & {
  asks: Array<{ mode: string; customModel: unknown; pluginPayloadConfig: unknown; hasModelConfig: boolean; model: string; requestId: string }>;
  transportType: string | null;
  authLogins: number;
};
const stats = (i: LingmaInstance, body?: Record<string, unknown>) => sim(i, body) as Promise<VStats>;

describe('legacy dialect: verified values', () => {
  let h: Harness;
  let inst: LingmaInstance;
  const expiredCalls: Array<{ instance: string; reason: string }> = [];

  beforeAll(async () => {
    h = makeProvider({ lingma: { accounts: [{ username: 'vic', name: 'vic' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'vic' } });
    // The login coordinator's expiry hook (added by the login module); observed here.
    (h.provider.loginCoordinator as unknown as { expired: (t: { instance: string }, r: string) => void }).expired = (t, r) => void expiredCalls.push({ instance: t.instance, reason: r });
    inst = await readyInstance(h);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('starts with --transportType=websocket and sends mode chat, customModel null, memory/rules/ask-agent off', async () => {
    await stats(inst, { reset: true, reply: { mode: 'fixed', text: 'ok' } });
    await collect(inst.chat(chatReq([user('q')]), ctx()));
    const s = await stats(inst);
    expect(s.transportType).toBe('websocket');
    expect(s.asks[0]).toMatchObject({
      mode: 'chat',
      customModel: null,
      pluginPayloadConfig: { isEnableAutoMemory: false, isEnableProjectRule: false, isEnableAskAgent: false },
      model: 'dashscope_qwen3_coder',
    });
  });

  it('no model named (agent name): the live Auto entry, never a literal auto', async () => {
    await stats(inst, { reset: true, toolInvoke: false, reply: { mode: 'fixed', text: 'ok' } });
    await collect(inst.chat(chatReq([user('q')], { model: 'lingma-agent' }), ctx()));
    await collect(inst.chat(chatReq([user('q')], { model: 'auto' }), ctx()));
    const s = await stats(inst, { toolInvoke: true });
    expect(s.asks.map((a) => [a.mode, a.model])).toEqual([
      ['agent', 'dashscope_qwen3_coder_default'],
      ['chat', 'dashscope_qwen3_coder_default'],
    ]);
  });

  it('an acknowledgement with isSuccess: false fails at once', async () => {
    await stats(inst, { reset: true, ackIsSuccessFalse: true });
    const err = await collect(inst.chat(chatReq([user('q')]), ctx())).catch((e) => e);
    expect(err).toMatchObject({ status: 502, retryable: true });
  });

  it('reasoning between ````think:: fences is split out across chunk boundaries', async () => {
    await stats(inst, { reset: true, reply: { mode: 'fixed', text: 'The answer.', think: 'hidden reasoning here', thinkFences: true } });
    const r = await collect(inst.chat(chatReq([user('q')]), ctx()));
    expect(r.reasoning).toBe('hidden reasoning here');
    expect(r.text).toBe('The answer.');
    expect(r.finish).toBe('stop');
  });

  it('an error push fails the request at once (not after the idle timeout), and context/usage/sync gives real usage', async () => {
    await stats(inst, { reset: true, errorPush: { method: 'error', message: 'something broke', afterDeltas: 1 }, reply: { deltas: 4 } });
    // The idle timeout (120 s) is far past the test's own timeout: only an immediate failure passes.
    const err = await collect(inst.chat(chatReq([user('q')]), ctx())).catch((e) => e);
    expect(err).toMatchObject({ status: 502, detail: expect.stringContaining('something broke') });
    await stats(inst, { usageSync: true, reply: {} });
    const r = await collect(inst.chat(chatReq([user('q')]), ctx()));
    const u = r.events.find((e) => e.type === 'usage');
    expect(u?.type === 'usage' && u.usage).toMatchObject({ promptTokens: 1234, estimated: false });
    await stats(inst, { usageSync: null });
  });

  it('quota: isQuotaExceeded in auth/status shows in the snapshot with its reset time', async () => {
    const resetsAt = Date.now() + 3600_000;
    await stats(inst, { quotaExceeded: true, quotaResetTime: resetsAt, quotaSnakeCase: true });
    await inst.probe(new AbortController().signal);
    expect(inst.snapshot().quota).toEqual({ exceeded: true, resetsAt });
    expect(inst.loginState()).toMatchObject({ quotaExceeded: true });
    await stats(inst, { quotaExceeded: false, quotaResetTime: null, quotaSnakeCase: false });
    await inst.probe(new AbortController().signal);
    expect(inst.snapshot().quota).toEqual({ exceeded: false });
  });

  it('quota: 429 frequency limit and the queued 403 throw a retryable QuotaError (resetsAt from retryAfterSeconds)', async () => {
    await stats(inst, { reset: true, upstreamError: { status: 429, message: 'usage exceeds frequency limit' } });
    const e429 = await collect(inst.chat(chatReq([user('q')]), ctx())).catch((e) => e);
    expect(e429).toBeInstanceOf(QuotaError);
    expect(e429).toMatchObject({ status: 429, code: 'quota_exceeded', retryable: true });
    const before = Date.now();
    await stats(inst, { upstreamError: { status: 403, message: 'free model busy', fields: { isQueued: true, retryAfterSeconds: 12 } } });
    const e403 = await collect(inst.chat(chatReq([user('q')]), ctx())).catch((e) => e);
    expect(e403).toBeInstanceOf(QuotaError);
    expect(e403.resetsAt).toBeGreaterThanOrEqual(before + 12_000);
    expect(e403.resetsAt).toBeLessThanOrEqual(Date.now() + 12_000);
    // In the acknowledgement too.
    await stats(inst, { upstreamError: { status: 429, message: 'usage exceeds frequency limit', where: 'ack' } });
    expect(await collect(inst.chat(chatReq([user('q')]), ctx())).catch((e) => e)).toBeInstanceOf(QuotaError);
  });

  it('418 inside the stream before the first byte is retryable; DataInspectionFailed finishes content_filter', async () => {
    await stats(inst, { reset: true, upstreamError: { status: 418, message: 'Unknown sse issue', where: 'stream' } });
    const e = await collect(inst.chat(chatReq([user('q')]), ctx())).catch((x) => x);
    expect(e).toMatchObject({ upstreamStatus: 418, retryable: true });
    await stats(inst, { upstreamError: { status: 400, message: 'InternalError.Algo.DataInspectionFailed' } });
    const r = await collect(inst.chat(chatReq([user('q')]), ctx()));
    expect(r.finish).toBe('content_filter');
    expect(r.text).toBe('');
  });

  it('401 ExpiredTokenError: the coordinator hears of it and the request fails over with a retryable 503', async () => {
    await stats(inst, { reset: true, upstreamError: { status: 401, message: 'ExpiredTokenError: token expired' } });
    const e = await collect(inst.chat(chatReq([user('q')]), ctx())).catch((x) => x);
    expect(e).toMatchObject({ status: 503, code: 'login_expired', retryable: true });
    expect(expiredCalls).toEqual([{ instance: 'vic', reason: expect.stringContaining('ExpiredTokenError') }]);
  });
});

describe('start flag and login fallbacks', () => {
  const hs: Harness[] = [];
  afterAll(async () => {
    await Promise.allSettled(hs.map((h) => h.close()));
  });

  it('a binary that refuses --transportType is started again without it', async () => {
    const h = makeProvider({ env: { LINGMA_SIM_LOGGED_IN_AS: 'old', LINGMA_SIM_REJECT_TRANSPORT: '1' } });
    hs.push(h);
    const inst = await readyInstance(h);
    expect(inst.state()).toBe('ready');
    expect((await stats(inst)).transportType).toBeNull();
    expect((await collect(inst.chat(chatReq([user('q')]), ctx()))).finish).toBe('stop');
  }, 60_000);

  it('login/generateUrl unknown (-32601): auth/login gives the URL', async () => {
    const urls: string[] = [];
    const h = makeProvider({
      lingma: { accounts: [{ username: 'ned', password: 'pw' }] },
      env: { LINGMA_SIM_FAULTS: JSON.stringify({ noGenerateUrl: true }) },
      deps: {
        loginDriver: {
          name: 'fake',
          async login(req) {
            urls.push(req.loginUrl);
            const u = new URL(req.loginUrl);
            const auth = Buffer.from(JSON.stringify({ username: 'ned' })).toString('base64url');
            const r = await fetch(`${req.callbackUrl}?state=${u.searchParams.get('state')}&auth=${auth}&token=t`);
            return r.ok ? { kind: 'success' } : { kind: 'failed', reason: `callback ${r.status}` };
          },
          async clear() {},
        },
      },
    });
    hs.push(h);
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    await waitFor(() => inst.loginState().state === 'logged_in', 'logged in through auth/login', 30_000);
    expect(urls).toHaveLength(1);
    expect((await stats(inst)).authLogins).toBe(1);
  }, 60_000);
});
