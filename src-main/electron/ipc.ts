/**
 * SECURITY: the main-process side of the dashboard IPC. Every handler first checks its sender (our
 * main window's top frame, showing the app protocol), then validates its arguments, then acts.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { IPC, IpcArgumentError, validateArgs, type AdminInfo, type IpcChannel, type SecretProtection } from './ipc-contract';
import { isAppUrl, validateExternalUrl, type Log } from './security';

export interface IpcDeps {
  /** The dashboard window's WebContents (undefined while no window exists). */
  mainWebContents(): WebContents | undefined;
  admin(): AdminInfo;
  openExternal(url: string): Promise<void>;
  copyText(text: string): void;
  revealDataFolder(): void;
  secretProtection(): SecretProtection;
  /** The desktop-notifications setting, read and written (Settings in the dashboard). */
  notifications(): boolean;
  setNotifications(on: boolean): boolean;
  log?: Log;
}

/**
 * SECURITY: accept only our main window's top-level frame, on the app origin. A sub-frame, another
 * window, a destroyed frame or a page that navigated away is refused.
 */
export function isTrustedSender(event: IpcMainInvokeEvent, main: WebContents | undefined): boolean {
  // Compare WebContents ids (stable for the life of the window), not wrapper identity.
  if (!main || !event.sender || event.sender.id !== main.id) return false;
  const frame = event.senderFrame;
  if (!frame || frame.parent !== null) return false;
  // Node's URL gives `null` as the origin of custom schemes: compare scheme and host instead.
  return isAppUrl(frame.url);
}

export class IpcSenderError extends Error {
  constructor() {
    super('IPC refused: unexpected sender.');
    this.name = 'IpcSenderError';
  }
}

/** Registers the handlers; returns a function that removes them. */
export function registerIpc(ipcMain: IpcMain, deps: IpcDeps): () => void {
  const handle = (channel: IpcChannel, fn: (args: unknown[]) => unknown) => {
    ipcMain.handle(channel, async (event: IpcMainInvokeEvent, ...raw: unknown[]) => {
      if (!isTrustedSender(event, deps.mainWebContents())) {
        deps.log?.('warn', `IPC ${channel} refused: untrusted sender`);
        throw new IpcSenderError();
      }
      let args: unknown[];
      try {
        args = validateArgs(channel, raw);
      } catch (e) {
        deps.log?.('warn', `IPC ${channel} refused: ${(e as Error).message}`);
        throw e;
      }
      return fn(args);
    });
  };
  handle(IPC.admin, () => deps.admin());
  handle(IPC.openExternal, async ([url]) => {
    const ok = validateExternalUrl(url);
    if (!ok) {
      deps.log?.('warn', 'IPC open-external refused a URL that is neither https nor loopback http');
      return false;
    }
    await deps.openExternal(ok);
    return true;
  });
  handle(IPC.copyText, ([text]) => {
    deps.copyText(text as string);
  });
  handle(IPC.revealDataFolder, () => {
    deps.revealDataFolder();
  });
  handle(IPC.secretProtection, () => deps.secretProtection());
  handle(IPC.notifications, () => deps.notifications());
  handle(IPC.setNotifications, ([on]) => deps.setNotifications(on as boolean));
  return () => {
    for (const ch of Object.values(IPC)) ipcMain.removeHandler(ch);
  };
}

export { IpcArgumentError };
