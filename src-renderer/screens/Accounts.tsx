import { useState } from 'react';
import type { AccountInput, AdminAccount, AdminSnapshot } from '../../src-main/core/admin/api-types';
import { ApiError } from '../api/client';
import { Badge, Card, ConfirmButton, Empty, Field, LoginBadge } from '../components/ui';
import { hasErrors, validateAccount, type Errors } from '../lib/validate';
import { act, useDash } from '../store';

const BLANK: AccountInput = { username: '', password: '', name: '', dedicatedDomain: '' };

export function AccountForm(props: { initial?: AdminAccount; onDone: () => void }) {
  const isNew = !props.initial;
  const [form, setForm] = useState<AccountInput>(
    props.initial ? { username: props.initial.username, password: '', name: props.initial.name, dedicatedDomain: props.initial.dedicatedDomain ?? '' } : BLANK,
  );
  const [errs, setErrs] = useState<Errors<AccountInput>>({});
  const [serverErr, setServerErr] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof AccountInput) => (e: { target: { value: string } }) => setForm((f) => ({ ...f, [k]: e.target.value }));

  const submit = async (ev: { preventDefault(): void }) => {
    ev.preventDefault();
    const e = validateAccount(form, isNew);
    setErrs(e);
    setServerErr(undefined);
    if (hasErrors(e)) return;
    const client = useDash.getState().client;
    if (!client) return;
    setBusy(true);
    try {
      const body: AccountInput = { username: form.username.trim() };
      // SECURITY: the password is sent once and never read back; empty on edit = unchanged.
      if (form.password) body.password = form.password;
      if (isNew && form.name) body.name = form.name;
      if (form.dedicatedDomain) body.dedicatedDomain = form.dedicatedDomain;
      if (isNew) await client.addAccount(body);
      else await client.updateAccount(props.initial!.name, body);
      setForm((f) => ({ ...f, password: '' }));
      useDash.getState().toast('ok', isNew ? `Account ${body.name || body.username} added` : `Account ${props.initial!.name} saved`);
      props.onDone();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const param = e instanceof ApiError ? e.param : undefined;
      if (param && ['username', 'password', 'name', 'dedicatedDomain'].includes(param)) setErrs({ [param]: msg });
      else setServerErr(msg);
    } finally {
      setBusy(false);
    }
  };

  const id = (k: string) => `acct-${props.initial?.name ?? 'new'}-${k}`;
  return (
    <form className="form" onSubmit={submit} noValidate data-testid={isNew ? 'account-form-new' : `account-form-${props.initial!.name}`}>
      <div className="form-grid">
        <Field label="User name" htmlFor={id('username')} error={errs.username} hint="The Lingma / Alibaba Cloud sign-in name.">
          <input id={id('username')} value={form.username} onChange={set('username')} autoComplete="off" spellCheck={false} />
        </Field>
        <Field label="Password" htmlFor={id('password')} error={errs.password} hint={isNew ? 'Stored in the secret store, never shown again.' : 'Leave empty to keep the current password.'}>
          <input id={id('password')} type="password" value={form.password} onChange={set('password')} autoComplete="new-password" placeholder={isNew ? '' : '••••••••  (unchanged)'} />
        </Field>
        {isNew && (
          <Field label="Instance name (optional)" htmlFor={id('name')} error={errs.name} hint="Shown in logs and usage; defaults to the user name.">
            <input id={id('name')} value={form.name} onChange={set('name')} autoComplete="off" spellCheck={false} />
          </Field>
        )}
        <Field label="Dedicated domain (optional)" htmlFor={id('domain')} error={errs.dedicatedDomain} hint="Only for enterprise accounts with their own Lingma endpoint.">
          <input id={id('domain')} value={form.dedicatedDomain} onChange={set('dedicatedDomain')} placeholder="https://" autoComplete="off" spellCheck={false} />
        </Field>
      </div>
      {serverErr && <div className="form-error" role="alert">{serverErr}</div>}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>{busy ? 'Saving…' : isNew ? 'Add account' : 'Save'}</button>
        <button type="button" className="btn btn-ghost" onClick={props.onDone}>Cancel</button>
      </div>
    </form>
  );
}

export function Accounts({ snap }: { snap: AdminSnapshot }) {
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<string>();
  if (!snap.accountsEditable) {
    return (
      <div className="screen" data-testid="screen-accounts">
        <Card title="Accounts">
          <Empty title="Lingma is not set up">
            <p>Accounts need the Lingma backend. Install Lingma (the VS Code or JetBrains plugin brings the binary), or set <code>lingma.binary</code> in the config file or <code>LINGMA_BIN</code>, then restart Lingma Relay.</p>
          </Empty>
        </Card>
      </div>
    );
  }
  const inst = new Map(snap.instances.map((i) => [i.name, i]));
  return (
    <div className="screen" data-testid="screen-accounts">
      <Card
        title={<>Lingma accounts <span className="count">{snap.accounts.length}</span></>}
        actions={!adding && <button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add account</button>}
      >
        {adding && <AccountForm onDone={() => setAdding(false)} />}
        {snap.accounts.length === 0 && !adding ? (
          <Empty testId="empty-accounts" title="No accounts yet" action={<button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add your first account</button>}>
            <p>Each account runs its own Lingma process, so adding accounts adds capacity. Passwords go to the secret store and are never shown again.</p>
          </Empty>
        ) : (
          <ul className="list">
            {snap.accounts.map((a) => {
              const i = inst.get(a.name);
              return (
                <li key={a.name} className="list-item" data-testid={`account-${a.name}`}>
                  {editing === a.name ? (
                    <AccountForm initial={a} onDone={() => setEditing(undefined)} />
                  ) : (
                    <div className="list-row">
                      <div className="list-main">
                        <div className="strong">{a.name}</div>
                        <div className="muted small">
                          <span data-testid="account-username">{a.username}</span>
                          {a.dedicatedDomain && <> · {a.dedicatedDomain}</>}
                          {' · '}{a.hasPassword ? 'password saved' : 'no password'}
                        </div>
                      </div>
                      <div className="list-side">
                        {i && <LoginBadge login={i.login} />}
                        {a.source === 'config' ? (
                          <Badge tone="muted" title="Defined in the config file; edit it there.">from config</Badge>
                        ) : (
                          <>
                            <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(a.name)}>Edit</button>
                            <ConfirmButton small label="Remove" confirm={`Remove ${a.name}`} onConfirm={() => act(`Remove ${a.name}`, (c) => c.removeAccount(a.name), `${a.name} removed`)} />
                          </>
                        )}
                      </div>
                    </div>
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </Card>
    </div>
  );
}
