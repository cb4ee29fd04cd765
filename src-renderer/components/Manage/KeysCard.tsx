/**
 * API keys: usage today and last use, editable limits (created and first-start keys), and revoking. The key the
 * dashboard's snippets and the tray use is not revoked with the one-click confirm: revoking it
 * asks for a replacement (a new key, or another key proven by its whole value).
 */
import { useState } from 'react';
import type { AdminApiKey, AdminSnapshot, CreateKeyResult } from '../../../src-main/core/admin/api-types';
import { KeyLimitsBody, fieldProblems, tidyBody } from '../../../src-main/core/admin/schemas';
import { manage } from '../../api/manage';
import { fmtCompact, fmtDateTime, fmtInt } from '../../lib/format';
import { validateKeyName } from '../../lib/validate';
import { act, useDash } from '../../store';
import './manage.css';
import { Badge, Card, ConfirmButton, CopyButton, Field } from '../ui';

const LIMITS = [
  { k: 'rpm', label: 'Requests / minute', numeric: true },
  { k: 'tokensPerDay', label: 'Tokens / day', numeric: true },
  { k: 'concurrency', label: 'Concurrent requests', numeric: true },
  { k: 'expiresAt', label: 'Expires (date)', numeric: false },
] as const;
type LimitKey = (typeof LIMITS)[number]['k'];

function limitsText(k: AdminApiKey): string {
  const l = k.limits ?? {};
  const parts = [l.rpm && `${fmtInt(l.rpm)} rpm`, l.tokensPerDay && `${fmtCompact(l.tokensPerDay)} tokens/day`, l.concurrency && `${l.concurrency} at a time`, l.expiresAt && `expires ${l.expiresAt}`].filter(Boolean);
  return parts.length ? parts.join(' · ') : 'no limits';
}

