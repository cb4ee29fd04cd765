/** "Test": one tiny chat to an alias or one target, through the gateway; shows the path it took. */
import { useState } from 'react';
import type { AliasTestResult } from '../../../src-main/core/admin/api-types';
import { manage } from '../../api/manage';
import { useDash } from '../../store';

export function AliasTestButton({ model, label = 'Test' }: { model: string; label?: string }) {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<AliasTestResult>();
  const [error, setError] = useState<string>();
  const run = async () => {
    const client = useDash.getState().client;
    if (!client) return;
    setBusy(true);
    setError(undefined);
    try {
      setResult(await manage.testAlias(client, model));
    } catch (e) {
      setResult(undefined);
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const id = `test-${model.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <span className="alias-test">
      <button type="button" className="btn btn-small btn-ghost" onClick={() => void run()} disabled={busy} aria-describedby={result || error ? id : undefined} title={`Send a tiny request to ${model}`}>
        {busy ? 'Testing…' : label}
      </button>
      {(result || error) && (
        <span id={id} className={`small alias-test-out ${result?.ok ? 'ok-text' : 'bad-text'}`} role="status" data-testid={id}>
          {error ?? (result!.ok
            ? <>answered by <span className="mono">{result!.resolved ?? '?'}</span>{result!.path.length ? <> · path: {result!.path.map((p) => `${p.target}${p.instance ? ` (${p.instance})` : ''} ${p.outcome === 'first_byte' ? '✓' : `✗ ${p.reason ?? p.outcome}`}`).join(' → ')}</> : null}</>
            : <>failed ({result!.status}): {result!.error}{result!.path.length ? <> · tried {result!.path.map((p) => p.target).join(' → ')}</> : null}</>)}
        </span>
      )}
    </span>
  );
}
