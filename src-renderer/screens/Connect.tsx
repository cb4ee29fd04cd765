/**
 * "Connect a client": the relay writes Claude Code / Codex / qwen-code / Continue settings after
 * showing the exact diff, keeps a backup, and can put it back ("Restore previous"). The other
 * clients (Cursor, Cline, the SDKs, curl) get copy-paste snippets.
 */
import { TabList } from '../components/TabList';
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { AdminSnapshot, ClientPlanView, ClientsView, ClientStatusView } from '../../src-main/core/admin/api-types';
import { Badge, Card, Code, ConfirmButton, Empty } from '../components/ui';
import { snippets } from '../lib/snippets';
import { useDash } from '../store';

/** Snippet ids the relay cannot write for the person (no settings file it knows). */
const COPY_ONLY = ['cursor', 'cline', 'openai-sdk', 'curl'];

export function DiffView({ diff, testId }: { diff: string; testId?: string }) {
  const lines = diff.replace(/\n$/, '').split('\n');
  return (
    <pre className="diff" data-testid={testId} aria-label="Changes to the file">
      {lines.map((l, i) => {
        const kind = l.startsWith('+++') || l.startsWith('---') ? 'diff-file' : l.startsWith('@@') ? 'diff-hunk' : l.startsWith('+') ? 'diff-add' : l.startsWith('-') ? 'diff-del' : 'diff-ctx';
        const sr = kind === 'diff-add' ? 'added: ' : kind === 'diff-del' ? 'removed: ' : '';
        return (
          <span key={i} className={`diff-line ${kind}`}>
            {sr && <span className="sr-only">{sr}</span>}
            {l}
            {'\n'}
          </span>
        );
      })}
    </pre>
  );
}

function statusBadge(c: ClientStatusView) {
  if (c.problem) return <Badge tone="bad" title={c.problem}>cannot edit</Badge>;
  if (c.configured) return <Badge tone="ok">connected</Badge>;
  if (!c.exists) return <Badge tone="muted">no settings file yet</Badge>;
  return <Badge tone="muted">not connected</Badge>;
}

function ClientRow({ c, model, onChanged }: { c: ClientStatusView; model: string; onChanged: () => void }) {
  const [plan, setPlan] = useState<ClientPlanView | undefined>();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<ClientPlanView | undefined>();
  const { client, toast } = useDash.getState();

  const run = async (what: string, fn: () => Promise<void>) => {
    setBusy(true);
    try {
      await fn();
    } catch (e) {
      toast('error', `${c.title}: ${what}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  };
  const preview = () => run('preview', async () => { setDone(undefined); setPlan(await client!.planClient(c.id, model || undefined)); });
  const write = () => run('write', async () => {
    const r = await client!.applyClient(c.id, model || undefined);
    setPlan(undefined);
    setDone(r);
    toast('ok', r.written ? `${c.title} settings written (backup kept)` : `${c.title} was already connected`);
    onChanged();
  });
  const restore = () => run('restore', async () => {
    const r = await client!.restoreClient(c.id);
    setPlan(undefined);
    setDone(undefined);
    toast('ok', r.action === 'restored' ? `${c.title}: previous settings restored` : `${c.title}: the file the relay created was removed`);
    onChanged();
  });

  return (
    <li className="client-row" data-testid={`client-${c.id}`}>
      <div className="client-head">
        <div className="client-title">
          <span className="strong">{c.title}</span>
          {statusBadge(c)}
        </div>
        <span className="mono small muted client-path">{c.path}</span>
        <span className="spacer" />
        <div className="client-actions">
          {c.hasBackup && <ConfirmButton label="Restore previous" confirm="Put the old file back" onConfirm={restore} small />}
          <button type="button" className="btn btn-small" disabled={busy || !!c.problem} onClick={preview} aria-expanded={!!plan}>
            {c.configured ? 'Check again' : 'Preview changes'}
          </button>
        </div>
      </div>
      {c.problem && <p className="small text-bad" role="alert">{c.problem}</p>}
      {plan && (
        <div className="client-plan">
          {plan.changed ? (
            <>
              <p className="small">This is exactly what will change in <span className="mono">{plan.path}</span>. The current file is kept as a backup; <em>Restore previous</em> puts it back.</p>
              <DiffView diff={plan.diff} testId={`diff-${c.id}`} />
              {plan.note && <p className="small muted">{plan.note}</p>}
              <div className="row-actions">
                <button type="button" className="btn btn-primary" disabled={busy} onClick={write} data-testid={`apply-${c.id}`}>Write these changes</button>
                <button type="button" className="btn btn-ghost" disabled={busy} onClick={() => setPlan(undefined)}>Cancel</button>
              </div>
            </>
          ) : (
            <p className="small">Nothing to change: {c.title} already points at this relay.</p>
          )}
        </div>
      )}
      {done?.written && done.note && <p className="small muted" role="status">{done.note}</p>}
    </li>
  );
}

export function Connect({ snap }: { snap: AdminSnapshot }) {
  const [view, setView] = useState<ClientsView | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [model, setModel] = useState('');
  const [other, setOther] = useState(COPY_ONLY[0]);

  const load = useCallback(async () => {
    try {
      const v = await useDash.getState().client!.clients();
      setView(v);
      setError(undefined);
      setModel((m) => m || v.model || '');
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => { void load(); }, [load]);

  const key = snap.apiKey ?? 'YOUR_API_KEY';
  const shownModel = model || view?.model || 'coder';
  const copy = useMemo(() => snippets(snap.endpoint, key, shownModel).filter((s) => COPY_ONLY.includes(s.id)).sort((a, b) => COPY_ONLY.indexOf(a.id) - COPY_ONLY.indexOf(b.id)), [snap.endpoint, key, shownModel]);
  const current = copy.find((s) => s.id === other) ?? copy[0];

  return (
    <div className="screen" data-testid="screen-connect">
      <Card title="Write the settings for me" actions={view?.model ? <Badge tone="muted">endpoint {snap.endpoint}</Badge> : undefined}>
        <p className="muted small">
          Pick a client: Lingma Relay shows the exact change to its settings file, writes it only when you confirm, and keeps the old file so you can restore it here.
        </p>
        {error && <p className="small text-bad" role="alert">{error}</p>}
        {view?.problem ? (
          <Empty testId="empty-clients" title="Nothing can be written yet" action={<a className="btn btn-ghost" href="#/settings">Open settings</a>}>
            <p>{view.problem}</p>
          </Empty>
        ) : (
          <>
            <div className="field field-inline">
              <label htmlFor="client-model">Model the clients ask for</label>
              <input id="client-model" className="mono" value={model} onChange={(e) => setModel(e.target.value.trim())} placeholder={view?.model ?? 'an alias'} spellCheck={false} autoComplete="off" />
              <span className="field-hint">an alias from <a href="#/aliases">Aliases</a> or provider/model</span>
            </div>
            {!view && !error && <p className="muted small">Loading…</p>}
            <ul className="client-list">
              {view?.clients.map((c) => <ClientRow key={c.id} c={c} model={model} onChanged={load} />)}
            </ul>
          </>
        )}
      </Card>

      <Card title="Copy and paste for the others">
        <TabList label="Other clients" items={copy} current={current.id} onSelect={setOther} />
        <p className="muted small">{current.hint}{current.where ? <> · <span className="mono">{current.where}</span></> : null}</p>
        <Code code={current.code} testId="snippet-other" />
      </Card>
    </div>
  );
}
