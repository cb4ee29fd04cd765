/**
 * The dashboard window's preload. Runs sandboxed: only `contextBridge` and `ipcRenderer` from
 * electron; bundled to CJS with ipc-contract. SECURITY: exposes seven narrow functions, never
 * ipcRenderer itself; arguments are checked here and again in the main process.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { IPC, isAdminInfo, isSecretProtection, validateArgs, type RelayDesktopApi } from './ipc-contract';

const api: RelayDesktopApi = {
  async admin() {
    const v: unknown = await ipcRenderer.invoke(IPC.admin, ...validateArgs(IPC.admin, []));
    if (!isAdminInfo(v)) throw new Error('The desktop app returned no admin endpoint.');
    return { url: v.url, token: v.token };
  },
  async openExternal(url: string) {
    return (await ipcRenderer.invoke(IPC.openExternal, ...validateArgs(IPC.openExternal, [url]))) === true;
  },
  async copyText(text: string) {
    await ipcRenderer.invoke(IPC.copyText, ...validateArgs(IPC.copyText, [text]));
  },
  async revealDataFolder() {
    await ipcRenderer.invoke(IPC.revealDataFolder, ...validateArgs(IPC.revealDataFolder, []));
  },
  async secretProtection() {
    const v: unknown = await ipcRenderer.invoke(IPC.secretProtection, ...validateArgs(IPC.secretProtection, []));
    if (!isSecretProtection(v)) throw new Error('The desktop app returned an unknown secret protection level.');
    return v;
  },
  async notifications() {
    return (await ipcRenderer.invoke(IPC.notifications, ...validateArgs(IPC.notifications, []))) === true;
  },
  async setNotifications(on: boolean) {
    return (await ipcRenderer.invoke(IPC.setNotifications, ...validateArgs(IPC.setNotifications, [on]))) === true;
  },
};

contextBridge.exposeInMainWorld('relayDesktop', Object.freeze(api));
