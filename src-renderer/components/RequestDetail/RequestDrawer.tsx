/**
 * The request detail drawer (issues #15 and #17): opened from a row of Live or Usage, linkable as
 * `#/<screen>/requests/<id>` (or `#/requests/<id>`, which opens over Live). Reads the inspector's
 * capture (`GET /admin/requests/:id`), the ledger row (`GET /admin/usage/recent?requestId=`) and
 * the log lines of that request from the dashboard's recent log. Says plainly when capture is off
 * or the request is gone.
 */
import { TabList } from '../TabList';
import { useCallback, useEffect, useState } from 'react';
import type { UsageRow } from '../../../src-main/core/admin/api-types';
import type { Capture } from '../../../src-main/core/inspector/types';
import { ApiError } from '../../api/client';
import { fmtDateTime, fmtInt, fmtMs } from '../../lib/format';
import { useDash } from '../../store';
import { Badge, CopyButton } from '../ui';
import { Replay, requestHref, SideBySide } from './Replay';
import { Answer, LedgerRow, RequestBody, RequestLogs, Upstream } from './Sections';
import { Timeline } from './Timeline';
import './request-detail.css';

/** `#/live/requests/abc` → { screen: 'live', id: 'abc' }; `#/requests/abc` opens over Live. */
export function requestFromHash(hash: string): { screen: string; id: string } | undefined {
  const m = /^#\/?(?:([a-z-]+)\/)?requests\/([^/?#]+)/.exec(hash);
  if (!m) return undefined;
  try {
    return { screen: m[1] ?? 'live', id: decodeURIComponent(m[2]) };
  } catch {
    return undefined;
  }
}

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

const TABS = ['story', 'request', 'response', 'upstream', 'usage', 'logs', 'replay'] as const;
type Tab = (typeof TABS)[number] | 'compare';
const TAB_TITLES: Record<Tab, string> = { story: 'Timeline', request: 'Request', response: 'Response', upstream: 'Upstream', usage: 'Tokens and cost', logs: 'Logs', replay: 'Replay', compare: 'Compare with original' };

interface Loaded {
  capture?: Capture;
  /** Why there is no capture, in words. */
  missing?: string;
  row?: UsageRow;
  rowProblem?: string;
  original?: Capture;
}

async function load(id: string): Promise<Loaded> {
  const client = useDash.getState().client;
  if (!client) return { missing: 'Not connected to Lingma Relay.' };
  const out: Loaded = {};
  const [cap, rows] = await Promise.allSettled([client.request(id), client.usageRecent({ requestId: id, limit: 1 })]);
  if (cap.status === 'fulfilled') out.capture = cap.value;
  else out.missing = cap.reason instanceof ApiError && cap.reason.status === 404 ? cap.reason.message : `Could not load the capture: ${cap.reason instanceof Error ? cap.reason.message : String(cap.reason)}`;
  if (rows.status === 'fulfilled') out.row = rows.value.rows[0];
  else out.rowProblem = `The usage ledger did not answer: ${rows.reason instanceof Error ? rows.reason.message : String(rows.reason)}`;
  if (out.capture?.replayOf) out.original = await client.request(out.capture.replayOf).catch(() => undefined);
  return out;
}

