/**
 * The dashboard's theme: follow the system (default), or a person's choice of light or dark, kept
 * in this browser (localStorage). The resolved theme is `data-theme` on the root element, which
 * the stylesheet keys its colours on; a system change is followed while the choice is "system".
 */
export type ThemeChoice = 'system' | 'light' | 'dark';
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];
const KEY = 'relay.theme';

export function isThemeChoice(v: unknown): v is ThemeChoice {
  return typeof v === 'string' && (THEME_CHOICES as readonly string[]).includes(v);
}

export function storedTheme(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): ThemeChoice {
  try {
    const v = storage?.getItem(KEY);
    return isThemeChoice(v) ? v : 'system';
  } catch {
    return 'system';
  }
}

/** The theme shown for a choice, given whether the system prefers dark. */
export function resolveTheme(choice: ThemeChoice, systemDark: boolean): 'light' | 'dark' {
  return choice === 'system' ? (systemDark ? 'dark' : 'light') : choice;
}

const listeners = new Set<(c: ThemeChoice) => void>();
let current: ThemeChoice = 'system';
let media: MediaQueryList | undefined;

function paint(): void {
  if (typeof document === 'undefined') return;
  const dark = media?.matches ?? false;
  document.documentElement.dataset.theme = resolveTheme(current, dark);
}

/** Apply the stored choice and follow the system from now on (call once, before the first render). */
export function initTheme(): void {
  current = storedTheme();
  if (typeof window !== 'undefined' && window.matchMedia) {
    media = window.matchMedia('(prefers-color-scheme: dark)');
    media.addEventListener?.('change', paint);
  }
  paint();
}

export function themeChoice(): ThemeChoice {
  return current;
}

export function setTheme(choice: ThemeChoice): void {
  current = choice;
  try {
    if (choice === 'system') globalThis.localStorage?.removeItem(KEY);
    else globalThis.localStorage?.setItem(KEY, choice);
  } catch {
    // storage off: the choice lasts for this page
  }
  paint();
  for (const l of listeners) l(choice);
}

export function onThemeChange(l: (c: ThemeChoice) => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
