import { useState, type ReactNode } from 'react';
import type { AdminInstance, AvailabilityStatus, AvailabilityView, InstanceState, LoginState } from '../../src-main/core/admin/api-types';
import { desktop } from '../api/connection';
import { fmtDuration } from '../lib/format';

export function Card(props: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; testId?: string }) {
  return (
    <section className={`card ${props.className ?? ''}`} data-testid={props.testId}>
      {(props.title || props.actions) && (
        <header className="card-head">
          {props.title && <h2>{props.title}</h2>}
          {props.actions && <div className="card-actions">{props.actions}</div>}
        </header>
      )}
      {props.children}
    </section>
  );
}

export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted';

export function Badge(props: { tone: Tone; children: ReactNode; title?: string }) {
  return (
    <span className={`badge badge-${props.tone}`} title={props.title}>
      <span className="dot" aria-hidden="true" />
      {props.children}
    </span>
  );
}

const STATE_TONE: Record<InstanceState, Tone> = {
  ready: 'ok', starting: 'info', reconnecting: 'warn', failed: 'bad', stopped: 'muted', closed: 'muted',
};

export function StateBadge({ state, reason }: { state: InstanceState; reason?: string }) {
  return <Badge tone={STATE_TONE[state] ?? 'muted'} title={reason}>{state}</Badge>;
}

export function loginLabel(l: LoginState): { text: string; tone: Tone } {
  switch (l.state) {
    case 'logged_in': return { text: l.quotaExceeded ? 'quota exceeded' : l.user ? `signed in as ${l.user}` : 'signed in', tone: l.quotaExceeded ? 'warn' : 'ok' };
    case 'logging_in': return { text: 'signing in…', tone: 'info' };
    case 'logged_out': return { text: 'signed out', tone: 'warn' };
    case 'needs_manual': return { text: 'needs you to sign in', tone: 'warn' };
    case 'failed': return { text: 'sign-in failed', tone: 'bad' };
    default: return { text: 'no sign-in', tone: 'muted' };
  }
}

export function LoginBadge({ login }: { login: LoginState }) {
  const { text, tone } = loginLabel(login);
  const title = login.state === 'failed' || login.state === 'needs_manual' ? login.reason : undefined;
  return <Badge tone={tone} title={title}>{text}</Badge>;
}

/** Can it serve: the relay's one availability answer (an instance without one was just removed). */
export function isUsable(i: AdminInstance): boolean {
  return i.availability?.serving === true;
}

/** The words and tone of each availability status (exactly one per instance, decided by the relay). */
export const AVAILABILITY_LABEL: Record<AvailabilityStatus, { text: string; tone: Tone }> = {
  serving: { text: 'serving', tone: 'ok' },
  starting: { text: 'starting', tone: 'info' },
  signing_in: { text: 'signing in', tone: 'info' },
  needs_person: { text: 'needs you', tone: 'warn' },
  cooling_down: { text: 'cooling down', tone: 'warn' },
  out_of_credits: { text: 'out of credits', tone: 'bad' },
  failed: { text: 'failed', tone: 'bad' },
  stopped: { text: 'stopped', tone: 'muted' },
};

/** `resets in 1h 5m` for a cool-down that ends in the future, else undefined. */
export function countdown(a: AvailabilityView | undefined, now: number): string | undefined {
  if (!a || a.serving || a.until === undefined) return undefined;
  if (a.until <= now) return a.status === 'out_of_credits' ? 'checking again' : 'retrying';
  return `${a.status === 'out_of_credits' ? 'resets' : 'retry'} in ${fmtDuration(a.until - now)}`;
}

export function AvailabilityBadge({ a, now }: { a: AvailabilityView | undefined; now: number }) {
  if (!a) return <Badge tone="muted">removed</Badge>;
  const { text, tone } = AVAILABILITY_LABEL[a.status] ?? { text: a.status, tone: 'muted' };
  const left = countdown(a, now);
  return (
    <span className="availability" data-testid="availability" data-status={a.status}>
      <Badge tone={tone} title={a.reason}>{text}</Badge>
      {left && <span className="muted small countdown"> {left}</span>}
    </span>
  );
}

