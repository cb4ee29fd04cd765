/**
 * Start at login. macOS and Windows: `app.setLoginItemSettings`. Linux has no such API in
 * Electron: an XDG autostart entry (`~/.config/autostart/lingma-relay.desktop`) does the same.
 * The app then starts hidden (tray only) thanks to `--hidden`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { App } from 'electron';

export const HIDDEN_FLAG = '--hidden';

export function autostartDesktopFile(configHome: string): string {
  return path.join(configHome, 'autostart', 'lingma-relay.desktop');
}

/** The .desktop entry. `exec` is quoted per the Desktop Entry spec. */
export function desktopEntry(exec: string): string {
  const quoted = `"${exec.replace(/(["`$\\])/g, '\\$1')}"`;
  return [
    '[Desktop Entry]',
    'Type=Application',
    'Name=Lingma Relay',
    'Comment=Local OpenAI-compatible gateway',
    `Exec=${quoted} ${HIDDEN_FLAG}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

export interface AutostartDeps {
  app: Pick<App, 'setLoginItemSettings'>;
  platform: NodeJS.Platform;
  /** `$XDG_CONFIG_HOME` or `~/.config` (Linux). */
  configHome: string;
  /** What to launch: the AppImage path when packaged as one, else the executable. */
  exec: string;
}

export async function setStartAtLogin(enabled: boolean, deps: AutostartDeps): Promise<void> {
  if (deps.platform === 'linux') {
    const file = autostartDesktopFile(deps.configHome);
    if (enabled) {
      await fs.mkdir(path.dirname(file), { recursive: true });
      await fs.writeFile(file, desktopEntry(deps.exec), { mode: 0o644 });
    } else {
      await fs.rm(file, { force: true });
    }
    return;
  }
  deps.app.setLoginItemSettings({ openAtLogin: enabled, openAsHidden: true, args: [HIDDEN_FLAG] });
}

/** Was this launch a start at login (so no window, tray only)? */
export function startedHidden(argv: readonly string[], wasOpenedAsHidden: boolean | undefined): boolean {
  return argv.includes(HIDDEN_FLAG) || wasOpenedAsHidden === true;
}
