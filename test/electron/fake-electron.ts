/**
 * An in-memory stand-in for the `electron` module, enough to run the bundled main process in
 * plain Node (the Electron binary cannot be downloaded here). Records what the app does.
 */
import { EventEmitter } from 'node:events';

export class FakeEvent {
  defaultPrevented = false;
  preventDefault() {
    this.defaultPrevented = true;
  }
}

export class FakeSession extends EventEmitter {
  handlers: Record<string, unknown> = {};
  cleared = 0;
  constructor(public readonly partition: string) {
    super();
  }
  setPermissionRequestHandler(h: unknown) {
    this.handlers.request = h;
  }
  setPermissionCheckHandler(h: unknown) {
    this.handlers.check = h;
  }
  setDevicePermissionHandler(h: unknown) {
    this.handlers.device = h;
  }
  setDisplayMediaRequestHandler(h: unknown) {
    this.handlers.display = h;
  }
  async clearStorageData() {
    this.cleared++;
  }
  async clearCache() {}
  async clearAuthCache() {}
}

let nextId = 1;

export class FakeWebContents extends EventEmitter {
  readonly id = nextId++;
  mainFrame = { url: '', parent: null as unknown, framesInSubtree: [] as unknown[], executeJavaScript: async () => undefined };
  openHandler: ((d: { url: string }) => { action: string }) | undefined;
  setWindowOpenHandler(h: (d: { url: string }) => { action: string }) {
    this.openHandler = h;
  }
  async loadURL(url: string) {
    this.mainFrame.url = url;
  }
  reloads = 0;
  reload() {
    this.reloads++;
  }
  async insertCSS(_css: string): Promise<string> {
    return 'key';
  }
}

export class FakeBrowserWindow extends EventEmitter {
  static all: FakeBrowserWindow[] = [];
  readonly webContents = new FakeWebContents();
  visible = false;
  destroyed = false;
  title = '';
  constructor(public readonly options: Record<string, any>) {
    super();
    FakeBrowserWindow.all.push(this);
    fake.app.emit('web-contents-created', new FakeEvent(), this.webContents);
  }
  async loadURL(url: string) {
    await this.webContents.loadURL(url);
    setImmediate(() => this.emit('ready-to-show'));
  }
  show() {
    this.visible = true;
  }
  hide() {
    this.visible = false;
  }
  focus() {}
  restore() {}
  isMinimized() {
    return false;
  }
  isDestroyed() {
    return this.destroyed;
  }
  setTitle(t: string) {
    this.title = t;
  }
  /** What the user's close button does. */
  close() {
    const e = new FakeEvent();
    this.emit('close', e);
    if (!e.defaultPrevented) this.destroy();
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('closed');
  }
}

export class FakeTray extends EventEmitter {
  static all: FakeTray[] = [];
  image: unknown;
  tooltip = '';
  menu: { items: Array<Record<string, any>> } | undefined;
  destroyed = false;
  constructor(image: unknown) {
    super();
    this.image = image;
    FakeTray.all.push(this);
  }
  setImage(i: unknown) {
    this.image = i;
  }
  setToolTip(t: string) {
    this.tooltip = t;
  }
  setContextMenu(m: { items: Array<Record<string, any>> }) {
    this.menu = m;
  }
  destroy() {
    this.destroyed = true;
  }
  click(label: string) {
    const item = this.menu?.items.find((i) => i.label === label);
    if (!item) throw new Error(`no tray menu item ${label}`);
    item.click();
  }
}

class FakeApp extends EventEmitter {
  paths: Record<string, string> = {};
  appPath = '';
  exitCode: number | undefined;
  loginItem: unknown;
  isPackaged = true;
  /** Chromium command-line switches the main process set (name → value). */
  switches = new Map<string, string | undefined>();
  commandLine = {
    appendSwitch: (name: string, value?: string) => {
      this.switches.set(name, value);
    },
  };
  requestSingleInstanceLock() {
    return true;
  }
  async whenReady() {
    fake.calls.push('ready');
  }
  getPath(name: string) {
    const p = this.paths[name];
    if (!p) throw new Error(`no fake path ${name}`);
    return p;
  }
  getAppPath() {
    return this.appPath;
  }
  getVersion() {
    return '0.0.0-test';
  }
  getLoginItemSettings() {
    return { wasOpenedAsHidden: false };
  }
  setLoginItemSettings(s: unknown) {
    this.loginItem = s;
  }
  setAppUserModelId() {}
  quit() {
    const e = new FakeEvent();
    this.emit('before-quit', e);
    if (!e.defaultPrevented) this.exit(0);
  }
  exit(code: number) {
    this.exitCode = code;
    fake.calls.push(`exit:${code}`);
  }
}

