/**
 * Auto-update through `electron-updater` (electron-builder's), kept thin: every decision is here,
 * the updater itself is injected (tests pass a fake; `main.ts` passes `autoUpdater`, loaded only
 * when a feed exists).
 *
 * The feed is the `publish` entry of `electron-builder.yml`: electron-builder writes it into the
 * packaged app as `resources/app-update.yml`, which is what electron-updater reads. No such file
 * (no `publish` configured, or an unpackaged run) = auto-update is off and electron-updater is not
 * even loaded. The `autoUpdate` setting turns it off as well.
 *
 * The metered-connection rule: Electron cannot tell a metered connection (`net.isOnline` only says
 * online), so the updater never downloads on its own: `autoDownload = false` always. A check only
 * fetches the small feed file; when it names a newer version the person is asked ("Download" /
 * "Later"), and only "Download" fetches the update. A downloaded update is installed when the app
 * quits, or at once if the person chooses "Restart now".
 */

export interface UpdateInfoLike {
  version: string;
  releaseName?: string | null;
}

/** The part of electron-updater's `AppUpdater` used here. */
export interface UpdaterLike {
  autoDownload: boolean;
  autoInstallOnAppQuit: boolean;
  checkForUpdates(): Promise<unknown>;
  downloadUpdate(): Promise<unknown>;
  quitAndInstall(): void;
  on(event: 'update-available', listener: (info: UpdateInfoLike) => void): unknown;
  on(event: 'update-downloaded', listener: (info: UpdateInfoLike) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface AutoUpdateDeps {
  /** Is a release feed configured (`app-update.yml` in the packaged app's resources)? */
  feedConfigured(): boolean;
  /** The updater, loaded only when a feed is configured (`(await import('electron-updater')).autoUpdater`). */
  load(): Promise<UpdaterLike>;
  /** The `autoUpdate` setting. */
  enabled(): boolean;
  /** Ask the person whether to download `version` now (a dialog). */
  askDownload(info: UpdateInfoLike): Promise<boolean>;
  /** Ask whether to restart now to install (else it installs on quit). */
  askRestart(info: UpdateInfoLike): Promise<boolean>;
  log(level: 'info' | 'warn', msg: string): void;
  /** Time between checks (default a day). */
  intervalMs?: number;
  setInterval?(fn: () => void, ms: number): { unref?(): void };
  clearInterval?(t: unknown): void;
}

export type UpdateState = 'off-no-feed' | 'off-setting' | 'idle' | 'checking' | 'asking' | 'downloading' | 'downloaded' | 'declined' | 'error';

export class AutoUpdate {
  state: UpdateState = 'idle';
  private updater: UpdaterLike | undefined;
  private timer: unknown;
  /** Versions the person said "Later" to: not asked again until the next start. */
  private readonly declined = new Set<string>();

  constructor(private readonly deps: AutoUpdateDeps) {}

  /** Off without a feed or with the setting off; else loads the updater and checks now and daily. */
  async start(): Promise<UpdateState> {
    if (!this.deps.feedConfigured()) {
      this.state = 'off-no-feed';
      this.deps.log('info', 'auto-update off: no release feed configured (publish in electron-builder.yml)');
      return this.state;
    }
    if (!this.deps.enabled()) {
      this.state = 'off-setting';
      return this.state;
    }
    const u = await this.deps.load();
    // Never in the background: a metered connection cannot be told apart (see the file comment).
    u.autoDownload = false;
    u.autoInstallOnAppQuit = true;
    u.on('update-available', (info) => void this.offer(info));
    u.on('update-downloaded', (info) => void this.downloaded(info));
    u.on('error', (err) => {
      this.state = 'error';
      this.deps.log('warn', `auto-update: ${err.message.split('\n')[0]}`);
    });
    this.updater = u;
    const every = this.deps.intervalMs ?? 24 * 60 * 60 * 1000;
    const t = (this.deps.setInterval ?? setInterval)(() => void this.check(), every);
    t.unref?.();
    this.timer = t;
    await this.check();
    return this.state;
  }

  /** Fetches the feed (small); a newer version leads to a question, not a download. */
  async check(): Promise<void> {
    const u = this.updater;
    if (!u || !this.deps.enabled() || this.state === 'downloading' || this.state === 'downloaded' || this.state === 'asking') return;
    this.state = 'checking';
    try {
      await u.checkForUpdates();
      if (this.state === 'checking') this.state = 'idle';
    } catch (e) {
      this.state = 'error';
      this.deps.log('warn', `auto-update check failed: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  private async offer(info: UpdateInfoLike): Promise<void> {
    const u = this.updater;
    if (!u || this.declined.has(info.version) || this.state === 'downloading' || this.state === 'downloaded') return;
    this.state = 'asking';
    let yes = false;
    try {
      yes = await this.deps.askDownload(info);
    } catch {
      yes = false;
    }
    if (!yes) {
      this.declined.add(info.version);
      this.state = 'declined';
      this.deps.log('info', `update ${info.version} available; not downloaded (the person chose later)`);
      return;
    }
    this.state = 'downloading';
    try {
      await u.downloadUpdate();
    } catch (e) {
      this.state = 'error';
      this.deps.log('warn', `update download failed: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  private async downloaded(info: UpdateInfoLike): Promise<void> {
    this.state = 'downloaded';
    let now = false;
    try {
      now = await this.deps.askRestart(info);
    } catch {
      now = false;
    }
    if (now) this.updater?.quitAndInstall();
    else this.deps.log('info', `update ${info.version} downloaded; it installs when Lingma Relay quits`);
  }

  stop(): void {
    if (this.timer !== undefined) (this.deps.clearInterval ?? clearInterval)(this.timer as NodeJS.Timeout);
    this.timer = undefined;
  }
}