function LimitsForm({ k, onDone }: { k: AdminApiKey; onDone: () => void }) {
  const [v, setV] = useState<Record<LimitKey, string>>({
    rpm: String(k.limits?.rpm ?? ''), tokensPerDay: String(k.limits?.tokensPerDay ?? ''), concurrency: String(k.limits?.concurrency ?? ''), expiresAt: k.limits?.expiresAt ?? '',
  });
  const [errs, setErrs] = useState<Partial<Record<LimitKey, string>>>({});
  const save = async (ev: { preventDefault(): void }) => {
    ev.preventDefault();
    const body: Record<string, unknown> = {};
    const clear: LimitKey[] = [];
    for (const { k: name, numeric } of LIMITS) {
      const t = v[name].trim();
      if (!t) { if (k.limits?.[name] !== undefined) clear.push(name); continue; }
      body[name] = numeric ? Number(t) : t;
    }
    const bad = fieldProblems(KeyLimitsBody, tidyBody(body) as Record<string, unknown>);
    setErrs(bad as Partial<Record<LimitKey, string>>);
    if (Object.keys(bad).length) return;
    if (clear.length) body.clear = clear;
    if (await act('Save key limits', (c) => manage.setKeyLimits(c, k.id, body), `Limits of ${k.name ?? k.id} saved`)) onDone();
  };
  return (
    <form className="form" onSubmit={save} noValidate data-testid={`limits-${k.id}`}>
      <div className="form-grid">
        {LIMITS.map(({ k: name, label, numeric }) => (
          <Field key={name} label={label} htmlFor={`lim-${k.id}-${name}`} error={errs[name]}>
            <input id={`lim-${k.id}-${name}`} type={numeric ? 'text' : 'date'} inputMode={numeric ? 'numeric' : undefined} placeholder="none" value={v[name]} onChange={(e) => setV({ ...v, [name]: e.target.value })} />
          </Field>
        ))}
      </div>
      <p className="muted small">Empty means no limit. Changes apply to the next request.</p>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary">Save limits</button>
        <button type="button" className="btn btn-ghost" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

function ReplaceDashboardKey({ k, keys, onDone, onNewKey }: { k: AdminApiKey; keys: AdminApiKey[]; onDone: () => void; onNewKey: (r: CreateKeyResult) => void }) {
  const others = keys.filter((x) => x.id !== k.id);
  const [mode, setMode] = useState<'create' | 'pick'>('create');
  const [pick, setPick] = useState(others[0]?.id ?? '');
  const [whole, setWhole] = useState('');
  const [err, setErr] = useState<string>();
  const go = async () => {
    const client = useDash.getState().client;
    if (!client) return;
    if (mode === 'pick' && (!pick || whole.trim().length < 8)) { setErr('Pick a key and paste its whole value (only its hash is kept here).'); return; }
    try {
      const r = await manage.replaceKey(client, k.id, mode === 'create' ? { create: true } : { id: pick, key: whole.trim() });
      useDash.getState().toast('ok', `Key ${k.name ?? k.id} revoked; the dashboard now uses ${r.id}`);
      if (r.key) onNewKey({ id: r.id, key: r.key });
      onDone();
    } catch (e) {
      setErr(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <div className="banner banner-warn" role="group" aria-labelledby={`replace-${k.id}`} data-testid="replace-key">
      <div id={`replace-${k.id}`}><strong>{k.name ?? k.id} is the key the dashboard's snippets and the tray use.</strong> Choose what takes its place before it is revoked:</div>
      <label className="switch"><input type="radio" name="replace-mode" checked={mode === 'create'} onChange={() => setMode('create')} /> <span>Create a new key</span></label>
      <label className="switch"><input type="radio" name="replace-mode" checked={mode === 'pick'} disabled={!others.length} onChange={() => setMode('pick')} /> <span>Use another key{others.length ? '' : ' (there is none)'}</span></label>
      {mode === 'pick' && (
        <div className="form-grid">
          <Field label="Key" htmlFor="replace-pick">
            <select id="replace-pick" value={pick} onChange={(e) => setPick(e.target.value)}>
              {others.map((o) => <option key={o.id} value={o.id}>{o.name ?? o.id} ({o.prefix})</option>)}
            </select>
          </Field>
          <Field label="Its whole key" htmlFor="replace-whole" hint="Only a hash of created keys is kept; paste the key you saved.">
            <input id="replace-whole" type="password" value={whole} onChange={(e) => setWhole(e.target.value)} autoComplete="off" />
          </Field>
        </div>
      )}
      {err && <div className="form-error" role="alert">{err}</div>}
      <div className="form-actions">
        <button type="button" className="btn btn-danger" onClick={() => void go()}>Revoke and replace</button>
        <button type="button" className="btn btn-ghost" onClick={onDone}>Cancel</button>
      </div>
    </div>
  );
}

export function KeysCard({ snap }: { snap: AdminSnapshot }) {
  const [name, setName] = useState('');
  const [err, setErr] = useState<string>();
  const [created, setCreated] = useState<CreateKeyResult & { name: string }>();
  const [editing, setEditing] = useState<string>();
  const [replacing, setReplacing] = useState<string>();
  const create = async (ev: { preventDefault(): void }) => {
    ev.preventDefault();
    const problem = validateKeyName(name);
    if (problem) { setErr(problem); return; }
    setErr(undefined);
    try {
      const r = await useDash.getState().client!.createKey({ name: name.trim() });
      setCreated({ ...r, name: name.trim() });
      setName('');
    } catch (e) {
      setErr(e instanceof Error ? e.message : String(e));
    }
  };
  return (
    <Card title={<>API keys <span className="count">{snap.keys.length}</span></>} testId="keys-card">
      {created && (
        <div className="banner banner-ok" data-testid="new-key">
          <div><strong>Key “{created.name}” created.</strong> Copy it now: it is not shown again.</div>
          <div className="kv-line"><code className="mono">{created.key}</code><CopyButton text={created.key} /><button type="button" className="btn btn-ghost btn-small" onClick={() => setCreated(undefined)}>Done</button></div>
        </div>
      )}
      <ul className="list">
        {snap.keys.map((k) => (
          <li key={k.id} className="list-item" data-testid={`key-${k.id}`}>
            <div className="list-row">
              <div className="list-main">
                <div className="strong">{k.name ?? 'unnamed'} {k.dashboard && <Badge tone="info" title="The dashboard's snippets and the tray use this key.">dashboard key</Badge>}</div>
                <div className="muted small mono">{k.prefix} · id {k.id}{k.createdAt ? ` · created ${fmtDateTime(k.createdAt)}` : ''}</div>
                <div className="small" data-testid={`key-usage-${k.id}`}>
                  {k.requestsToday !== undefined ? <>{fmtInt(k.requestsToday)} requests · {fmtCompact(k.tokensToday ?? 0)} tokens today · last used {k.lastUsed ? fmtDateTime(k.lastUsed) : 'never'}</> : <span className="muted">usage unknown (ledger off)</span>}
                  <span className="muted"> · {limitsText(k)}</span>
                </div>
              </div>
              <div className="list-side">
                <Badge tone="muted">{k.source}</Badge>
                {k.editable && <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(editing === k.id ? undefined : k.id)}>Limits</button>}
                {!k.revocable ? <span className="muted small" title="Keys from the config file or environment are changed there.">read-only</span>
                  : k.dashboard ? <button type="button" className="btn btn-small btn-ghost" onClick={() => setReplacing(k.id)}>Revoke…</button>
                    : <ConfirmButton small label="Revoke" confirm="Revoke key" onConfirm={() => act('Revoke key', (c) => c.revokeKey(k.id), 'Key revoked')} />}
              </div>
            </div>
            {editing === k.id && <LimitsForm k={k} onDone={() => setEditing(undefined)} />}
            {replacing === k.id && <ReplaceDashboardKey k={k} keys={snap.keys} onDone={() => setReplacing(undefined)} onNewKey={(r) => setCreated({ ...r, name: 'replacement' })} />}
          </li>
        ))}
      </ul>
      <form className="inline-form" onSubmit={create} noValidate>
        <Field label="New key" htmlFor="key-name" error={err}>
          <input id="key-name" placeholder="Name, e.g. laptop" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        </Field>
        <button type="submit" className="btn btn-primary">Create key</button>
      </form>
    </Card>
  );
}
