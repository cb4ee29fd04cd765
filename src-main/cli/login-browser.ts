/**
 * Which browser the headless login driver (`playwright-login.ts`) runs, with which flags, and
 * where its per-instance profiles live. Only the system's Chromium-family browsers (never a
 * downloaded one).
 */
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const BROWSER_ARGS = [
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/**
 * SECURITY: Chromium's sandbox stays on; it cannot start as root, so only then is it turned off
 * (`chromiumSandbox: false` makes Playwright pass `--no-sandbox`).
 */
export function sandboxFor(isRoot: boolean = process.getuid?.() === 0): { chromiumSandbox: boolean } {
  return { chromiumSandbox: !isRoot };
}

/** Known install locations of Chromium-family browsers, per OS. */
export function browserCandidates(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string[] {
  if (platform === 'darwin') {
    const apps = [
      'Google Chrome.app/Contents/MacOS/Google Chrome',
      'Chromium.app/Contents/MacOS/Chromium',
      'Microsoft Edge.app/Contents/MacOS/Microsoft Edge',
      'Brave Browser.app/Contents/MacOS/Brave Browser',
    ];
    return [...apps.map((a) => `/Applications/${a}`), ...apps.map((a) => join(homedir(), 'Applications', a))];
  }
  if (platform === 'win32') {
    const roots = [env.PROGRAMFILES, env['PROGRAMFILES(X86)'], env.LOCALAPPDATA].filter((r): r is string => !!r);
    const rel = ['Google\\Chrome\\Application\\chrome.exe', 'Microsoft\\Edge\\Application\\msedge.exe', 'Chromium\\Application\\chrome.exe'];
    return roots.flatMap((r) => rel.map((p) => `${r}\\${p}`));
  }
  return [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/usr/bin/microsoft-edge',
    '/snap/bin/chromium',
  ];
}

/**
 * The browser to use: an explicit path (must exist), or the first known location that exists.
 * Undefined when none is found.
 */
export function findBrowser(executablePath: string | 'auto' = 'auto', exists: (p: string) => boolean = existsSync): string | undefined {
  if (executablePath && executablePath !== 'auto') return exists(executablePath) ? executablePath : undefined;
  return browserCandidates().find((p) => exists(p));
}

/** `<dataDir>/login-profiles`: the browser profiles of headless logins. */
export const loginProfilesDir = (dataDir: string): string => join(dataDir, 'login-profiles');

/**
 * SECURITY: the profiles folder is created 0700; an existing one must be a real folder (not a
 * symlink) owned by this user, else no login runs in it.
 */
export async function ensureProfilesDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Error(`the login profiles folder ${dir} is not a plain folder`);
  if (process.platform !== 'win32') {
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error(`the login profiles folder ${dir} belongs to another user`);
    if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
  }
}
