import { useState, type ReactNode } from 'react';
import type { AdminInstance, AvailabilityView, StatusDisplay, StatusKind } from '../../src-main/core/admin/api-types';
import { desktop } from '../api/connection';
import { fmtDuration, fmtTime } from '../lib/format';

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

/** Can it serve: the relay's one availability answer (an instance without one was just removed). */
export function isUsable(i: AdminInstance): boolean {
  return i.availability?.serving === true;
}

/** The tone of each of the six statuses (the words come with the status itself: `display.label`). */
export const STATUS_TONE: Record<StatusKind, Tone> = {
  serving: 'ok', cooling_down: 'warn', needs_person: 'warn', out_of_credits: 'bad', starting: 'info', stopped: 'muted',
};

/** The one status of an instance (decided by the relay, `availability.display`). */
export function displayOf(i: AdminInstance): StatusDisplay {
  return i.availability?.display ?? { kind: 'stopped', label: 'Stopped', detail: 'removed', process: 'removed' };
}

/** `retry in 30s` / `resets in 1h 5m` for a cool-down or reset in the future; `checking again` once due. */
export function countdown(d: StatusDisplay | undefined, now: number): string | undefined {
  if (!d || d.until === undefined || (d.kind !== 'cooling_down' && d.kind !== 'out_of_credits')) return undefined;
  if (d.until <= now) return d.kind === 'out_of_credits' ? 'checking again' : 'retrying';
  return `${d.kind === 'out_of_credits' ? 'resets' : 'retry'} in ${fmtDuration(d.until - now)}`;
}

/**
 * The status pill with its countdown, the reason and last error (timestamped) underneath, and the
 * process state as grey secondary text. `compact`: the pill and countdown only.
 */
export function StatusPill({ d, now, compact }: { d: StatusDisplay; now: number; compact?: boolean }) {
  const left = countdown(d, now);
  return (
    <span className="status" data-testid="status" data-kind={d.kind}>
      <span className="status-line">
        <Badge tone={STATUS_TONE[d.kind] ?? 'muted'} title={compact ? [d.detail, d.process].filter(Boolean).join(' · ') : undefined}>{d.label}</Badge>
        {left && <span className="small countdown" data-testid="countdown">{left}</span>}
      </span>
      {!compact && d.detail && <span className="small status-detail">{d.detail}</span>}
      {!compact && d.lastError && (
        <span className="small status-error text-bad" title={d.lastError.text} data-testid="last-error">
          {d.lastError.at !== undefined && <time dateTime={new Date(d.lastError.at).toISOString()}>{fmtTime(d.lastError.at)} </time>}
          {d.lastError.text}
        </span>
      )}
      {!compact && <span className="small muted status-process" data-testid="process">{d.process}</span>}
    </span>
  );
}

/** Back-compat wrapper: the status pill from an availability answer. */
export function AvailabilityBadge({ a, now, compact }: { a: AvailabilityView | undefined; now: number; compact?: boolean }) {
  if (!a) return <Badge tone="muted">removed</Badge>;
  return <StatusPill d={a.display} now={now} compact={compact} />;
}

export async function copyText(text: string): Promise<boolean> {
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

/** `copy`: what the Copy button copies when it differs from what is shown (a masked key shown, the whole one copied). */
export function Code(props: { code: string; testId?: string; copy?: string }) {
  return (
    <div className="code">
      <pre data-testid={props.testId} tabIndex={0} aria-label="Code"><code>{props.code}</code></pre>
      <div className="code-copy"><CopyButton text={props.copy ?? props.code} small /></div>
    </div>
  );
}
