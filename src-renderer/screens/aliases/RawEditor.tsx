/** The aliases file as text, for people who prefer it: YAML errors inline with line and column. */
import { useEffect, useMemo, useRef, useState } from 'react';
import { yamlProblems } from '../../../src-main/core/routing/alias-document';
import { manage } from '../../api/manage';
import { useDash } from '../../store';
import type { useAliasSave } from './useAliasSave';

function offsetOf(text: string, line: number, col: number): number {
  const lines = text.split('\n');
  let at = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
  return at + Math.max(0, col - 1);
}

export function RawEditor({ saver, path }: { saver: ReturnType<typeof useAliasSave>; path?: string }) {
  const [text, setText] = useState<string>();
  const [loadErr, setLoadErr] = useState<string>();
  const [serverErr, setServerErr] = useState<string>();
  const [busy, setBusy] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const client = useDash((s) => s.client);

  useEffect(() => {
    if (!client) return;
    manage.aliasesFile(client).then((f) => setText(f.text), (e: unknown) => setLoadErr(e instanceof Error ? e.message : String(e)));
  }, [client]);

  const problems = useMemo(() => (text === undefined ? [] : yamlProblems(text)), [text]);
  const jump = (line?: number, col?: number) => {
    if (!area.current || text === undefined || !line) return;
    const at = offsetOf(text, line, col ?? 1);
    area.current.focus();
    area.current.setSelectionRange(at, at + 1);
  };
  const save = async () => {
    if (text === undefined || problems.length) return;
    setBusy(true);
    setServerErr(undefined);
    try {
      await saver.save((c, confirm) => manage.saveAliasesText(c, text, confirm), 'Aliases file saved');
    } catch (e) {
      setServerErr(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  if (loadErr) return <div className="form-error" role="alert">{loadErr}</div>;
  if (text === undefined) return <p className="muted">Loading the aliases file…</p>;
  return (
    <div className="form" data-testid="aliases-raw">
      <div className={`field ${problems.length ? 'field-error' : ''}`}>
        <label htmlFor="aliases-yaml">{path ? <>Aliases file <span className="mono">{path}</span></> : 'Aliases file'}</label>
        <textarea id="aliases-yaml" ref={area} className="mono yaml-editor" rows={16} spellCheck={false} value={text}
          aria-invalid={problems.length ? true : undefined} aria-describedby={problems.length ? 'aliases-yaml-errors' : undefined}
          onChange={(e) => setText(e.target.value)} />
        {problems.length > 0 && (
          <div id="aliases-yaml-errors" role="alert" data-testid="yaml-errors">
            <ul className="yaml-errors">
              {problems.map((p, i) => (
                <li key={i} className="field-msg">
                  <button type="button" className="link-button" onClick={() => jump(p.line, p.col)}>Line {p.line ?? '?'}, column {p.col ?? '?'}</button>: {p.message}
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
      {serverErr && <div className="form-error" role="alert">{serverErr}</div>}
      <div className="form-actions">
        <button type="button" className="btn btn-primary" disabled={busy || problems.length > 0} onClick={() => void save()}>{busy ? 'Saving…' : 'Save file'}</button>
      </div>
    </div>
  );
}
