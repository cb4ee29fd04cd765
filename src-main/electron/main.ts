/**
 * The Electron main process: wiring only. Every decision lives in the tested modules next to this
 * file (security, protocol, ipc, tray, secrets, login-window + login-page, settings, host, quit, autostart).
 * It hosts the same core as the CLI through `createCore`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { app, BrowserWindow, clipboard, dialog, ipcMain, Menu, nativeImage, Notification, protocol, safeStorage, session, shell, Tray } from 'electron';
import Store, { type Schema } from 'electron-store';
import { loadConfig } from '../core/config/load';
import { ensureDataDir } from '../core/config/datadir';
import { createCore, type Relay } from '../core/relay';
import { HIDDEN_FLAG, setStartAtLogin, startedHidden } from './autostart';
import { GatewayHost, loginAll, signIn } from './host';
import { registerIpc } from './ipc';
import { WindowLoginDriver } from './login-window';
import { clearLoginPartition, electronLoginPageFactory } from './login-page';
import { createAppProtocolHandler } from './protocol';
import { installQuitHandler } from './quit';
import { SafeStorageSecretStore } from './secrets';
import {
  APP_ENTRY_URL,
  APP_ORIGIN,
  APP_SCHEME,
  appSchemePrivileges,
  buildCsp,
  denyAllPermissions,
  guardAppWebContents,
  installGlobalGuards,
  isLoopbackHost,
  mainWindowWebPreferences,
  type Log,
} from './security';
import { buildDesktopConfig, ensureDesktopSecrets, firstApiKey, readSettings, SETTINGS_SCHEMA, type DesktopSettings } from './settings';
import { StatusNotifier } from './notify';
import { TrayBinder, type TrayAction } from './tray';
import { AutoUpdate, type UpdaterLike } from './updater';

const log: Log = (level, msg) => {
  const line = `[desktop] ${msg}`;
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
};

/** Grace for in-flight requests + ledger flush + backend stop before the app exits anyway. */
const QUIT_TIMEOUT_MS = 20_000;

// Must happen before `ready`.
protocol.registerSchemesAsPrivileged([appSchemePrivileges()]);
// The gateway's V8 heap flags (bin/serve-flags.mjs says why): a small young generation and an old
// generation that grows by half of what survived, which keep the main process's footprint down
// at idle and under load. (`--v8-pool-size` is a Node option, not a V8 flag: Electron has no way to take it.)
app.commandLine.appendSwitch('js-flags', '--max-semi-space-size=2 --heap-growing-percent=50');

if (!app.requestSingleInstanceLock()) {
  // Another instance runs: it gets `second-instance` and shows its window.
  app.quit();
} else {
  void main().catch((e: unknown) => {
    log('error', `startup failed: ${(e as Error)?.stack ?? String(e)}`);
    dialog.showErrorBox('Lingma Relay could not start', (e as Error)?.message ?? String(e));
    app.exit(1);
  });
}

/** The gateway URL the dashboard uses: always a loopback address (0.0.0.0 binds are reached locally). */
function loopbackUrl(url: string): string {
  const u = new URL(url);
  if (!isLoopbackHost(u.hostname)) u.hostname = u.hostname.includes(':') || u.hostname === '[::]' ? '[::1]' : '127.0.0.1';
  return u.origin;
}