export function RequestDetail({ id, screen, onClose }: { id: string; screen: string; onClose: () => void }) {
  const logs = useDash((s) => s.snap?.logs);
  const [data, setData] = useState<Loaded>();
  const [tab, setTab] = useState<Tab>('story');
  const refresh = useCallback(() => {
    void load(id).then(setData);
  }, [id]);
  useEffect(() => {
    setData(undefined);
    setTab('story');
    refresh();
  }, [refresh]);
  useEffect(() => {
    const on = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose(); };
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
  }, [onClose]);

  const c = data?.capture;
  const requestId = c?.requestId ?? id;
  const lines = (logs ?? []).filter((l) => l.requestId === requestId || (c && l.requestId === c.id));
  const failed = c ? c.status >= 400 || !!c.errorCode : false;
  const tabs: Tab[] = c ? [...TABS.slice(0, 6), ...(c.replayOf ? (['compare'] as Tab[]) : []), 'replay'] : ['usage', 'logs'];
  const shown: Tab = tabs.includes(tab) ? tab : tabs[0];

  return (
    <div className="rd-backdrop" onClick={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <aside className="rd-drawer" role="dialog" aria-modal="true" aria-labelledby="rd-title" data-testid="request-drawer">
        <header className="rd-head">
          <div className="rd-title">
            <h2 id="rd-title">Request <span className="mono">{requestId}</span></h2>
            {c && (
              <div className="small muted" data-testid="rd-summary">
                {fmtDateTime(c.receivedAt)} · {c.requestedModel}{c.resolved && c.resolved !== c.requestedModel ? ` → ${c.resolved}` : ''} · {c.instance ?? 'no instance'} · first byte {fmtMs(c.ttftMs)} · total {fmtMs(c.totalMs)} · {fmtInt(c.promptTokens)} in / {fmtInt(c.completionTokens)} out
              </div>
            )}
            {c?.replayOf && <div className="small">Replay of <a className="mono" href={requestHref(c.replayOf, screen)}>{c.replayOf}</a></div>}
          </div>
          {c && <Badge tone={failed ? 'bad' : 'ok'}>{c.errorCode ?? c.status}</Badge>}
          <CopyButton text={`${window.location.origin}${window.location.pathname}${requestHref(requestId, screen)}`} label="Copy link" small />
          <button type="button" className="btn btn-small btn-ghost" onClick={refresh}>Refresh</button>
          <button type="button" className="btn btn-small btn-ghost" aria-label="Close" data-testid="rd-close" onClick={onClose}>×</button>
        </header>
        {!data ? (
          <div className="rd-body muted">Loading…</div>
        ) : (
          <>
            {!c && (
              <div className="banner banner-warn rd-missing" data-testid="rd-missing">
                The request inspector has no capture of this request. {data.missing}
              </div>
            )}
            <TabList<Tab>
              label="Request details"
              className="rd-tabs"
              items={tabs.map((t) => ({ id: t, title: TAB_TITLES[t] }))}
              current={shown}
              onSelect={setTab}
              testId={(t) => `rd-tab-${t}`}
            />
            <div className="rd-body" role="tabpanel">
              {c && shown === 'story' && (
                <>
                  <Timeline events={c.timeline} totalMs={c.totalMs} />
                  {c.error && <div className="banner banner-bad" role="alert">{c.error.status} {c.error.code}: {c.error.message}</div>}
                  {data.row?.switchReasons.length ? <p className="small">Switch reasons (ledger): <span className="mono">{data.row.switchReasons.join(', ')}</span></p> : null}
                </>
              )}
              {c && shown === 'request' && <RequestBody body={c.request} truncated={c.truncated} />}
              {c && shown === 'response' && <Answer answer={c.response} error={c.error} />}
              {c && shown === 'upstream' && <Upstream up={c.upstream} />}
              {shown === 'usage' && <LedgerRow row={data.row} problem={data.rowProblem} />}
              {shown === 'logs' && <RequestLogs lines={lines} />}
              {c && shown === 'compare' && (data.original ? <SideBySide original={data.original} replay={c} screen={screen} /> : <p className="muted">The original request is no longer captured.</p>)}
              {c && shown === 'replay' && <Replay original={c} screen={screen} />}
            </div>
          </>
        )}
      </aside>
    </div>
  );
}

/** Mounted once in the shell: shows the drawer while the hash names a request. */
export function RequestDrawer() {
  const hash = useHash();
  const open = requestFromHash(hash);
  const close = useCallback(() => {
    const screen = requestFromHash(window.location.hash)?.screen ?? 'live';
    window.location.hash = `#/${screen}`;
  }, []);
  if (!open) return null;
  return <RequestDetail id={open.id} screen={open.screen} onClose={close} />;
}
