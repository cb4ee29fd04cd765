import type { AdminInstance, AdminSnapshot } from '../../src-main/core/admin/api-types';
import { AvailabilityBadge, Card, Empty, ExternalLink, isUsable, LoadBar, LoginBadge, StateBadge } from '../components/ui';
import { fmtDuration } from '../lib/format';
import { act } from '../store';

function InstanceRow({ i, now }: { i: AdminInstance; now: number }) {
  const manual = i.login.state === 'needs_manual' ? i.login : undefined;
  const err = i.reason ?? i.lastError ?? (i.health && !i.health.healthy ? i.health.lastError : undefined);
  return (
    <tr data-testid={`instance-${i.name}`}>
      <td className="col-name">
        <div className="strong">{i.name}</div>
        <div className="muted small">
          {i.kind === i.provider ? i.provider : `${i.provider} · ${i.kind}`}
          {i.extra?.attached === true && (
            <span className="badge badge-muted" data-testid={`attached-${i.name}`} title={`Served through the ${String(i.extra.appName ?? 'Lingma')} app already running on this computer; Relay never stops, restarts or signs it out.`}> · attached to the {String(i.extra.appName ?? 'Lingma')} app</span>
          )}
        </div>
        {err && <div className={`small err-line ${isUsable(i) ? 'muted' : 'text-bad'}`} title={err}>{err}</div>}
      </td>
      <td><AvailabilityBadge a={i.availability} now={now} /></td>
      <td><StateBadge state={i.state} reason={i.reason} /></td>
      <td className="col-login">
        <LoginBadge login={i.login} />
        {manual && (
          <div className="manual">
            <span className="small">{manual.reason}</span>{' '}
            {manual.url && <ExternalLink href={manual.url} className="btn btn-small btn-primary">Finish sign-in</ExternalLink>}
          </div>
        )}
      </td>
      <td className="col-load"><LoadBar value={i.inFlight} max={i.limit} /></td>
      <td className="small nowrap">
        {i.startedAt && i.state === 'ready' ? fmtDuration(now - i.startedAt) : '–'}
        {i.restarts > 0 && <div className="muted">{i.restarts} restart{i.restarts === 1 ? '' : 's'}</div>}
      </td>
      <td className="actions-cell">
        {i.availability?.clearable && (
          <button type="button" className="btn btn-small btn-ghost" title="Serve from it again now (forget the cool-down)" onClick={() => act(`Clear cool-down of ${i.name}`, (c) => c.clearCooldown(i.name), `${i.name} serves again`)}>Clear cool-down</button>
        )}
        {i.actions.login && i.login.state !== 'logged_in' && (
          <button type="button" className="btn btn-small btn-primary" disabled={i.login.state === 'logging_in'} onClick={() => act(`Sign in ${i.name}`, (c) => c.login(i.name), `Signing in ${i.name}…`)}>Log in</button>
        )}
        {i.actions.logout && i.login.state === 'logged_in' && (
          <button type="button" className="btn btn-small btn-ghost" onClick={() => act(`Sign out ${i.name}`, (c) => c.logout(i.name), `${i.name} signed out`)}>Log out</button>
        )}
        {i.actions.restart && (
          <button type="button" className="btn btn-small btn-ghost" onClick={() => act(`Restart ${i.name}`, (c) => c.restart(i.name), `Restarting ${i.name}…`)}>Restart</button>
        )}
      </td>
    </tr>
  );
}

export function Instances({ snap }: { snap: AdminSnapshot }) {
  const now = Date.now();
  const canLogin = snap.instances.some((i) => i.actions.login && i.login.state !== 'logged_in');
  return (
    <div className="screen" data-testid="screen-instances">
      <Card
        title={<>Instances <span className="count">{snap.instances.length}</span></>}
        actions={canLogin ? <button type="button" className="btn btn-primary" onClick={() => act('Sign in all', (c) => c.loginAll(), 'Signing in every account…')}>Log in all</button> : undefined}
      >
        {snap.instances.length === 0 ? (
          <Empty testId="empty-instances" title="No instances yet" action={snap.accountsEditable ? <a className="btn btn-primary" href="#/accounts">Add an account</a> : undefined}>
            <p>Each Lingma account runs as one instance; each OpenAI-compatible provider is one more. Add an account or a provider to get started.</p>
          </Empty>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="instances-table">
              <thead>
                <tr><th>Instance</th><th>Status</th><th>Process</th><th>Sign-in</th><th>Load</th><th>Uptime</th><th /></tr>
              </thead>
              <tbody>
                {snap.instances.map((i) => <InstanceRow key={i.name} i={i} now={now} />)}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
