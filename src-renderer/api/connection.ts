/**
 * Where the admin API is and which token to send. In the desktop app the preload gives both
 * (`window.relayDesktop.admin()`); in a browser at `/ui/` it is this page's origin and a token
 * the user pastes once (kept in sessionStorage, so it is gone when the tab closes).
 */

export interface AdminEndpoint {
  /** Base URL, e.g. `http://127.0.0.1:8420` (no trailing slash). */
  url: string;
  token: string;
}

export interface RelayDesktopBridge {
  admin(): AdminEndpoint | Promise<AdminEndpoint>;
  openExternal?(url: string): unknown;
  copyText?(text: string): unknown;
  revealDataFolder?(): unknown;
  secretProtection?(): unknown;
  notifications?(): unknown;
  setNotifications?(on: boolean): unknown;
}

declare global {
  interface Window {
    relayDesktop?: RelayDesktopBridge;
  }
}

export const TOKEN_KEY = 'lingma-relay.admin-token';

export function desktop(): RelayDesktopBridge | undefined {
  return typeof window !== 'undefined' ? window.relayDesktop : undefined;
}

export function pageOrigin(): string {
  return window.location.origin;
}

export function storedToken(): string | undefined {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeToken(token: string | undefined): void {
  try {
    if (token) window.sessionStorage.setItem(TOKEN_KEY, token);
    else window.sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode: the token lives only in memory
  }
}

/** Resolves the endpoint, or undefined when the user must enter a token first. */
export async function resolveEndpoint(): Promise<AdminEndpoint | undefined> {
  const d = desktop();
  if (d) {
    const e = await d.admin();
    return { url: e.url.replace(/\/+$/, ''), token: e.token };
  }
  const token = storedToken();
  return token ? { url: pageOrigin(), token } : undefined;
}
