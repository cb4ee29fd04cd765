/**
 * Ports: what differs between the two hosts (headless CLI in plain Node, Electron main process).
 * Core depends only on these interfaces; each host injects its implementations into
 * `createCore(...)` / `buildGateway(...)`. Core never imports `electron`.
 */
import type { ChildProcess } from 'node:child_process';

/** Stores small secrets (account passwords, tokens). Values never reach logs or the renderer. */
export interface SecretStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * How well secrets are protected at rest, shown in the UI:
   * `os` = OS keychain-grade encryption (Electron safeStorage on macOS/Windows/Linux with a keyring);
   * `basic` = obfuscated only (Electron `basic_text` on Linux without a keyring);
   * `file` = plain file readable only by this user (mode 0600, headless host);
   * `cluster` = team mode: sealed with AES-256-GCM under a key derived from the cluster secret, in Redis.
   */
  readonly protection: 'os' | 'basic' | 'file' | 'cluster';
}

export interface LoginCredentials {
  username: string;
  password: string;
}

/** Selectors and markers for the sign-in form: data, not code (defaults from the protocol spec). */
export interface LoginRecipe {
  /** CSS selector of the iframe holding the form, if any (`#alibaba-login-box`). */
  frame?: string;
  username: string;
  password: string;
  submit: string;
  /** Any of these selectors present means a captcha / human check is showing. */
  captcha: string[];
  /** Optional selectors to click before filling (e.g. "log in with password" tab). */
  before?: string[];
}

export type SignInNavigation = 'callback' | 'allow' | 'deny';

/**
 * SECURITY: where one sign-in may go and where its credentials may be typed. Built only by
 * `createSignInPolicy` (core/sign-in-policy.ts); drivers ask it before every
 * fill and on every top-window navigation.
 */
export interface SignInPolicy {
  /** May a sign-in form in a document at `url` receive the credentials? */
  credentialsAllowed(url: string): boolean;
  /** The top window going to `url`: the instance's callback, an allowed page, or off the policy. */
  navigation(url: string): SignInNavigation;
  /** A sub-frame (captcha widget, CDN frame) going to `url`: https pages and blank frames; never credentials. */
  subframeAllowed(url: string): boolean;
  /** Client-safe reason for a page the policy refuses (origin only, never the path or query). */
  refusal(url: string): string;
}

export interface LoginRequest {
  instance: string;
  loginUrl: string;
  /** `http://127.0.0.1:<httpPort>/auth/callback`: reaching it means success. */
  callbackUrl: string;
  credentials: LoginCredentials;
  recipe: LoginRecipe;
  timeoutMs: number;
  /** Resolves true once the backend reports logged in (`auth/status` polled by the caller). */
  isLoggedIn: () => Promise<boolean>;
  signal: AbortSignal;
  /** Where this sign-in may go and type the credentials (the login URL already passed it). */
  policy: SignInPolicy;
  /**
   * A driver that keeps watching while a person finishes in its own window (desktop) calls this
   * the moment it hands over (captcha, verification, off-policy page): the account shows "needs a
   * person" at once and the attempt is not retried, whatever the driver returns later.
   */
  needsPerson?(reason: string): void;
}

export type LoginOutcome =
  | { kind: 'success' }
  /** A person must finish it (captcha, 2FA, unknown page, a page off the sign-in policy). `url` is the page to open. */
  | { kind: 'manual'; reason: string; url: string }
  | { kind: 'failed'; reason: string };

/** Completes a sign-in in a browser. Headless: playwright-core + system Chromium. Desktop: hidden BrowserWindow. */
export interface LoginDriver {
  readonly name: string;
  login(req: LoginRequest): Promise<LoginOutcome>;
  /** Forget browser state for an instance (cookies, storage), called on logout. */
  clear?(instance: string): Promise<void>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** No console window on Windows (Lingma must start without one). */
  windowsHide?: boolean;
}

/** Starts backend processes (Lingma). Desktop and CLI both use node's child_process, but tests inject fakes. */
export interface ProcessSpawner {
  spawn(command: string, args: string[], options: SpawnOptions): ChildProcess;
}

/**
 * A timer handle. It is node's own type so callers may `unref()` it; the fake clock of the tests
 * (test/helpers/fake-clock.ts) hands out look-alikes.
 */
export type TimerHandle = NodeJS.Timeout;

/**
 * Time, injected: every wait, deadline, keep-alive, backoff and cool-down in core goes through one
 * `Clock` so tests can run it on fake time. Core code never calls the global timers or
 * `Date.now()` for these (the relay passes one clock to every part).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Accepts a handle already run or cleared, or none. */
  clearTimeout(t: TimerHandle | null | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(t: TimerHandle | null | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t ?? undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t ?? undefined),
};

/**
 * Resolves after `ms` on `clock`; rejects with the signal's reason when `signal` aborts first
 * (at once if it already has). The timer does not keep the process alive.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(t);
      reject(signal!.reason);
    };
    const t = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    t.unref?.();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
