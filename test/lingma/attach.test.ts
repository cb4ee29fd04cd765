/**
 * Serving through a running app (spec §7) against the simulator run as a user's app: found through
 * a fake home's SharedClientCache, signed in there, never stopped / restarted / logged out by us.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AttachedInstance } from '../../src-main/core/backends/lingma/attach/attached';
import { advertise, fakeHome, startSimApp, type SimApp } from '../sim/attach';
import { chatReq, collect, ctx, makeProvider, user, waitFor, type Harness } from './helpers';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function app(opts: Parameters<typeof startSimApp>[0] = {}): Promise<SimApp> {
  const a = await startSimApp(opts);
  cleanups.push(() => a.kill());
  return a;
}

function home(): string {
  const h = fakeHome();
  cleanups.push(() => rmSync(h, { recursive: true, force: true }));
  return h;
}

/** A provider with no accounts whose app discovery looks only in `h`. */
function provider(h: string, lingma: Record<string, unknown> = {}): Harness {
  const harness = makeProvider({ lingma, deps: { attach: { home: h, env: {}, platform: process.platform === 'win32' ? 'linux' : process.platform, pollMs: 300, debounceMs: 20 } } });
  cleanups.push(() => harness.close());
  return harness;
}

async function attachedReady(h: Harness): Promise<AttachedInstance> {
  await h.provider.start();
  await h.provider.whenStarted();
  const inst = await waitFor(() => h.provider.attachedInstance(), 'the attached instance');
  await waitFor(() => inst.state() === 'ready' && inst.loginState().state !== 'logged_out', 'the attached instance to connect and read its sign-in');
  return inst;
}

