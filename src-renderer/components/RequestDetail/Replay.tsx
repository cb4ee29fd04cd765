/**
 * Replay: the captured body in a JSON editor (checked as you type, the problem named), sent again
 * through the gateway by the admin replay route (to the same alias or a chosen model), then the
 * original and the replay side by side with a word or line diff of their answers.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { Capture, ReplayResult } from '../../../src-main/core/inspector/types';
import { diffStats, diffText, sides, type DiffPart } from '../../lib/diff';
import { checkJsonBody } from '../../lib/json-body';
import { fmtInt, fmtMs } from '../../lib/format';
import { useDash } from '../../store';
import { Badge } from '../ui';
import { pretty } from './Sections';

/** The link that opens a request in the drawer, over the screen it was opened from. */
export function requestHref(id: string, screen: string): string {
  return `#/${screen}/requests/${encodeURIComponent(id)}`;
}

function DiffText({ parts, testId }: { parts: DiffPart[]; testId: string }) {
  return (
    <pre className="rd-pre rd-diff" data-testid={testId}>
      {parts.map((p, n) => (p.op === 'same' ? <span key={n}>{p.text}</span> : <mark key={n} className={`diff-${p.op}`}>{p.text}</mark>))}
    </pre>
  );
}

function Side({ c, title, screen, testId }: { c?: Capture; title: string; screen: string; testId: string }) {
  if (!c) return <div className="rd-side" data-testid={testId}><h3 className="sub">{title}</h3><p className="muted">Not captured.</p></div>;
  const failed = c.status >= 400 || !!c.errorCode;
  return (
    <div className="rd-side" data-testid={testId}>
      <h3 className="sub">{title}</h3>
      <div className="rd-side-head small">
        <div className="rd-side-id">
          <a className="mono" href={requestHref(c.requestId, screen)} title={c.requestId}>{c.requestId}</a>
          <Badge tone={failed ? 'bad' : 'ok'}>{c.errorCode ?? c.status}</Badge>
        </div>
        <span className="muted">{c.resolved ?? c.requestedModel} · {c.instance ?? '–'} · first byte {fmtMs(c.ttftMs)} · {fmtMs(c.totalMs)} · {fmtInt((c.promptTokens ?? 0) + (c.completionTokens ?? 0))} tokens</span>
      </div>
    </div>
  );
}

export function SideBySide({ original, replay, screen }: { original: Capture; replay?: Capture; screen: string }) {
  const [unit, setUnit] = useState<'word' | 'line'>('word');
  const a = original.response?.text ?? original.error?.message ?? '';
  const b = replay ? replay.response?.text ?? replay.error?.message ?? '' : '';
  const parts = useMemo(() => diffText(a, b, unit), [a, b, unit]);
  const { left, right } = sides(parts);
  const stats = diffStats(parts);
  return (
    <div className="rd-compare" data-testid="rd-compare">
      <div className="toolbar">
        <span className="small" data-testid="rd-diff-stats">{!replay ? 'The replay was not captured (is the inspector on?).' : stats.same ? 'The answers are the same.' : `${stats.removed} word${stats.removed === 1 ? '' : 's'} only in the original, ${stats.added} only in the replay.`}</span>
        <span className="spacer" />
        <div className="seg" role="group" aria-label="Diff by">
          {(['word', 'line'] as const).map((u) => <button key={u} type="button" className={`seg-btn ${unit === u ? 'seg-on' : ''}`} onClick={() => setUnit(u)}>by {u}</button>)}
        </div>
      </div>
      <div className="rd-cols">
        <div>
          <Side c={original} title="Original" screen={screen} testId="rd-side-original" />
          <DiffText parts={left} testId="rd-diff-left" />
        </div>
        <div>
          <Side c={replay} title="Replay" screen={screen} testId="rd-side-replay" />
          {replay && <DiffText parts={right} testId="rd-diff-right" />}
        </div>
      </div>
    </div>
  );
}

/** Models to replay against: the aliases and every provider's models (what /v1/models lists). */
export function replayTargets(aliases: ReadonlyArray<{ name: string; pattern: boolean }>, providers: ReadonlyArray<{ models: string[] }>): string[] {
  return [...new Set([...aliases.filter((a) => !a.pattern).map((a) => a.name), ...providers.flatMap((p) => p.models)])];
}

export function Replay({ original, screen }: { original: Capture; screen: string }) {
  const client = useDash((s) => s.client);
  const snap = useDash((s) => s.snap);
  const initial = useMemo(() => (original.request && typeof original.request === 'object' ? pretty(original.request) : ''), [original]);
  const [text, setText] = useState(initial);
  const [model, setModel] = useState('');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string>();
  const [result, setResult] = useState<ReplayResult>();
  const check = useMemo(() => checkJsonBody(text), [text]);
  const targets = useMemo(() => replayTargets(snap?.aliases ?? [], snap?.providers ?? []), [snap?.aliases, snap?.providers]);
  const same = original.alias ?? original.requestedModel;
  // The comparison is below the editor: bring it into view when it arrives.
  const shown = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (result) shown.current?.scrollIntoView?.({ block: 'start' });
  }, [result]);
  const rows = Math.min(14, Math.max(6, text.split('\n').length + 1));

  const send = async () => {
    if (!client || !check.ok) return;
    setSending(true);
    setError(undefined);
    try {
      setResult(await client.replay(original.requestId, { body: check.value, ...(model ? { model } : {}) }));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setSending(false);
    }
  };

  return (
    <div className="rd-replay" data-testid="rd-replay">
      <p className="muted small">
        Sends this request again through the gateway, as the same API key, as a new request with its own id linked to this one. Edit the body first if you like.
      </p>
      {original.truncated && <p className="banner banner-warn">The captured body was cut by the inspector; paste the whole body before replaying.</p>}
      <div className={`field ${check.ok ? '' : 'field-error'}`}>
        <label htmlFor="rd-body">Request body (JSON)</label>
        <textarea id="rd-body" className="rd-editor mono" data-testid="rd-editor" value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} rows={rows} aria-invalid={!check.ok} aria-describedby="rd-body-msg" />
        <div id="rd-body-msg" className={check.ok ? 'field-hint' : 'field-msg'} role={check.ok ? undefined : 'alert'} data-testid="rd-json-msg">
          {check.ok ? 'Valid JSON.' : check.problem}
        </div>
      </div>
      <div className="toolbar">
        <label className="small" htmlFor="rd-target">Send to</label>
        <select id="rd-target" data-testid="rd-target" value={model} onChange={(e) => setModel(e.target.value)}>
          <option value="">the same model as the body ({check.ok && typeof check.value.model === 'string' ? check.value.model : same})</option>
          {targets.map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
        <button type="button" className="btn btn-primary" data-testid="rd-send" disabled={!check.ok || sending || !client} onClick={() => void send()}>{sending ? 'Replaying…' : 'Replay'}</button>
        {text !== initial && <button type="button" className="btn btn-ghost" onClick={() => setText(initial)}>Reset body</button>}
      </div>
      {error && <div className="banner banner-bad" role="alert" data-testid="rd-replay-error">Replay failed: {error}</div>}
      {result && (
        <div ref={shown} className="rd-result">
          <p className="small" data-testid="rd-replay-link">
            Replay <a className="mono" href={requestHref(result.requestId, screen)}>{result.requestId}</a> of <span className="mono">{result.replayOf}</span>: the client got {result.status}.
          </p>
          <SideBySide original={original} replay={result.capture} screen={screen} />
        </div>
      )}
    </div>
  );
}
