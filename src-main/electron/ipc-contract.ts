/**
 * The IPC contract between the preload and the main process: channel names and argument checks.
 * Used on both sides (the preload is bundled with it), so bad input is refused before it is sent
 * and again when it arrives. No Node or Electron imports: the preload runs sandboxed.
 */
export const IPC = {
  admin: 'relay:admin',
  openExternal: 'relay:open-external',
  copyText: 'relay:copy-text',
  revealDataFolder: 'relay:reveal-data-folder',
  secretProtection: 'relay:secret-protection',
  notifications: 'relay:notifications',
  setNotifications: 'relay:set-notifications',
} as const;

export type IpcChannel = (typeof IPC)[keyof typeof IPC];

export interface AdminInfo {
  /** Base URL of the local gateway, e.g. `http://127.0.0.1:8420`. */
  url: string;
  /** Admin token for `/admin/...` (Authorization: Bearer). */
  token: string;
}

export type SecretProtection = 'os' | 'basic' | 'file';

/** What `window.relayDesktop` offers the dashboard. */
export interface RelayDesktopApi {
  admin(): Promise<AdminInfo>;
  /** Opens https (or loopback http) links in the user's browser; false when refused. */
  openExternal(url: string): Promise<boolean>;
  copyText(text: string): Promise<void>;
  revealDataFolder(): Promise<void>;
  secretProtection(): Promise<SecretProtection>;
  /** Whether desktop notifications are on (the tray's toggle and Settings show the same setting). */
  notifications(): Promise<boolean>;
  /** Turn desktop notifications on or off; answers the setting as it now is. */
  setNotifications(on: boolean): Promise<boolean>;
}

export const MAX_URL_LENGTH = 2048;
export const MAX_COPY_LENGTH = 65536;

export class IpcArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpcArgumentError';
  }
}

function expectCount(channel: string, args: readonly unknown[], n: number): void {
  if (args.length !== n) throw new IpcArgumentError(`${channel} takes ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`);
}

/** Checks a channel's arguments; returns them typed or throws an IpcArgumentError naming the problem. */
export function validateArgs(channel: IpcChannel, args: readonly unknown[]): unknown[] {
  switch (channel) {
    case IPC.openExternal: {
      expectCount(channel, args, 1);
      const url = args[0];
      if (typeof url !== 'string') throw new IpcArgumentError(`${channel}: url must be a string`);
      if (url.length === 0 || url.length > MAX_URL_LENGTH) throw new IpcArgumentError(`${channel}: url must be 1..${MAX_URL_LENGTH} characters`);
      return [url];
    }
    case IPC.copyText: {
      expectCount(channel, args, 1);
      const text = args[0];
      if (typeof text !== 'string') throw new IpcArgumentError(`${channel}: text must be a string`);
      if (text.length > MAX_COPY_LENGTH) throw new IpcArgumentError(`${channel}: text is longer than ${MAX_COPY_LENGTH} characters`);
      return [text];
    }
    case IPC.setNotifications: {
      expectCount(channel, args, 1);
      if (typeof args[0] !== 'boolean') throw new IpcArgumentError(`${channel}: on must be a boolean`);
      return [args[0]];
    }
    case IPC.admin:
    case IPC.revealDataFolder:
    case IPC.secretProtection:
    case IPC.notifications:
      expectCount(channel, args, 0);
      return [];
    default:
      throw new IpcArgumentError(`unknown channel ${String(channel)}`);
  }
}

/** Checks what the main process answered (the preload does not pass junk on to the page). */
export function isAdminInfo(v: unknown): v is AdminInfo {
  if (!v || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return typeof o.url === 'string' && /^http:\/\//.test(o.url) && typeof o.token === 'string' && o.token.length > 0;
}

export function isSecretProtection(v: unknown): v is SecretProtection {
  return v === 'os' || v === 'basic' || v === 'file';
}
