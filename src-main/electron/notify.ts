/**
 * Desktop notifications when an account starts needing a person (a captcha, a refused password,
 * not signed in) or runs out of credits: once per change, from the same per-instance status the
 * tray shows. Electron's `Notification` is injected (tests pass a fake). Turned off by the
 * `notifications` setting; changes seen while off are remembered, so turning it on does not
 * replay them.
 */
import type { StatusDisplay } from '../core/state-types';
import type { TrayInstanceStatus } from './tray';
import { fmtLeft } from './tray';

export interface NoticeHandle {
  show(): void;
  on(event: 'click', listener: () => void): unknown;
}

export interface NotifierDeps {
  /** `(opts) => new Notification(opts)`; absent or unsupported: nothing is shown. */
  create?(opts: { title: string; body: string; silent?: boolean }): NoticeHandle;
  enabled(): boolean;
  /** A click on a notice: what to open for that account. */
  onClick(instance: string, display: StatusDisplay): void;
  now?(): number;
}

export interface Notice {
  instance: string;
  title: string;
  body: string;
}

/** What is worth telling about: needing a person (per action) and running out of credits. */
function noticeKey(d: StatusDisplay): string | undefined {
  if (d.kind === 'needs_person') return `person:${d.action ?? ''}`;
  if (d.kind === 'out_of_credits') return 'credits';
  return undefined;
}

export function noticeFor(name: string, d: StatusDisplay, now: number): Notice {
  if (d.kind === 'out_of_credits') {
    const when = d.until !== undefined && d.until > now ? ` Credits reset in ${fmtLeft(d.until - now)}.` : '';
    return { instance: name, title: `${name} is out of credits`, body: `Requests go to the other accounts meanwhile.${when}` };
  }
  const body =
    d.action === 'fix_password' ? 'The password was refused. Click to fix it.'
      : d.action === 'finish_sign_in' ? `A captcha or verification page waits. Click to finish the sign-in as ${name}.`
        : 'It is not signed in. Click to sign in.';
  return { instance: name, title: `${name} needs you`, body };
}

export class StatusNotifier {
  private readonly last = new Map<string, string | undefined>();

  constructor(private readonly deps: NotifierDeps) {}

  /** Compares with the last statuses seen; returns (and shows, when on) the notices of this change. */
  update(statuses: readonly TrayInstanceStatus[]): Notice[] {
    const now = this.deps.now?.() ?? Date.now();
    const out: Notice[] = [];
    const seen = new Set<string>();
    for (const s of statuses) {
      seen.add(s.name);
      const key = noticeKey(s.display);
      const was = this.last.get(s.name);
      this.last.set(s.name, key);
      if (key === undefined || key === was) continue;
      out.push(noticeFor(s.name, s.display, now));
      if (!this.deps.enabled() || !this.deps.create) continue;
      const display = s.display;
      try {
        const n = this.deps.create({ ...noticeFor(s.name, display, now), silent: false });
        n.on('click', () => this.deps.onClick(s.name, display));
        n.show();
      } catch {
        // A desktop without notifications: the tray says it anyway.
      }
    }
    for (const name of [...this.last.keys()]) if (!seen.has(name)) this.last.delete(name);
    return out;
  }
}
