/** Test helpers for the login tests: a capturing logger and a fake instance callback server. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

/** A pino logger whose output is kept, to assert that no secret is ever logged. */
export function captureLogger(): { log: Logger; text(): string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, stream), text: () => lines.join('') };
}

/**
 * A stand-in for a Lingma instance's HTTP port: `GET /auth/callback?state&auth&token` with the
 * expected state stores the login (like the binary) and answers "Login successful".
 */
export async function startCallbackServer(): Promise<{
  port: number;
  callbackUrl: string;
  /** Set the state the next login must carry. */
  expect(state: string): void;
  loggedInAs(): string | undefined;
  /** Run `fn` when a callback arrives, before it is answered (the browser that sent it still runs). */
  onHit(fn: (() => void) | undefined): void;
  reset(): void;
  close(): Promise<void>;
}> {
  let expected = '';
  let user: string | undefined;
  let hit: (() => void) | undefined;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/auth/callback') {
      res.writeHead(404).end();
      return;
    }
    hit?.();
    const state = url.searchParams.get('state');
    const auth = url.searchParams.get('auth');
    if (!expected || state !== expected || !auth || !url.searchParams.get('token')) {
      res.writeHead(400, { 'content-type': 'text/html' }).end('<p>Login failed</p>');
      return;
    }
    try {
      user = (JSON.parse(Buffer.from(auth, 'base64url').toString('utf8')) as { username: string }).username;
    } catch {
      res.writeHead(400, { 'content-type': 'text/html' }).end('<p>Login failed</p>');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>Login successful</p>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    callbackUrl: `http://127.0.0.1:${port}/auth/callback`,
    expect(state) {
      expected = state;
    },
    loggedInAs: () => user,
    onHit(fn) {
      hit = fn;
    },
    reset() {
      user = undefined;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A login URL shaped like the real `login/generateUrl` answer, for the given site and port. */
export function loginUrlFor(base: string, port: number, state: string): string {
  const q = new URLSearchParams({
    nonce: 'n-' + state,
    state,
    challenge: 'c-' + state,
    challenge_method: 'S256',
    machine_id: 'machine-1',
    port: String(port),
  });
  return `${base}/lingma/login?${q}`;
}

/** Poll until `fn` is truthy (no fixed sleeps in assertions). */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 20000, stepMs = 50): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
