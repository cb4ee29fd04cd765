/**
 * OpenAI-compatible providers from the dashboard: add, edit, test, remove; applied at once, kept
 * across restarts. The key is write-only: the form never shows it, only whether one is set.
 */
import { useState } from 'react';
import type { AdminProviderView, AdminSnapshot, ProviderInput } from '../../../src-main/core/admin/api-types';
import { manage } from '../../api/manage';
import { useDash } from '../../store';
import { BackendTestButton } from '../BackendTest/BackendTestButton';
import './manage.css';
import { Badge, Card, ConfirmButton, Field } from '../ui';
import { draftOf, providerBody, type ProviderDraft } from './provider-form';

function ProviderForm({ provider, onDone }: { provider?: AdminProviderView; onDone: () => void }) {
  const isNew = !provider;
  const [d, setD] = useState<ProviderDraft>(draftOf(provider));
  const [errs, setErrs] = useState<Partial<Record<keyof ProviderDraft, string>>>({});
  const [serverErr, setServerErr] = useState<string>();
  const [busy, setBusy] = useState(false);
  const fid = `prov-${provider?.name ?? 'new'}`;
  const set = (k: keyof ProviderDraft) => (e: { target: { value: string } }) => setD({ ...d, [k]: e.target.value });
  const submit = async (ev: { preventDefault(): void }) => {
    ev.preventDefault();
    const { body, errors } = providerBody(d, isNew);
    setErrs(errors);
    setServerErr(undefined);
    if (Object.keys(errors).length) return;
    const { client, toast } = useDash.getState();
    if (!client) return;
    setBusy(true);
    try {
      if (isNew) await manage.addProvider(client, body as ProviderInput);
      else await manage.editProvider(client, provider.name, body);
      toast('ok', `Provider ${provider?.name ?? d.name.trim()} ${isNew ? 'added' : 'saved'}: in use now`);
      onDone();
    } catch (e) {
      setServerErr(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="form" onSubmit={submit} noValidate data-testid={`${fid}-form`}>
      <div className="form-grid">
        {isNew && (
          <Field label="Name" htmlFor={`${fid}-name`} error={errs.name} hint="Clients use it as provider/model.">
            <input id={`${fid}-name`} value={d.name} onChange={set('name')} autoComplete="off" spellCheck={false} />
          </Field>
        )}
        <Field label="Base URL" htmlFor={`${fid}-url`} error={errs.baseUrl} hint="OpenAI-compatible, usually ending in /v1.">
          <input id={`${fid}-url`} value={d.baseUrl} onChange={set('baseUrl')} placeholder="https://api.example.com/v1" autoComplete="off" spellCheck={false} />
        </Field>
        <Field label="API key" htmlFor={`${fid}-key`} error={errs.apiKey} hint={provider?.hasApiKey ? 'A key is set. Leave empty to keep it.' : 'Kept in the secret store; never shown again.'}>
          <input id={`${fid}-key`} type="password" value={d.apiKey} onChange={set('apiKey')} placeholder={provider?.hasApiKey ? 'set' : ''} autoComplete="new-password" />
        </Field>
        <Field label="Max concurrent calls" htmlFor={`${fid}-conc`} error={errs.maxConcurrency}>
          <input id={`${fid}-conc`} inputMode="numeric" value={d.maxConcurrency} onChange={set('maxConcurrency')} placeholder="default" />
        </Field>
      </div>
      {provider?.hasApiKey && (
        <label className="switch"><input type="checkbox" checked={d.clearApiKey} onChange={(e) => setD({ ...d, clearApiKey: e.target.checked })} /> <span>Remove the key</span></label>
      )}
      <div className="form-grid">
        <Field label="Models (one per line)" htmlFor={`${fid}-models`} error={errs.models} hint="Empty: the server's /models list is used.">
          <textarea id={`${fid}-models`} rows={3} className="mono" value={d.models} onChange={set('models')} spellCheck={false} />
        </Field>
        <Field label="Extra headers (Name: value per line)" htmlFor={`${fid}-headers`} error={errs.headers} hint={provider?.headerNames.length ? `Set: ${provider.headerNames.join(', ')}. Empty keeps them; anything here replaces them.` : 'E.g. HTTP-Referer: https://example.com'}>
          <textarea id={`${fid}-headers`} rows={3} className="mono" value={d.headers} onChange={set('headers')} spellCheck={false} />
        </Field>
      </div>
      <div className="form-row">
        <label className="switch"><input type="checkbox" checked={d.tools} onChange={(e) => setD({ ...d, tools: e.target.checked })} /> <span>Accepts tools</span></label>
        <label className="switch"><input type="checkbox" checked={d.images} onChange={(e) => setD({ ...d, images: e.target.checked })} /> <span>Accepts images</span></label>
      </div>
      {serverErr && <div className="form-error" role="alert">{serverErr}</div>}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>{busy ? 'Saving…' : isNew ? 'Add provider' : 'Save provider'}</button>
        <button type="button" className="btn btn-ghost" onClick={onDone}>Cancel</button>
      </div>
    </form>
  );
}

export function ProvidersManager({ snap }: { snap: AdminSnapshot }) {
  // Live: the snapshot is refreshed after every add, edit or removal (a `config` event).
  const list = snap.managedProviders ?? [];
  const [editing, setEditing] = useState<string | 'new'>();
  const remove = async (name: string) => {
    const { client: c, toast } = useDash.getState();
    try {
      await manage.removeProvider(c!, name);
      toast('ok', `Provider ${name} removed`);
    } catch (e) {
      toast('error', `Remove ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return (
    <Card title={<>OpenAI-compatible providers <span className="count">{list.length}</span></>} testId="providers-manager"
      actions={editing !== 'new' && <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>Add provider</button>}>
      <p className="muted small">Any server that speaks the OpenAI API (OpenRouter, vLLM, a company gateway…). Changes apply at once, without a restart, and are kept in the data folder; keys go to the secret store.</p>
      {editing === 'new' && <ProviderForm onDone={() => setEditing(undefined)} />}
      <ul className="list">
        {list.map((p) => (
          <li key={p.name} className="list-item" data-testid={`managed-provider-${p.name}`}>
            {editing === p.name ? <ProviderForm provider={p} onDone={() => setEditing(undefined)} /> : (
              <div className="list-row">
                <div className="list-main">
                  <div className="strong">{p.name}</div>
                  <div className="muted small"><span className="mono">{p.baseUrl}</span> · key {p.hasApiKey ? 'set' : 'none'} · {p.models ? `${p.models.length} model${p.models.length === 1 ? '' : 's'}` : 'models from /models'}{p.headerNames.length ? ` · headers ${p.headerNames.join(', ')}` : ''}{p.maxConcurrency ? ` · ${p.maxConcurrency} at a time` : ''}{p.tools === false ? ' · no tools' : ''}{p.images === false ? ' · no images' : ''}</div>
                </div>
                <div className="list-side">
                  <Badge tone="muted">{p.source === 'config' ? 'config file' : 'dashboard'}</Badge>
                  <BackendTestButton kind="provider" name={p.name} />
                  {p.source === 'dashboard' ? (
                    <>
                      <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(p.name)}>Edit</button>
                      <ConfirmButton small label="Remove" confirm={`Remove ${p.name}`} onConfirm={() => void remove(p.name)} />
                    </>
                  ) : <span className="muted small" title="Providers from the config file are changed there.">read-only</span>}
                </div>
              </div>
            )}
          </li>
        ))}
      </ul>
    </Card>
  );
}
