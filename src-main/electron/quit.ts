/**
 * The quit sequence. `before-quit` is held (preventDefault) until the shutdown steps finish or a
 * bounded wait passes, then the app exits. Steps run once however often quit is asked for.
 */
import type { App } from 'electron';
import type { Log } from './security';

export interface QuitDeps {
  app: Pick<App, 'on' | 'exit'>;
  /** Stop the gateway (in-flight requests finish, ledger flushed, backend processes stopped). */
  shutdown(): Promise<void>;
  /** Upper bound for the whole sequence. */
  timeoutMs: number;
  log: Log;
}

export interface QuitHandle {
  /** True once shutdown started (windows should stop hiding themselves to the tray). */
  readonly quitting: boolean;
  /** Resolves when the app was told to exit. */
  readonly done: Promise<void>;
}

export function installQuitHandler(deps: QuitDeps): QuitHandle {
  let quitting = false;
  let exited = false;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const run = async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), deps.timeoutMs)));
    try {
      const r = await Promise.race([deps.shutdown().then(() => 'ok' as const), timeout]);
      if (r === 'timeout') deps.log('warn', `shutdown did not finish in ${deps.timeoutMs} ms; exiting anyway`);
    } catch (e) {
      deps.log('error', `shutdown failed: ${(e as Error)?.message ?? String(e)}`);
    } finally {
      if (timer) clearTimeout(timer);
      exited = true;
      deps.app.exit(0);
      resolveDone();
    }
  };
  deps.app.on('before-quit', (event) => {
    if (exited) return;
    event.preventDefault();
    if (quitting) return;
    quitting = true;
    void run();
  });
  return {
    get quitting() {
      return quitting;
    },
    done,
  };
}