async function copyText(text: string): Promise<boolean> {
  const d = desktop();
  try {
    if (d?.copyText) {
      await d.copyText(text);
      return true;
    }
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

export function CopyButton(props: { text: string; label?: string; small?: boolean }) {
  const [state, setState] = useState<'idle' | 'done' | 'failed'>('idle');
  return (
    <button
      type="button"
      className={`btn ${props.small ? 'btn-small' : ''} btn-ghost`}
      onClick={async () => {
        const ok = await copyText(props.text);
        setState(ok ? 'done' : 'failed');
        setTimeout(() => setState('idle'), 1500);
      }}
    >
      {state === 'done' ? 'Copied' : state === 'failed' ? 'Copy failed' : (props.label ?? 'Copy')}
    </button>
  );
}

/** Opens a link outside the app: through the desktop bridge (validated there) or a new tab. */
export function ExternalLink(props: { href: string; children: ReactNode; className?: string }) {
  const d = desktop();
  if (d?.openExternal) {
    return (
      <button type="button" className={props.className ?? 'link'} onClick={() => d.openExternal!(props.href)}>
        {props.children}
      </button>
    );
  }
  return (
    <a className={props.className ?? 'link'} href={props.href} target="_blank" rel="noopener noreferrer">
      {props.children}
    </a>
  );
}

export function Empty(props: { title: string; children?: ReactNode; action?: ReactNode; testId?: string }) {
  return (
    <div className="empty" data-testid={props.testId}>
      <div className="empty-mark" aria-hidden="true">
        <svg viewBox="0 0 24 24" width="28" height="28"><circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" strokeWidth="1.5" /><path d="M8 12h8M12 8v8" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" /></svg>
      </div>
      <h3>{props.title}</h3>
      {props.children && <div className="empty-body">{props.children}</div>}
      {props.action && <div className="empty-action">{props.action}</div>}
    </div>
  );
}

export function Stat(props: { label: string; value: ReactNode; sub?: ReactNode; tone?: Tone; testId?: string }) {
  return (
    <div className={`stat ${props.tone ? `stat-${props.tone}` : ''}`} data-testid={props.testId}>
      <div className="stat-label">{props.label}</div>
      <div className="stat-value">{props.value}</div>
      {props.sub && <div className="stat-sub">{props.sub}</div>}
    </div>
  );
}

/** A load bar drawn in SVG (no inline styles: the CSP forbids them). */
export function LoadBar({ value, max }: { value: number; max: number }) {
  const frac = max > 0 ? Math.min(1, value / max) : 0;
  const tone = frac >= 1 ? 'bad' : frac >= 0.75 ? 'warn' : 'ok';
  return (
    <span className="loadbar" title={`${value} of ${max} in flight`}>
      <svg viewBox="0 0 100 8" preserveAspectRatio="none" width="100%" height="8" aria-hidden="true">
        <rect className="loadbar-track" x="0" y="0" width="100" height="8" rx="4" />
        {frac > 0 && <rect className={`loadbar-fill fill-${tone}`} x="0" y="0" width={Math.max(8, frac * 100)} height="8" rx="4" />}
      </svg>
      <span className="loadbar-text">{value}/{max}</span>
    </span>
  );
}

export function Field(props: { label: string; hint?: ReactNode; error?: string; children: ReactNode; htmlFor?: string }) {
  return (
    <div className={`field ${props.error ? 'field-error' : ''}`}>
      <label htmlFor={props.htmlFor}>{props.label}</label>
      {props.children}
      {props.error ? <div className="field-msg" role="alert">{props.error}</div> : props.hint ? <div className="field-hint">{props.hint}</div> : null}
    </div>
  );
}

/** A button that asks once more before doing something destructive. */
export function ConfirmButton(props: { label: string; confirm: string; onConfirm: () => void; small?: boolean }) {
  const [armed, setArmed] = useState(false);
  if (!armed) {
    return <button type="button" className={`btn btn-ghost ${props.small ? 'btn-small' : ''}`} onClick={() => setArmed(true)}>{props.label}</button>;
  }
  return (
    <span className="confirm">
      <button type="button" className={`btn btn-danger ${props.small ? 'btn-small' : ''}`} onClick={() => { setArmed(false); props.onConfirm(); }}>{props.confirm}</button>
      <button type="button" className={`btn btn-ghost ${props.small ? 'btn-small' : ''}`} onClick={() => setArmed(false)}>Cancel</button>
    </span>
  );
}

export function Code(props: { code: string; testId?: string }) {
  return (
    <div className="code">
      <pre data-testid={props.testId}><code>{props.code}</code></pre>
      <div className="code-copy"><CopyButton text={props.code} small /></div>
    </div>
  );
}
