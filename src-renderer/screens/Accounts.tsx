/** The account form (add, edit, fix a refused password); the accounts live in the one table of Instances.tsx. */
import { useState } from 'react';
import type { AccountInput, AdminAccount } from '../../src-main/core/admin/api-types';
import { ApiError } from '../api/client';
import { Field } from '../components/ui';
import { hasErrors, validateAccount, type Errors } from '../lib/validate';
import { useDash } from '../store';

const BLANK: AccountInput = { username: '', password: '', name: '', dedicatedDomain: '' };

/** `fixPassword`: opened from "Fix password" (the password field focused, a sign-in follows the save). */
export function AccountForm(props: { initial?: AdminAccount; onDone: () => void; fixPassword?: boolean; onSaved?: (passwordChanged: boolean) => void }) {
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
      props.onSaved?.(body.password !== undefined);
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
        <Field label="Password" htmlFor={id('password')} error={errs.password} hint={isNew ? 'Stored in the secret store, never shown again.' : props.fixPassword ? 'The sign-in page refused the saved password. Enter the right one; Relay signs in again after saving.' : 'Leave empty to keep the current password.'}>
          <input id={id('password')} type="password" value={form.password} onChange={set('password')} autoComplete="new-password" placeholder={isNew ? '' : '••••••••  (unchanged)'} autoFocus={props.fixPassword} />
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

