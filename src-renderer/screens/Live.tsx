import { useEffect, useState } from 'react';
import type { AdminLiveRequest, AdminSnapshot } from '../../src-main/core/admin/api-types';
import { Badge, Card, Empty } from '../components/ui';
import { OutcomeBadge } from '../components/OutcomeBadge';
import { requestHref } from '../components/RequestDetail/Replay';
import { liveKey } from '../store';
import { fmtMs, fmtTime } from '../lib/format';

function useNow(ms = 500): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

function Row({ r, now, done }: { r: AdminLiveRequest; now: number; done?: boolean }) {
  const end = r.finishedAt ?? now;
  return (
    <tr className={`row-link ${done ? 'row-done' : ''}`} onClick={() => { window.location.hash = requestHref(r.requestId, 'live'); }}>
      <td className="mono small">{fmtTime(r.startedAt)}</td>
      <td><span className="strong">{r.model}</span>{r.resolved && r.resolved !== r.model && <div className="muted small mono">→ {r.resolved}</div>}</td>
      <td className="mono">{r.instance ?? <span className="muted">{done ? '–' : 'waiting…'}</span>}</td>
      <td className="num">{fmtMs(end - r.startedAt)}</td>
      <td className="num">{r.firstByteAt ? fmtMs(r.firstByteAt - r.startedAt) : <span className="muted">–</span>}</td>
      <td>{r.stream ? <Badge tone="info">stream</Badge> : <Badge tone="muted">single</Badge>}</td>
      <td>{done ? <OutcomeBadge status={r.status} errorCode={r.errorCode} /> : <Badge tone="info">{r.firstByteAt ? 'answering' : 'waiting'}</Badge>}</td>
      <td className="mono small" title={r.requestId}><a href={requestHref(r.requestId, 'live')} data-testid="open-request">{r.requestId.slice(0, 12)}</a></td>
    </tr>
  );
}

export function Live({ snap, finished }: { snap: AdminSnapshot; finished: AdminLiveRequest[] }) {
  const now = useNow();
  const live = snap.live;
  return (
    <div className="screen" data-testid="screen-live">
      <Card title={<>Requests in flight <span className="count">{live.length}</span></>} actions={<span className="muted small">{snap.admission.queued} queued · limit {snap.admission.max}</span>}>
        {live.length === 0 && finished.length === 0 ? (
          <Empty title="Nothing in flight">
            <p>Requests appear here while they run: which model, which instance, how long, and time to first token.</p>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="live-table">
              <thead>
                <tr><th>Started</th><th>Model</th><th>Instance</th><th className="num">Elapsed</th><th className="num">TTFT</th><th>Mode</th><th>State</th><th>Request</th></tr>
              </thead>
              <tbody>
                {live.length === 0 && (
                  <tr className="row-note"><td colSpan={8}>Nothing in flight right now.</td></tr>
                )}
                {live.map((r) => <Row key={liveKey(r)} r={r} now={now} />)}
                {finished.length > 0 && (
                  <tr className="row-sep"><td colSpan={8}>Recently finished</td></tr>
                )}
                {finished.map((r) => <Row key={`f-${liveKey(r)}`} r={r} now={now} done />)}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