async function main(): Promise<void> {
  if (process.platform === 'win32') app.setAppUserModelId('dev.lingma.relay');
  await app.whenReady();
  const hidden = startedHidden(process.argv, app.getLoginItemSettings().wasOpenedAsHidden);

  installGlobalGuards(app, log);
  denyAllPermissions(session.defaultSession);

  const userData = app.getPath('userData');
  ensureDataDir(userData, {
    onTightened: (oldMode) => log('info', `data folder ${userData} was readable by others (mode ${oldMode.toString(8)}); tightened to 700`),
  });
  const appRoot = app.getAppPath();
  const rendererRoot = path.join(appRoot, 'dist', 'renderer');
  const assetsRoot = path.join(appRoot, 'dist', 'assets');
  const appIcon = path.join(assetsRoot, 'icon.png');

  const store = new Store<DesktopSettings>({
    name: 'settings',
    cwd: userData,
    schema: SETTINGS_SCHEMA as unknown as Schema<DesktopSettings>,
    clearInvalidConfig: true,
  });
  // SECURITY: electron-store answers a sync IPC channel with the userData path for renderer-side
  // stores; no renderer of ours uses it, so nothing gets to ask.
  ipcMain.removeAllListeners('electron-store-get-data');
  const settings = (): DesktopSettings => readSettings(store.store, (m) => log('warn', m));

  const secrets = new SafeStorageSecretStore(safeStorage, path.join(userData, 'secrets.json'), log);
  if (secrets.protection === 'basic') log('warn', 'no OS keyring: secrets get basic protection only (the dashboard says so)');

  const loginDriver = new WindowLoginDriver({
    createPage: electronLoginPageFactory({ BrowserWindow, fromPartition: (p) => session.fromPartition(p), log, icon: appIcon }),
    clearPartition: (p) => clearLoginPartition((x) => session.fromPartition(x), p),
    log,
  });

  /** The core Relay behind the host's RelayLike (for its admin token). */
  const relays = new WeakMap<object, Relay>();
  let tray: Tray | undefined;
  let binder: TrayBinder | undefined;
  let win: BrowserWindow | undefined;

  const host = new GatewayHost({
    log,
    onChange: () => binder?.schedule(),
    create: async () => {
      const loaded = loadConfig({ flags: { dataDir: userData } });
      const desktop = await ensureDesktopSecrets(secrets);
      const config = buildDesktopConfig(loaded.config, settings(), desktop);
      const relay = await createCore({
        config,
        dataDir: userData,
        secrets,
        loginDriver,
        // The desktop always runs the Lingma pool, so accounts can be added from the dashboard.
        lingma: 'always',
        extraOrigins: [APP_ORIGIN],
        rendererDir: rendererRoot,
        version: app.getVersion(),
      });
      relays.set(relay as object, relay);
      return { relay, config };
    },
  });
  const gatewayUrl = (): string | undefined => {
    const u = host.url();
    return u ? loopbackUrl(u) : undefined;
  };

  protocol.handle(APP_SCHEME, createAppProtocolHandler({ root: rendererRoot, csp: () => buildCsp(gatewayUrl()) }));

  /** `hash`: a dashboard route to open (`#/instances?fix=<account>`). */
  const showWindow = (hash?: string) => {
    if (!win || win.isDestroyed()) win = createWindow();
    if (hash) void win.loadURL(`${APP_ENTRY_URL}${hash}`);
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  };

  let quit: ReturnType<typeof installQuitHandler> | undefined;
  const createWindow = (): BrowserWindow => {
    const w = new BrowserWindow({
      width: 1200,
      height: 800,
      minWidth: 760,
      minHeight: 520,
      show: false,
      title: 'Lingma Relay',
      icon: appIcon,
      autoHideMenuBar: true,
      webPreferences: mainWindowWebPreferences(path.join(__dirname, 'preload.cjs'), { devTools: !app.isPackaged }),
    });
    guardAppWebContents(w.webContents, { openExternal: (u) => void shell.openExternal(u), log });
    w.once('ready-to-show', () => w.show());
    // A crashed dashboard reloads itself (the gateway is unaffected: it lives in this process).
    w.webContents.on('render-process-gone', (_e, details) => {
      log('warn', `dashboard renderer gone (${details.reason}); reloading`);
      if (details.reason !== 'clean-exit' && !w.isDestroyed()) w.webContents.reload();
    });
    // Closing the window keeps the app in the tray.
    w.on('close', (e) => {
      if (quit?.quitting) return;
      e.preventDefault();
      w.hide();
    });
    void w.loadURL(APP_ENTRY_URL);
    return w;
  };

  const unregisterIpc = registerIpc(ipcMain, {
    mainWebContents: () => (win && !win.isDestroyed() ? win.webContents : undefined),
    admin: () => {
      const url = gatewayUrl();
      const relay = host.relay ? relays.get(host.relay) : undefined;
      const token = relay?.adminToken() ?? host.config?.server.adminToken;
      if (!url || !token) throw new Error('The gateway is not running.');
      return { url, token };
    },
    openExternal: (u) => shell.openExternal(u),
    copyText: (t) => clipboard.writeText(t),
    revealDataFolder: () => void shell.openPath(userData),
    secretProtection: () => secrets.protection,
    notifications: () => settings().notifications,
    setNotifications: (on) => {
      store.set('notifications', on);
      binder?.refresh();
      return settings().notifications;
    },
    log,
  });

  const startGateway = () =>
    host.start().catch(async () => {
      await dialog.showMessageBox({
        type: 'error',
        title: 'Lingma Relay',
        message: 'The gateway could not start.',
        detail: host.lastError ?? 'Unknown error.',
      });
    });

  /** The dashboard's edit of an account, password field focused. */
  const fixPassword = (name: string) => showWindow(`#/instances?fix=${encodeURIComponent(name)}`);
  const signInAccount = (name: string) => {
    void signIn(host.relay, name, log).then((ok) => {
      if (!ok) showWindow('#/instances');
    });
  };

  const onAction = (a: TrayAction, instance?: string) => {
    switch (a) {
      case 'open-dashboard':
        return showWindow();
      case 'sign-in':
        if (instance) signInAccount(instance);
        return;
      case 'fix-password':
        if (instance) fixPassword(instance);
        return;
      case 'toggle-notifications':
        store.set('notifications', !settings().notifications);
        return binder?.refresh();
      case 'copy-endpoint': {
        const u = gatewayUrl();
        if (u) clipboard.writeText(`${u}/v1`);
        return;
      }
      case 'copy-api-key': {
        const k = host.config ? firstApiKey(host.config) : undefined;
        if (k) clipboard.writeText(k);
        return;
      }
      case 'login-all':
        return void loginAll(host.relay, log);
      case 'toggle-pause': {
        if (settings().paused) {
          store.set('paused', false);
          void startGateway();
        } else if (host.status === 'stopped') {
          void startGateway();
        } else {
          store.set('paused', true);
          void host.stop();
        }
        return binder?.refresh();
      }
      case 'toggle-start-at-login': {
        const next = !settings().startAtLogin;
        store.set('startAtLogin', next);
        void setStartAtLogin(next, {
          app,
          platform: process.platform,
          configHome: process.env.XDG_CONFIG_HOME || path.join(app.getPath('home'), '.config'),
          exec: process.env.APPIMAGE || process.execPath,
        }).catch((e: unknown) => log('warn', `start at login: ${(e as Error).message}`));
        return binder?.refresh();
      }
      case 'quit':
        return app.quit();
    }
  };

  const trayImage = (name: string) => {
    const file = process.platform === 'darwin' ? `${name}Template.png` : `${name}.png`;
    const img = nativeImage.createFromPath(path.join(assetsRoot, 'tray', file));
    if (process.platform === 'darwin') img.setTemplateImage(true);
    return img;
  };
  const notifier = new StatusNotifier({
    create: Notification.isSupported() ? (o) => new Notification({ ...o, icon: appIcon }) : undefined,
    enabled: () => settings().notifications,
    onClick: (name, d) => {
      if (d.action === 'fix_password') fixPassword(name);
      else if (d.kind === 'needs_person') signInAccount(name);
      else showWindow('#/instances');
    },
  });
  tray = new Tray(trayImage('tray-down'));
  tray.on('click', () => showWindow());
  binder = new TrayBinder({
    tray,
    buildMenu: (t) => Menu.buildFromTemplate(t),
    image: trayImage,
    onAction,
    onStatuses: (s) => notifier.update(s),
    input: () => {
      const s = settings();
      const url = gatewayUrl();
      return {
        instances: host.snapshots(),
        paused: s.paused,
        startAtLogin: s.startAtLogin,
        notifications: s.notifications,
        endpointUrl: url ? `${url}/v1` : '',
        hasApiKey: !!(host.config && firstApiKey(host.config)),
        gatewayError: host.status === 'stopped' ? host.lastError : undefined,
        availability: (name: string) => host.availabilityOf(name),
      };
    },
  });
  binder.refresh();

  const updates = new AutoUpdate({
    // electron-builder writes the `publish` feed of electron-builder.yml into resources/app-update.yml.
    feedConfigured: () => app.isPackaged && typeof process.resourcesPath === 'string' && existsSync(path.join(process.resourcesPath, 'app-update.yml')),
    load: async () => {
      const m = (await import('electron-updater')) as unknown as { autoUpdater?: UpdaterLike; default?: { autoUpdater: UpdaterLike } };
      return (m.autoUpdater ?? m.default!.autoUpdater);
    },
    enabled: () => settings().autoUpdate,
    askDownload: async (info) => (await dialog.showMessageBox({
      type: 'info',
      title: 'Lingma Relay',
      message: `Lingma Relay ${info.version} is available.`,
      detail: 'Download it now? Updates are never downloaded without asking (a metered connection cannot be told apart). It installs when you quit Lingma Relay.',
      buttons: ['Download', 'Later'],
      defaultId: 0,
      cancelId: 1,
    })).response === 0,
    askRestart: async (info) => (await dialog.showMessageBox({
      type: 'info',
      title: 'Lingma Relay',
      message: `Lingma Relay ${info.version} is ready to install.`,
      detail: 'Restart now to install it, or it installs when you quit.',
      buttons: ['Restart Now', 'Later'],
      defaultId: 1,
      cancelId: 1,
    })).response === 0,
    log,
  });

  quit = installQuitHandler({
    app,
    timeoutMs: QUIT_TIMEOUT_MS,
    log,
    shutdown: async () => {
      updates.stop();
      binder?.dispose();
      unregisterIpc();
      await host.stop();
      tray?.destroy();
    },
  });

  app.on('second-instance', () => showWindow());
  app.on('activate', () => showWindow());
  // The tray keeps the app alive with no window.
  app.on('window-all-closed', () => undefined);

  if (!settings().paused) await startGateway();
  if (!hidden) showWindow();
  void updates.start().catch((e: unknown) => log('warn', `auto-update: ${(e as Error).message}`));
  log('info', `started${hidden ? ` hidden (${HIDDEN_FLAG})` : ''}; data in ${userData}`);
}
