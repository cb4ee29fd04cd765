/**
 * A request's timeline as a small Gantt chart: one row per step (queue, resolution, each backend
 * attempt, switch, first byte, end, ledger), bars and marks placed on one scale from the request's
 * arrival. Bars are SVG rects (x/width attributes: no inline styles, the CSP holds).
 */
import type { TimelineEvent } from '../../../src-main/core/inspector/types';
import { fmtMs } from '../../lib/format';

export interface TimelineRow {
  key: string;
  label: string;
  /** What happened, in words. */
  detail: string;
  /** ms from arrival. */
  from: number;
  to: number;
  /** Attempts: the part spent waiting for an instance, from `from`. */
  waitMs?: number;
  tone: 'ok' | 'bad' | 'warn' | 'info' | 'muted';
  /** A point in time rather than a span. */
  mark: boolean;
}

const OUTCOME: Record<string, string> = { first_byte: 'answered', failed: 'failed', no_instance: 'no instance free', cancelled: 'cancelled' };

/** Timeline events → rows, in order. */
export function timelineRows(events: readonly TimelineEvent[]): TimelineRow[] {
  return events.map((e, n) => {
    const key = `${n}-${e.kind}`;
    const point = { key, from: e.at, to: e.at, mark: true };
    switch (e.kind) {
      case 'admitted': {
        const wait = e.waitMs ?? 0;
        return { ...point, label: 'Admitted', detail: wait > 0 ? `after ${fmtMs(wait)} in the ${(e.queues ?? []).join(' and ') || 'admission'} queue` : 'at once', from: Math.max(0, e.at - wait), mark: wait <= 0, tone: 'info' };
      }
      case 'refused':
        return { ...point, label: 'Refused', detail: [e.reason, e.detail].filter(Boolean).join(': ') || 'before any backend', tone: 'bad' };
      case 'resolved':
        return { ...point, label: e.detail ? 'Alias resolved' : 'Resolved', detail: `${e.detail ? `${e.detail} → ` : ''}${(e.targets ?? []).join(', ')}`, tone: 'info' };
      case 'skipped':
        return { ...point, label: `Skipped ${e.target ?? ''}`.trim(), detail: e.reason ?? '', tone: 'muted' };
      case 'attempt': {
        const words = OUTCOME[e.outcome ?? ''] ?? e.outcome ?? '';
        const why = e.outcome === 'first_byte' ? `first event after ${fmtMs(e.durationMs)}` : [e.reason, e.detail].filter(Boolean).join(': ');
        const wait = e.waitMs && e.waitMs > 0 ? ` (waited ${fmtMs(e.waitMs)} for the instance)` : '';
        return {
          key, label: `Attempt ${e.instance ?? e.target ?? ''}`.trim(), detail: `${e.target && e.instance ? `${e.target} · ` : ''}${words}${why ? `, ${why}` : ''}${wait}`,
          from: e.at, to: e.at + (e.durationMs ?? 0), waitMs: e.waitMs, mark: !e.durationMs, tone: e.outcome === 'first_byte' ? 'ok' : e.outcome === 'cancelled' ? 'muted' : 'bad',
        };
      }
      case 'switch':
        return { ...point, label: 'Switched', detail: `${e.from ?? '?'} → ${e.to ?? '?'}${e.reason ? `: ${e.reason}` : ''}`, tone: 'warn' };
      case 'first_byte':
        return { ...point, label: 'First byte', detail: 'to the client', tone: 'ok' };
      case 'end':
        return { ...point, from: 0, mark: false, label: 'End', detail: e.status ? `status ${e.status}${e.reason ? `, ${e.reason}` : ''}` : (e.reason ?? ''), tone: (e.status ?? 200) >= 400 || e.reason ? 'bad' : 'ok' };
      case 'ledger_queued':
        return { ...point, label: 'Ledger queued', detail: 'usage row handed to the writer', tone: 'muted' };
      case 'ledger_written':
        return { ...point, label: 'Ledger written', detail: 'usage row committed', tone: 'ok' };
      default:
        return { ...point, label: String(e.kind), detail: e.detail ?? '', tone: 'muted' };
    }
  });
}

const W = 1000;

export function Timeline({ events, totalMs }: { events: readonly TimelineEvent[]; totalMs: number }) {
  const rows = timelineRows(events);
  if (!rows.length) return <p className="muted">No timeline was recorded for this request.</p>;
  const span = Math.max(1, totalMs, ...rows.map((r) => r.to));
  const x = (ms: number) => Math.min(W, Math.max(0, (ms / span) * W));
  return (
    <div className="tl" data-testid="timeline" role="table" aria-label="Timeline">
      <div className="tl-axis" role="row" aria-hidden="true">
        <span className="tl-label" />
        <span className="tl-ticks"><span>0</span><span>{fmtMs(span / 2)}</span><span>{fmtMs(span)}</span></span>
        <span className="tl-at" />
      </div>
      {rows.map((r) => {
        const x0 = x(r.from);
        const x1 = x(r.to);
        const wait = r.waitMs && r.waitMs > 0 ? Math.min(x1, x(r.from + r.waitMs)) : x0;
        return (
          <div key={r.key} className={`tl-row tl-${r.tone}`} role="row" data-testid="timeline-row" data-kind={r.key.split('-').slice(1).join('-')}>
            <span className="tl-label" role="cell">
              <span className="tl-name">{r.label}</span>
              <span className="tl-detail small muted">{r.detail}</span>
            </span>
            <span className="tl-track" role="cell">
              <svg viewBox={`0 0 ${W} 14`} preserveAspectRatio="none" width="100%" height="14" aria-hidden="true">
                <rect className="tl-grid" x="0" y="6" width={W} height="2" />
                {r.mark ? (
                  <rect className="tl-mark" x={Math.max(0, Math.min(W - 4, x0 - 2))} y="0" width="4" height="14" rx="1" data-testid="timeline-mark" />
                ) : (
                  <>
                    {wait > x0 && <rect className="tl-wait" x={x0} y="2" width={Math.max(1, wait - x0)} height="10" rx="2" />}
                    <rect className="tl-bar" x={wait} y="2" width={Math.max(3, x1 - wait)} height="10" rx="2" data-testid="timeline-bar" data-from={r.from} data-to={r.to} />
                  </>
                )}
              </svg>
            </span>
            <span className="tl-at small mono" role="cell">{r.mark ? fmtMs(r.from) : `${fmtMs(r.from)}–${fmtMs(r.to)}`}</span>
          </div>
        );
      })}
    </div>
  );
}
