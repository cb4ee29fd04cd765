/**
 * Accounts and instances in one table: one row per instance (and per account without a running
 * instance), whose status is the relay's one answer (`availability.display`: a pill, its reason,
 * the process as grey secondary text) and whose first action matches it: Fix password, Finish
 * sign-in as <account>, Sign in, Restart, Clear cool-down; then Test, Log out, Edit, Remove.
 */
import { useEffect, useState } from 'react';
import type { AdminAccount, AdminInstance, AdminSnapshot, StatusDisplay } from '../../src-main/core/admin/api-types';
import { Badge, Card, ConfirmButton, Empty, ExternalLink, LoadBar, StatusPill, displayOf } from '../components/ui';
import { fmtDuration } from '../lib/format';
import { act, signIn, signInAll, toSignIn, useDash } from '../store';
import { AccountForm } from './Accounts';
import { BackendTestButton } from '../components/BackendTest/BackendTestButton';

/** `#/instances?fix=<account>` (the tray's and a notification's "Fix password"). */
export function fixFromHash(hash: string): string | undefined {
  const m = /[?&]fix=([^&]+)/.exec(hash);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return undefined;
  }
}

interface Editing {
  name: string;
  fix: boolean;
}

interface Row {
  name: string;
  instance?: AdminInstance;
  account?: AdminAccount;
}

function rowsOf(snap: AdminSnapshot): Row[] {
  const accounts = new Map(snap.accounts.map((a) => [a.name, a]));
  const rows: Row[] = snap.instances.map((i) => ({ name: i.name, instance: i, account: accounts.get(i.name) }));
  for (const a of snap.accounts) if (!snap.instances.some((i) => i.name === a.name)) rows.push({ name: a.name, account: a });
  return rows;
}

/** An account with no instance (disabled, or not started yet). */
function accountOnly(a: AdminAccount): StatusDisplay {
  return { kind: 'stopped', label: 'Stopped', detail: a.disabled ? 'the account is disabled' : 'no process yet', process: 'no process' };
}

