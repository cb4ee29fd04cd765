/**
 * SECURITY: the environment a child process (a Lingma runtime, the login browser) gets. Only what
 * a program needs to run on this machine: search path, home and user, shell, temp folders, locale
 * and time zone, proxies, the desktop session, and Windows' essentials. Never a variable of ours
 * (`RELAY_*`, `LINGMA_ACCOUNTS` with every password, `LINGMA_*`), nor anything else the parent
 * happens to hold (cloud credentials, tokens of other tools). Tests that need a variable in a
 * child pass it explicitly (the spawner's options), not through this filter.
 */

const EXACT = new Set(
  [
    'PATH',
    'HOME',
    'USER',
    'LOGNAME',
    'SHELL',
    'TMPDIR',
    'TEMP',
    'TMP',
    'LANG',
    'LANGUAGE',
    'TZ',
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'NO_PROXY',
    'ALL_PROXY',
    'DISPLAY',
    'WAYLAND_DISPLAY',
    // Windows essentials (names compared case-insensitively: Windows spells them either way).
    'SYSTEMROOT',
    'WINDIR',
    'APPDATA',
    'LOCALAPPDATA',
    'USERPROFILE',
    'PROGRAMFILES',
    'PROGRAMFILES(X86)',
    'PROGRAMW6432',
    'PROGRAMDATA',
    'COMSPEC',
    'PATHEXT',
    'HOMEDRIVE',
    'HOMEPATH',
    'NUMBER_OF_PROCESSORS',
    'PROCESSOR_ARCHITECTURE',
  ].map((k) => k.toUpperCase()),
);

/** Is this variable passed to children? */
export function isChildEnvName(name: string): boolean {
  const up = name.toUpperCase();
  if (up.startsWith('RELAY_') || up.startsWith('LINGMA_')) return false;
  return EXACT.has(up) || up.startsWith('LC_') || up.startsWith('XDG_');
}

/** The filtered copy of `source` (default `process.env`). */
export function childEnv(source: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(source)) {
    if (v !== undefined && isChildEnvName(k)) out[k] = v;
  }
  return out;
}
