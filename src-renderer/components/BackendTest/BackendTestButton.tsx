/**
 * "Test this backend": one tiny chat on an instance or a provider (`POST /admin/{instances,
 * providers}/:name/test`), its outcome in plain words beside the button: time to first token and
 * the answer, or what went wrong.
 */
import { useState } from 'react';
import type { BackendTestResult } from '../../../src-main/core/inspector/types';
import { fmtMs } from '../../lib/format';
import { useDash } from '../../store';
import '../RequestDetail/request-detail.css';

type Shown = { result: BackendTestResult } | { failure: string };

/** One sentence a person reads. */
export function testSummary(r: BackendTestResult): string {
  if (r.ok) return `${r.instance} answered with ${r.model}: first token after ${fmtMs(r.ttftMs)}, done in ${fmtMs(r.totalMs)}.`;
  return `${r.instance} did not answer${r.model ? ` with ${r.model}` : ''}: ${r.error ?? 'no reason given'}`;
}

export function BackendTestButton({ kind, name }: { kind: 'instance' | 'provider'; name: string }) {
  const client = useDash((s) => s.client);
  const [busy, setBusy] = useState(false);
  const [shown, setShown] = useState<Shown>();
  const run = async () => {
    if (!client) return;
    setBusy(true);
    setShown(undefined);
    try {
      setShown({ result: await client.testBackend(kind === 'instance' ? 'instances' : 'providers', name) });
    } catch (e) {
      setShown({ failure: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  };
  const r = shown && 'result' in shown ? shown.result : undefined;
  return (
    <span className="bt">
      <button type="button" className="btn btn-small btn-ghost" disabled={busy || !client} onClick={() => void run()} data-testid={`test-backend-${name}`} title="Send one tiny chat to it and show the answer">
        {busy ? 'Testing…' : 'Test this backend'}
      </button>
      {shown && (
        <div className="bt-pop" role="status" data-testid={`test-result-${name}`}>
          <div className="bt-pop-head">
            <span className={`badge ${r?.ok ? 'badge-ok' : 'badge-bad'}`}>{r?.ok ? 'answered' : 'failed'}</span>
            <span className="strong">Test of {kind} {name}</span>
            <span className="spacer" />
            <button type="button" className="btn btn-small btn-ghost" aria-label="Close" onClick={() => setShown(undefined)}>×</button>
          </div>
          {r ? <p>{testSummary(r)}</p> : <p>The test could not run: {'failure' in shown ? shown.failure : ''}</p>}
          {r?.ok && r.answer !== undefined && <pre className="rd-pre" data-testid="test-answer">{r.answer || '(an empty answer)'}</pre>}
          {r && !r.ok && r.errorCode && <p className="muted small mono">{r.errorCode}</p>}
        </div>
      )}
    </span>
  );
}