async function test(name: string): Promise<void> {
  const { client, toast } = useDash.getState();
  if (!client) return;
  try {
    const r = await client.testInstance(name);
    toast(r.ok ? 'ok' : 'error', r.ok ? `${r.message} in ${r.ms} ms` : r.message);
  } catch (e) {
    toast('error', `Test ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The one action that matches the status, as the row's primary button. */
function PrimaryAction({ row, d, onFix }: { row: Row; d: StatusDisplay; onFix: () => void }) {
  const i = row.instance;
  const who = row.account?.username ?? row.name;
  switch (d.action) {
    case 'fix_password':
      return row.account && row.account.source !== 'config'
        ? <button type="button" className="btn btn-small btn-primary" onClick={onFix}>Fix password</button>
        : <span className="small muted" title="This account is defined in the config file.">Fix the password in the config file</span>;
    case 'finish_sign_in': {
      const url = i?.login.state === 'needs_manual' ? i.login.url : undefined;
      return url
        ? <ExternalLink href={url} className="btn btn-small btn-primary">Finish sign-in as {who}</ExternalLink>
        : <button type="button" className="btn btn-small btn-primary" onClick={() => void signIn(row.name)}>Finish sign-in as {who}</button>;
    }
    case 'sign_in':
      return i?.actions.login ? <button type="button" className="btn btn-small btn-primary" onClick={() => void signIn(row.name)}>Sign in</button> : null;
    case 'restart':
      return i?.actions.restart
        ? <button type="button" className="btn btn-small btn-primary" onClick={() => act(`Restart ${row.name}`, (c) => c.restart(row.name), `Restarting ${row.name}…`)}>Restart</button>
        : null;
    case 'clear_cooldown':
      return (
        <button type="button" className="btn btn-small btn-primary" title="Serve from it again now (forget the cool-down)" onClick={() => act(`Clear cool-down of ${row.name}`, (c) => c.clearCooldown(row.name), `${row.name} serves again`)}>Clear cool-down</button>
      );
    default:
      return null;
  }
}

function InstanceRow({ row, now, editing, setEditing }: { row: Row; now: number; editing?: Editing; setEditing: (e?: Editing) => void }) {
  const i = row.instance;
  const a = row.account;
  const d = i ? displayOf(i) : accountOnly(a!);
  const attached = i?.extra?.attached === true;
  const editable = !!a && a.source !== 'config';
  const open = editing?.name === row.name;
  return (
    <>
      <tr data-testid={`instance-${row.name}`} data-kind={d.kind}>
        <td className="col-name">
          <div className="strong">{row.name}</div>
          <div className="muted small">
            {a ? <span data-testid="account-username">{a.username}</span> : i && (i.kind === i.provider ? i.provider : `${i.provider} · ${i.kind}`)}
            {a?.dedicatedDomain && <> · {a.dedicatedDomain}</>}
            {a && <> · {a.hasPassword ? 'password saved' : 'no password'}</>}
            {a?.source === 'config' && <> · <Badge tone="muted" title="Defined in the config file; edit it there.">from config</Badge></>}
            {attached && (
              <span className="badge badge-muted" data-testid={`attached-${row.name}`} title={`Served through the ${String(i!.extra!.appName ?? 'Lingma')} app already running on this computer; Relay never stops, restarts or signs it out.`}> · attached to the {String(i!.extra!.appName ?? 'Lingma')} app</span>
            )}
          </div>
        </td>
        <td className="col-status"><StatusPill d={d} now={now} /></td>
        <td className="col-load">{i ? <LoadBar value={i.inFlight} max={i.limit} /> : '–'}</td>
        <td className="small nowrap">
          {i?.startedAt && i.state === 'ready' ? fmtDuration(now - i.startedAt) : '–'}
          {!!i?.restarts && <div className="muted">{i.restarts} restart{i.restarts === 1 ? '' : 's'}</div>}
        </td>
        <td className="actions-cell">
          <PrimaryAction row={row} d={d} onFix={() => setEditing({ name: row.name, fix: true })} />
          {i && !attached && (
            <button type="button" className="btn btn-small btn-ghost" onClick={() => void test(row.name)}>Test</button>
          )}
          {i && <BackendTestButton kind="instance" name={row.name} />}
          {i?.actions.logout && i.login.state === 'logged_in' && (
            <button type="button" className="btn btn-small btn-ghost" onClick={() => act(`Log out ${row.name}`, (c) => c.logout(row.name), `${row.name} logged out`)}>Log out</button>
          )}
          {i?.actions.restart && d.action !== 'restart' && !attached && (
            <button type="button" className="btn btn-small btn-ghost" onClick={() => act(`Restart ${row.name}`, (c) => c.restart(row.name), `Restarting ${row.name}…`)}>Restart</button>
          )}
          {editable && !open && <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing({ name: row.name, fix: false })}>Edit</button>}
          {editable && <ConfirmButton small label="Remove" confirm={`Remove ${row.name}`} onConfirm={() => act(`Remove ${row.name}`, (c) => c.removeAccount(row.name), `${row.name} removed`)} />}
        </td>
      </tr>
      {open && a && (
        <tr className="row-edit">
          <td colSpan={5}>
            <AccountForm
              initial={a}
              fixPassword={editing.fix}
              onDone={() => setEditing(undefined)}
              onSaved={(changed) => { if (editing.fix && changed) void signIn(row.name); }}
            />
          </td>
        </tr>
      )}
    </>
  );
}

export function Instances({ snap }: { snap: AdminSnapshot }) {
  const now = Date.now();
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState<Editing | undefined>(() => {
    const fix = fixFromHash(window.location.hash);
    return fix ? { name: fix, fix: true } : undefined;
  });
  useEffect(() => {
    const on = () => {
      const fix = fixFromHash(window.location.hash);
      if (fix) setEditing({ name: fix, fix: true });
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const rows = rowsOf(snap);
  const canSignIn = toSignIn(snap).length > 0;
  return (
    <div className="screen" data-testid="screen-instances">
      <Card
        title={<>Accounts and instances <span className="count">{rows.length}</span></>}
        actions={
          <>
            {snap.accountsEditable && !adding && <button type="button" className="btn btn-ghost" onClick={() => setAdding(true)}>Add account</button>}
            {(canSignIn || snap.accountsEditable) && (
              <button type="button" className={`btn ${canSignIn ? 'btn-primary' : 'btn-ghost'}`} onClick={() => void signInAll(snap)}>Sign in all</button>
            )}
          </>
        }
      >
        {adding && <AccountForm onDone={() => setAdding(false)} />}
        {rows.length === 0 && !adding ? (
          snap.accountsEditable ? (
            <Empty testId="empty-instances" title="No accounts yet" action={<button type="button" className="btn btn-primary" onClick={() => setAdding(true)}>Add your first account</button>}>
              <p>Each Lingma account runs its own Lingma process, so adding accounts adds capacity; each OpenAI-compatible provider is one more instance. Passwords go to the secret store and are never shown again.</p>
            </Empty>
          ) : (
            <Empty testId="empty-instances" title="Nothing to serve from yet">
              <p>Accounts need the Lingma backend. Install Lingma (the VS Code or JetBrains plugin brings the binary), or set <code>lingma.binary</code> in the config file or <code>LINGMA_BIN</code>, then restart Lingma Relay. Or add an OpenAI-compatible provider under <code>providers:</code> in the config file.</p>
            </Empty>
          )
        ) : rows.length > 0 && (
          <div className="table-wrap">
            <table className="table" data-testid="instances-table">
              <thead>
                <tr><th>Account / instance</th><th>Status</th><th>Load</th><th>Uptime</th><th><span className="sr-only">Actions</span></th></tr>
              </thead>
              <tbody>
                {rows.map((r) => <InstanceRow key={r.name} row={r} now={now} editing={editing} setEditing={setEditing} />)}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
