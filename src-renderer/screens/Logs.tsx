import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { AdminLogLine, AdminSnapshot, LogLevel } from '../../src-main/core/admin/api-types';
import { Card, Empty } from '../components/ui';
import { fmtTime } from '../lib/format';

const LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const SHOWN = 600;

export interface LogFilter {
  level: LogLevel;
  /** Show the dashboard's own admin API calls (hidden by default: they are noise). */
  admin?: boolean;
  instance: string;
  requestId: string;
  text: string;
}

export function filterLogs(lines: AdminLogLine[], f: LogFilter): AdminLogLine[] {
  const min = LEVELS.indexOf(f.level);
  const rid = f.requestId.trim();
  const text = f.text.trim().toLowerCase();
  return lines.filter((l) =>
    LEVELS.indexOf(l.level) >= min &&
    (!f.instance || l.instance === f.instance) &&
    (!rid || (l.requestId ?? '').includes(rid)) &&
    (!text || searchText(l).includes(text)) &&
    (f.admin || !isDashboardCall(l)));
}

/**
 * What the search box reads of a line: its message, instance and request id, and its structured
 * fields as `key=value` (status, error type/code, instance, model, ...), lower-cased. So `502`,
 * `status=502`, `upstream_error` and `model=coder` all find their lines.
 */
export function searchText(l: AdminLogLine): string {
  const fields = l.fields ? Object.entries(l.fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
  return `${l.msg} ${l.instance ?? ''} ${l.requestId ?? ''} ${fields}`.toLowerCase();
}

export function isDashboardCall(l: AdminLogLine): boolean {
  const url = l.fields?.url;
  return l.msg === 'request' && typeof url === 'string' && (url.startsWith('/admin/') || url.startsWith('/ui'));
}

function fieldsText(f: Record<string, unknown> | undefined): string {
  if (!f) return '';
  return Object.entries(f)
    .filter(([k]) => !['msg', 'level', 'time', 'reqId', 'requestId', 'instance'].includes(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}

export function Logs({ snap }: { snap: AdminSnapshot }) {
  const [f, setF] = useState<LogFilter>({ level: 'info', instance: '', requestId: '', text: '' });
  const [paused, setPaused] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const lines = useMemo(() => filterLogs(snap.logs, f).slice(-SHOWN), [snap.logs, f]);
  const seenAtPause = useRef(0);
  const instances = [...new Set([...snap.instances.map((i) => i.name), ...snap.logs.map((l) => l.instance).filter((x): x is string => !!x)])];

  // Follow the tail unless the user scrolled up to read.
  useLayoutEffect(() => {
    const el = box.current;
    if (el && !paused) el.scrollTop = el.scrollHeight;
  }, [lines, paused]);
  useEffect(() => {
    if (!paused) seenAtPause.current = snap.logs.length;
  }, [paused, snap.logs.length]);

  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
    if (atBottom && paused) setPaused(false);
    else if (!atBottom && !paused) setPaused(true);
  };
  const newLines = paused ? Math.max(0, snap.logs.length - seenAtPause.current) : 0;

  return (
    <div className="screen screen-fill" data-testid="screen-logs">
      <Card title="Logs" className="card-fill" actions={paused ? (
        <button type="button" className="btn btn-small btn-primary" onClick={() => setPaused(false)} data-testid="logs-resume">
          Paused{newLines ? ` · ${newLines} new` : ''} · Follow
        </button>
      ) : <span className="muted small">following</span>}>
        <div className="toolbar">
          <select aria-label="Level" value={f.level} onChange={(e) => setF({ ...f, level: e.target.value as LogLevel })}>
            {LEVELS.map((l) => <option key={l} value={l}>{l} and above</option>)}
          </select>
          <select aria-label="Instance" value={f.instance} onChange={(e) => setF({ ...f, instance: e.target.value })}>
            <option value="">All instances</option>
            {instances.map((i) => <option key={i} value={i}>{i}</option>)}
          </select>
          <input aria-label="Request id" placeholder="Request id" value={f.requestId} onChange={(e) => setF({ ...f, requestId: e.target.value })} spellCheck={false} />
          <input aria-label="Search" placeholder="Search messages and fields" value={f.text} onChange={(e) => setF({ ...f, text: e.target.value })} spellCheck={false} />
          <label className="switch small"><input type="checkbox" checked={!!f.admin} onChange={(e) => setF({ ...f, admin: e.target.checked })} /> dashboard calls</label>
        </div>
        {lines.length === 0 ? (
          <Empty title={snap.logs.length ? 'No line matches these filters' : 'No log lines yet'}>
            <p>{snap.logs.length ? 'Lower the level or clear a filter.' : 'Log lines from the gateway and every instance stream here live.'}</p>
          </Empty>
        ) : (
          <div className="logbox" ref={box} onScroll={onScroll} data-testid="log-lines" role="log" aria-live="off">
            {lines.map((l, i) => (
              <div key={`${l.time}-${i}`} className={`log log-${l.level}`}>
                <span className="log-time">{fmtTime(l.time)}</span>
                <span className={`log-level lv-${l.level}`}>{l.level}</span>
                {l.instance && <span className="log-inst">{l.instance}</span>}
                <span className="log-msg">{l.msg}</span>
                {l.fields && <span className="log-fields">{fieldsText(l.fields)}</span>}
                {l.requestId && <button type="button" className="log-rid" title="Filter by this request" onClick={() => setF({ ...f, requestId: l.requestId! })}>{l.requestId.slice(0, 12)}</button>}
              </div>
            ))}
          </div>
        )}
      </Card>
    </div>
  );
}
