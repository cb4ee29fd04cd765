/**
 * Auto-update (src-main/electron/updater.ts) with the updater injected (no network): off without a
 * feed (the updater is not even loaded) or with the setting off; never downloads without asking
 * (autoDownload stays false); downloads only after "Download"; asks to restart once downloaded.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { AutoUpdate, type AutoUpdateDeps, type UpdateInfoLike, type UpdaterLike } from '../../src-main/electron/updater';

class FakeUpdater extends EventEmitter implements UpdaterLike {
  autoDownload = true;
  autoInstallOnAppQuit = false;
  checks = 0;
  downloads = 0;
  installs = 0;
  /** What the feed says on the next check. */
  feed: UpdateInfoLike | undefined;
  fail: Error | undefined;
  async checkForUpdates() {
    this.checks++;
    if (this.fail) throw this.fail;
    if (this.feed) this.emit('update-available', this.feed);
    return { updateInfo: this.feed };
  }
  async downloadUpdate() {
    this.downloads++;
    queueMicrotask(() => this.emit('update-downloaded', this.feed));
    return [];
  }
  quitAndInstall() {
    this.installs++;
  }
}

function deps(over: Partial<AutoUpdateDeps> & { updater?: FakeUpdater } = {}) {
  const updater = over.updater ?? new FakeUpdater();
  const logs: string[] = [];
  const d: AutoUpdateDeps = {
    feedConfigured: () => true,
    load: vi.fn(async () => updater),
    enabled: () => true,
    askDownload: vi.fn(async () => true),
    askRestart: vi.fn(async () => false),
    log: (_l, m) => logs.push(m),
    setInterval: () => ({ unref() {} }),
    clearInterval: () => undefined,
    ...over,
  };
  return { d, updater, logs };
}

describe('auto-update', () => {
  it('off when no release feed is configured: electron-updater is not loaded', async () => {
    const { d, logs } = deps({ feedConfigured: () => false });
    const u = new AutoUpdate(d);
    expect(await u.start()).toBe('off-no-feed');
    expect(d.load).not.toHaveBeenCalled();
    expect(logs.join('\n')).toContain('no release feed configured');
  });

  it('off when the setting is off', async () => {
    const { d } = deps({ enabled: () => false });
    expect(await new AutoUpdate(d).start()).toBe('off-setting');
    expect(d.load).not.toHaveBeenCalled();
  });

  it('never downloads without asking; "Later" leaves it alone (and is not asked again for that version)', async () => {
    const updater = new FakeUpdater();
    updater.feed = { version: '9.9.9' };
    const { d } = deps({ updater, askDownload: vi.fn(async () => false) });
    const u = new AutoUpdate(d);
    await u.start();
    await vi.waitFor(() => expect(u.state).toBe('declined'));
    expect(updater.autoDownload).toBe(false);
    expect(updater.autoInstallOnAppQuit).toBe(true);
    expect(d.askDownload).toHaveBeenCalledWith({ version: '9.9.9' });
    expect(updater.downloads).toBe(0);
    await u.check();
    expect(updater.checks).toBe(2);
    expect(d.askDownload).toHaveBeenCalledTimes(1);
    expect(updater.downloads).toBe(0);
  });

  it('"Download" downloads; once downloaded it asks to restart, and "Restart Now" installs', async () => {
    const updater = new FakeUpdater();
    updater.feed = { version: '9.9.9' };
    const { d } = deps({ updater, askRestart: vi.fn(async () => true) });
    const u = new AutoUpdate(d);
    await u.start();
    await vi.waitFor(() => expect(updater.installs).toBe(1));
    expect(updater.downloads).toBe(1);
    expect(d.askRestart).toHaveBeenCalledWith({ version: '9.9.9' });
    expect(u.state).toBe('downloaded');
  });

  it('no newer version: nothing asked; a failing check is logged, not thrown', async () => {
    const updater = new FakeUpdater();
    const { d, logs } = deps({ updater });
    const u = new AutoUpdate(d);
    expect(await u.start()).toBe('idle');
    expect(d.askDownload).not.toHaveBeenCalled();
    updater.fail = new Error('net::ERR_INTERNET_DISCONNECTED\nstack');
    await u.check();
    expect(u.state).toBe('error');
    expect(logs.at(-1)).toBe('auto-update check failed: net::ERR_INTERNET_DISCONNECTED');
  });

  it('checks again on its interval', async () => {
    let tick: (() => void) | undefined;
    const updater = new FakeUpdater();
    const { d } = deps({ updater, setInterval: (fn) => { tick = fn; return {}; } });
    await new AutoUpdate(d).start();
    expect(updater.checks).toBe(1);
    tick!();
    await vi.waitFor(() => expect(updater.checks).toBe(2));
  });
});
