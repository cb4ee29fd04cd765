/**
 * The manual-login watch: once a login is handed to a person (`needs_manual`), `isLoggedIn` is
 * polled in the background, for a bounded time, so their finishing is noticed without a click.
 */
import type { Logger } from 'pino';
import type { Clock } from '../../../ports';
import type { LoginState } from '../../types';
import type { Entry, LoginTarget, LoginTimings, ManualWatch } from './types';

/** What the watch needs from the coordinator. */
export interface WatchHost {
  readonly clock: Clock;
  readonly log: Logger;
  readonly timings: Pick<LoginTimings, 'manualWatchMs' | 'manualPollMs'>;
  /** Record the instance as logged in. */
  loggedIn(instance: string): LoginState;
}

/** Poll `isLoggedIn` in the background until the person finishes or the watch expires. */
export function startWatch(host: WatchHost, target: Pick<LoginTarget, 'instance' | 'isLoggedIn'>, entry: Entry): void {
  stopWatch(entry, host.clock);
  const w: ManualWatch = { until: host.clock.now() + host.timings.manualWatchMs, stopped: false };
  entry.watch = w;
  const tick = (): void => {
    if (w.stopped) return;
    if (host.clock.now() >= w.until) {
      w.stopped = true;
      host.log.info({ instance: target.instance }, 'login: stopped waiting for a manual login');
      return;
    }
    target
      .isLoggedIn()
      .then((ok) => {
        if (w.stopped || !ok) return;
        w.stopped = true;
        host.loggedIn(target.instance);
      })
      .catch(() => undefined)
      .finally(() => {
        if (!w.stopped) w.timer = host.clock.setTimeout(tick, host.timings.manualPollMs);
      });
  };
  w.timer = host.clock.setTimeout(tick, host.timings.manualPollMs);
}

export function stopWatch(entry: Entry, clock: Clock): void {
  const w = entry.watch;
  if (!w) return;
  w.stopped = true;
  clock.clearTimeout(w.timer);
  entry.watch = undefined;
}
