import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { App } from 'electron';
import { autostartDesktopFile, desktopEntry, setStartAtLogin, startedHidden } from '../../src-main/electron/autostart';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('start at login', () => {
  it('macOS/Windows use login item settings, hidden', async () => {
    const app = { setLoginItemSettings: vi.fn() } as unknown as App;
    await setStartAtLogin(true, { app, platform: 'darwin', configHome: '/nope', exec: '/x' });
    expect(app.setLoginItemSettings).toHaveBeenCalledWith({ openAtLogin: true, openAsHidden: true, args: ['--hidden'] });
    await setStartAtLogin(false, { app, platform: 'win32', configHome: '/nope', exec: '/x' });
    expect(app.setLoginItemSettings).toHaveBeenLastCalledWith({ openAtLogin: false, openAsHidden: true, args: ['--hidden'] });
  });

  it('Linux writes and removes an XDG autostart entry', async () => {
    const home = mkdtempSync(path.join(tmpdir(), 'relay-autostart-'));
    dirs.push(home);
    const app = { setLoginItemSettings: vi.fn() } as unknown as App;
    const deps = { app, platform: 'linux' as const, configHome: home, exec: '/opt/Lingma Relay/lingma-relay' };
    await setStartAtLogin(true, deps);
    const file = autostartDesktopFile(home);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('Exec="/opt/Lingma Relay/lingma-relay" --hidden');
    expect(text).toContain('Name=Lingma Relay');
    expect(app.setLoginItemSettings).not.toHaveBeenCalled();
    await setStartAtLogin(false, deps);
    expect(existsSync(file)).toBe(false);
  });

  it('quotes odd paths and detects hidden starts', () => {
    expect(desktopEntry('/a/"b"$c')).toContain('Exec="/a/\\"b\\"\\$c" --hidden');
    expect(startedHidden(['electron', '.', '--hidden'], false)).toBe(true);
    expect(startedHidden(['electron', '.'], true)).toBe(true);
    expect(startedHidden(['electron', '.'], undefined)).toBe(false);
  });
});