describe('attaching to a running app', () => {
  it('serves a signed-in app as lingma-app: ready, logged in, its models, no extra process, and leaves it running on stop', async () => {
    const a = await app({ signedInAs: 'alice' });
    const h = home();
    advertise(h, a);
    const harness = provider(h);
    const inst = await attachedReady(harness);

    expect(harness.provider.instances().map((i) => i.name)).toEqual(['lingma-app']);
    expect(harness.provider.lingmaInstances()).toHaveLength(0); // no default instance spawned
    const snap = inst.snapshot();
    expect(snap).toMatchObject({ name: 'lingma-app', provider: 'lingma', kind: 'lingma', state: 'ready', login: { state: 'logged_in', user: 'alice' } });
    expect(snap.extra).toMatchObject({ attached: true, app: 'lingma', appName: 'Lingma', pid: a.pid, transport: `ws://127.0.0.1:${a.socketPort}/` });
    await waitFor(() => harness.provider.resolveModel('Qwen3-Coder'), 'the app\'s models');
    await inst.probe(new AbortController().signal);

    await harness.provider.stop();
    expect(a.alive()).toBe(true);
    const stats = await a.sim();
    expect(stats).toMatchObject({ logouts: 0, loggedIn: true, user: 'alice' });
  });

  it('a signed-out app needs a person: never logged in or out by the relay', async () => {
    const a = await app({ signedInAs: false });
    const h = home();
    advertise(h, a, { under: join('.qodercn', 'vscode') });
    const harness = provider(h);
    const inst = await attachedReady(harness);
    expect(inst.name).toBe('qodercn-app');
    expect(inst.loginState()).toMatchObject({ state: 'needs_manual', reason: expect.stringMatching(/sign in inside the Qoder CN app/) });
    await expect(inst.ensureReady(new AbortController().signal)).rejects.toMatchObject({ status: 503, code: 'login_required' });
    await expect(inst.probe(new AbortController().signal)).rejects.toMatchObject({ code: 'login_required' });
    // Admin actions are refused, clearly.
    await expect(harness.provider.accounts.login('qodercn-app')).rejects.toMatchObject({ status: 400, code: 'attached_instance' });
    await expect(harness.provider.accounts.logout('qodercn-app')).rejects.toMatchObject({ status: 400, code: 'attached_instance' });
    await expect(harness.provider.accounts.restart('qodercn-app')).rejects.toMatchObject({ status: 400, code: 'attached_instance' });
    expect((inst as unknown as Record<string, unknown>).logout).toBeUndefined();
    expect((inst as unknown as Record<string, unknown>).restart).toBeUndefined();
    const stats = await a.sim();
    expect(stats).toMatchObject({ logouts: 0, loggedIn: false });
    expect((stats.unknownMethods as string[]).filter((m) => /login|auth\/logout/.test(m))).toEqual([]);

    // The person signs in inside the app: the relay notices on its next look.
    await a.sim({ login: 'bob' });
    await inst.ensureReady(new AbortController().signal);
    expect(inst.loginState()).toMatchObject({ state: 'logged_in', user: 'bob' });
    expect((await a.sim()).logouts).toBe(0);
  });

  it('reconnects when the advertised port changes, and after a dropped connection', async () => {
    const first = await app({ signedInAs: 'carol' });
    const h = home();
    advertise(h, first);
    const harness = provider(h);
    const inst = await attachedReady(harness);

    // The connection drops; the app keeps running: reconnect with backoff.
    const reconnecting = new Promise<void>((r) => inst.events.on('state', (s) => s.state === 'reconnecting' && r()));
    await first.sim({ dropSockets: true });
    await reconnecting;
    await waitFor(() => inst.state() === 'ready', 'reconnect after a drop');

    // The app restarts on another port: the file changes, the relay follows.
    const second = await app({ signedInAs: 'carol' });
    advertise(h, second);
    await waitFor(() => inst.snapshot().extra?.transport === `ws://127.0.0.1:${second.socketPort}/` && inst.state() === 'ready', 'reconnect to the new port');
    expect(inst.snapshot().extra).toMatchObject({ pid: second.pid });
    expect(harness.provider.attachedInstance()).toBe(inst);
    expect(first.alive()).toBe(true); // never stopped by us
  });

  it('drops the instance when the app quits (stale file), and finds the app again when it comes back', async () => {
    const a = await app({ signedInAs: 'dave' });
    const h = home();
    advertise(h, a);
    const harness = provider(h);
    await attachedReady(harness);
    await a.kill();
    await waitFor(() => !harness.provider.attachedInstance(), 'the attached instance to go');
    expect(harness.provider.instances()).toHaveLength(0);
    const b = await app({ signedInAs: 'dave' });
    advertise(h, b);
    const inst = await waitFor(() => harness.provider.attachedInstance(), 'the app found again');
    await waitFor(() => inst.state() === 'ready', 'connected again');
  });

  it('attaches over the Unix socket when the file names only an IPC path', async () => {
    if (process.platform === 'win32') return;
    const a = await app({ signedInAs: 'erin', ipc: true });
    const h = home();
    advertise(h, a, { noPort: true });
    const inst = await attachedReady(provider(h));
    expect(inst.snapshot().extra).toMatchObject({ transport: a.ipcPath });
    expect(inst.loginState()).toMatchObject({ state: 'logged_in', user: 'erin' });
    expect((await a.sim()).connections).toBe(1);
  });

  it('attach: off looks for nothing; an account named like the app keeps its name', async () => {
    const a = await app({ signedInAs: 'frank' });
    const h = home();
    advertise(h, a);
    const off = provider(h, { attach: 'off' });
    await off.provider.start();
    expect(off.provider.attachedInstance()).toBeUndefined();
    expect(off.provider.instances().map((i) => i.name)).toEqual(['lingma-1']);
    expect((await a.sim()).connections).toBe(0);

    const on = provider(h, { accounts: [{ username: 'x', password: 'y', name: 'lingma-app' }] });
    await on.provider.start();
    const inst = await waitFor(() => on.provider.attachedInstance(), 'the attached instance');
    expect(inst.name).toBe('lingma-app-2');
    expect(on.provider.instances().map((i) => i.name).sort()).toEqual(['lingma-app', 'lingma-app-2']);
  });

  for (const dialect of ['chat', 'session'] as const) {
    it(`chats through the attached app speaking the ${dialect} dialect, continuing its session with only the new turn`, async () => {
      const a = await app({ signedInAs: 'gina' });
      await a.sim({ dialect });
      const h = home();
      advertise(h, a);
      const inst = await attachedReady(provider(h));
      expect(inst.snapshot().extra).toMatchObject({ chat: 'ready' });

      const first = await collect(inst.chat(chatReq([user('first question')]), ctx({ apiKeyId: 'k1' })));
      expect(first.text.length).toBeGreaterThan(0);
      expect(first.finish).toBe('stop');
      const second = await collect(inst.chat(chatReq([user('first question'), { role: 'assistant', content: [{ type: 'text', text: first.text }] }, user('second question')]), ctx({ apiKeyId: 'k1' })));
      expect(second.finish).toBe('stop');

      const st = await a.sim();
      const turns = (dialect === 'chat' ? st.asks : st.prompts) as Array<{ text: string; sessionIdIn: string }>;
      expect(turns).toHaveLength(2);
      // The second turn continues the runtime's session and carries only the new message.
      expect(turns[1].sessionIdIn).not.toBe('');
      expect(turns[1].text).toContain('second question');
      expect(turns[1].text).not.toContain('first question');
      expect(a.alive()).toBe(true);
    });
  }
});