class FakeIpcMain extends EventEmitter {
  handlers = new Map<string, (...a: unknown[]) => unknown>();
  handle(ch: string, fn: (...a: unknown[]) => unknown) {
    if (this.handlers.has(ch)) throw new Error(`second handler for ${ch}`);
    this.handlers.set(ch, fn);
  }
  removeHandler(ch: string) {
    this.handlers.delete(ch);
  }
}

export class FakeNotification extends EventEmitter {
  static all: Array<{ title: string; body: string }> = [];
  static isSupported() {
    return true;
  }
  constructor(private readonly opts: { title: string; body: string }) {
    super();
  }
  show() {
    FakeNotification.all.push({ title: this.opts.title, body: this.opts.body });
  }
}

const sessions = new Map<string, FakeSession>();

export const fake = {
  calls: [] as string[],
  clipboardText: '',
  opened: [] as string[],
  privileged: [] as unknown[],
  protocolHandlers: new Map<string, (req: Request) => Promise<Response>>(),
  app: new FakeApp(),
  ipcMain: new FakeIpcMain(),
  messages: [] as unknown[],
};

/** Forget everything recorded (in case two harness files share a worker process). */
export function resetFake(): void {
  fake.calls.length = 0;
  fake.clipboardText = '';
  fake.opened.length = 0;
  fake.privileged.length = 0;
  fake.protocolHandlers.clear();
  fake.messages.length = 0;
  fake.app.removeAllListeners();
  fake.app.exitCode = undefined;
  fake.ipcMain.removeAllListeners();
  fake.ipcMain.handlers.clear();
  FakeBrowserWindow.all.length = 0;
  FakeTray.all.length = 0;
  FakeNotification.all.length = 0;
  sessions.clear();
}

/** The object the bundled main process gets for `require('electron')`. */
export const electronModule = {
  app: fake.app,
  ipcMain: fake.ipcMain,
  BrowserWindow: FakeBrowserWindow,
  Tray: FakeTray,
  Notification: FakeNotification,
  Menu: { buildFromTemplate: (items: unknown[]) => ({ items }) },
  nativeImage: { createFromPath: (p: string) => ({ path: p, setTemplateImage() {} }) },
  clipboard: {
    writeText: (t: string) => {
      fake.clipboardText = t;
    },
    readText: () => fake.clipboardText,
  },
  shell: {
    openExternal: async (u: string) => {
      fake.opened.push(u);
    },
    openPath: async (p: string) => {
      fake.opened.push(p);
      return '';
    },
  },
  dialog: {
    showMessageBox: async (o: unknown) => {
      fake.messages.push(o);
      return { response: 0 };
    },
    showErrorBox: (t: string, c: string) => {
      fake.messages.push({ t, c });
    },
  },
  protocol: {
    registerSchemesAsPrivileged: (s: unknown[]) => {
      fake.calls.push('registerSchemesAsPrivileged');
      fake.privileged.push(...s);
    },
    handle: (scheme: string, h: (req: Request) => Promise<Response>) => {
      fake.protocolHandlers.set(scheme, h);
    },
  },
  session: {
    defaultSession: new FakeSession('default'),
    fromPartition: (p: string) => {
      let s = sessions.get(p);
      if (!s) sessions.set(p, (s = new FakeSession(p)));
      return s;
    },
  },
  safeStorage: {
    isEncryptionAvailable: () => true,
    getSelectedStorageBackend: () => 'gnome_libsecret',
    encryptString: (t: string) => Buffer.concat([Buffer.from('v10'), Buffer.from(Buffer.from(t).map((b) => b ^ 0x3c))]),
    decryptString: (b: Buffer) => Buffer.from(b.subarray(3).map((x) => x ^ 0x3c)).toString(),
  },
};
