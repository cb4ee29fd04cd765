import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { RelayDesktopApi } from '../../src-main/electron/ipc-contract';

const exposed: Record<string, unknown> = {};
const invoke = vi.fn(async (channel: string, ..._args: unknown[]): Promise<unknown> => {
  if (channel === 'relay:admin') return { url: 'http://127.0.0.1:8420', token: 'relay-admin-x', extra: 'dropped' };
  if (channel === 'relay:secret-protection') return 'basic';
  if (channel === 'relay:open-external') return true;
  return undefined;
});

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => (exposed[key] = api) },
  ipcRenderer: { invoke: (channel: string, ...args: unknown[]) => invoke(channel, ...args) },
}));

let api: RelayDesktopApi;
beforeAll(async () => {
  await import('../../src-main/electron/preload');
  api = exposed.relayDesktop as RelayDesktopApi;
});

describe('preload', () => {
  it('exposes exactly the seven functions, frozen, and never ipcRenderer', () => {
    expect(Object.keys(exposed)).toEqual(['relayDesktop']);
    expect(Object.keys(api).sort()).toEqual(['admin', 'copyText', 'notifications', 'openExternal', 'revealDataFolder', 'secretProtection', 'setNotifications']);
    expect(Object.isFrozen(api)).toBe(true);
  });

  it('passes only the admin URL and token on to the page', async () => {
    await expect(api.admin()).resolves.toEqual({ url: 'http://127.0.0.1:8420', token: 'relay-admin-x' });
    await expect(api.secretProtection()).resolves.toBe('basic');
  });

  it('checks arguments before sending anything', async () => {
    invoke.mockClear();
    await expect(api.openExternal(42 as unknown as string)).rejects.toThrow(/must be a string/);
    await expect(api.copyText('x'.repeat(70_000))).rejects.toThrow(/longer than/);
    expect(invoke).not.toHaveBeenCalled();
    await expect(api.openExternal('https://github.com/')).resolves.toBe(true);
    expect(invoke).toHaveBeenCalledWith('relay:open-external', 'https://github.com/');
  });

  it('refuses junk answers from the main process', async () => {
    invoke.mockResolvedValueOnce({ url: 'javascript:alert(1)', token: 't' });
    await expect(api.admin()).rejects.toThrow(/no admin endpoint/);
    invoke.mockResolvedValueOnce('plaintext');
    await expect(api.secretProtection()).rejects.toThrow(/unknown secret protection/);
  });
});
