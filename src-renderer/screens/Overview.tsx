import { useMemo, useState } from 'react';
import type { AdminSnapshot } from '../../src-main/core/admin/api-types';
import { Sparkline } from '../components/charts';
import { AvailabilityBadge, Badge, Card, Code, CopyButton, countdown, Empty, isUsable, LoginBadge, Stat } from '../components/ui';
import { fmtInt, fmtPercent } from '../lib/format';
import { snippets } from '../lib/snippets';
import { act } from '../store';
import { DiscoveryCard } from './Discovered';

function maskKey(k: string): string {
  return k.length > 14 ? `${k.slice(0, 11)}${'•'.repeat(8)}${k.slice(-4)}` : '•'.repeat(k.length);
}

export function GettingStarted({ snap }: { snap: AdminSnapshot }) {
  const lingma = snap.instances.filter((i) => i.kind === 'lingma');
  if (!snap.instances.length) {
    return (
      <Empty
        testId="empty-no-backends"
        title="Add your first account"
        action={snap.accountsEditable ? <a className="btn btn-primary" href="#/accounts">Add a Lingma account</a> : undefined}
      >
        <p>Lingma Relay has nothing to send requests to yet. Add a Lingma account{snap.accountsEditable ? '' : ' (set lingma.binary or LINGMA_BIN first)'}, or an OpenAI-compatible provider under <code>providers:</code> in the config file.</p>
      </Empty>
    );
  }
  const needLogin = lingma.filter((i) => ['logged_out', 'needs_manual', 'failed'].includes(i.login.state));
  const ready = snap.instances.filter(isUsable);
  const signedIn = snap.instances.filter((i) => i.login.state === 'logged_in' || i.login.state === 'not_applicable');
  if (needLogin.length) {
    return (
      <Empty
        testId="empty-login-needed"
        title={needLogin.length === 1 ? `${needLogin[0].name} needs to sign in` : `${needLogin.length} accounts need to sign in`}
        action={
          <>
            <button type="button" className="btn btn-primary" onClick={() => act('Sign in', (c) => c.loginAll(), 'Signing in…')}>Sign in all</button>{' '}
            <a className="btn btn-ghost" href="#/instances">Open instances</a>
          </>
        }
      >
        <p>
          {ready.length
            ? 'Other backends are serving meanwhile.'
            : signedIn.length
              ? 'The signed-in backends are not serving right now (recent errors, retried shortly); see Instances.'
              : 'No backend can serve requests until an account is signed in.'}
        </p>
      </Empty>
    );
  }
  const outOfCredits = snap.instances.filter((i) => i.availability?.status === 'out_of_credits');
  if (!ready.length && outOfCredits.length) {
    const next = outOfCredits.map((i) => i.availability!).filter((a) => a.until !== undefined).sort((a, b) => a.until! - b.until!)[0];
    return (
      <Empty testId="empty-out-of-credits" title={outOfCredits.length === 1 ? `${outOfCredits[0].name} is out of credits` : `${outOfCredits.length} accounts are out of credits`} action={<a className="btn btn-ghost" href="#/instances">Open instances</a>}>
        <p>Clients get 429 with Retry-After until the next reset{next ? ` (${countdown(next, Date.now())})` : ''}. A person can clear a cool-down on the Instances screen.</p>
      </Empty>
    );
  }
  if (!ready.length) {
    const why = snap.instances.find((i) => i.availability?.reason || i.reason || i.lastError);
    if (why?.availability && !why.reason && !why.lastError) {
      return (
        <Empty testId="empty-none-ready" title="No backend is ready yet" action={<a className="btn btn-ghost" href="#/instances">Open instances</a>}>
          <p>{why.availability.reason}</p>
        </Empty>
      );
    }
    return (
      <Empty testId="empty-none-ready" title="No backend is ready yet" action={<a className="btn btn-ghost" href="#/instances">Open instances</a>}>
        <p>{why ? `${why.name}: ${why.reason ?? why.lastError}` : 'Backends are starting; this usually takes a few seconds.'}</p>
      </Empty>
    );
  }
  return null;
}

export function Overview({ snap }: { snap: AdminSnapshot }) {
  const [showKey, setShowKey] = useState(false);
  const [client, setClient] = useState('openai-sdk');
  const ready = snap.instances.filter(isUsable).length;
  const last = snap.counters[snap.counters.length - 1];
  const window60 = snap.counters.slice(-60);
  const errors60 = window60.reduce((s, c) => s + c.errors, 0);
  const reqs60 = window60.reduce((s, c) => s + c.rps, 0);
  const hitRate = snap.sessionCache.hits + snap.sessionCache.misses > 0 ? snap.sessionCache.hits / (snap.sessionCache.hits + snap.sessionCache.misses) : null;
  const model = snap.aliases.find((a) => !a.pattern)?.name ?? snap.providers.flatMap((p) => p.models)[0] ?? 'coder';
  const key = snap.apiKey ?? 'YOUR_API_KEY';
  const list = useMemo(() => snippets(snap.endpoint, key, model), [snap.endpoint, key, model]);
  const current = list.find((s) => s.id === client) ?? list[0];

  return (
    <div className="screen" data-testid="screen-overview">
      <div className="grid-2">
        <Card title="Endpoint">
          <div className="kv-line">
            <code className="mono big" data-testid="endpoint-url">{snap.endpoint}</code>
            <CopyButton text={snap.endpoint} />
          </div>
          <p className="muted small">OpenAI-compatible. Anthropic Messages and Responses live under the same address.</p>
        </Card>
        <Card title="API key">
          {snap.apiKey ? (
            <div className="kv-line">
              <code className="mono big" data-testid="api-key">{showKey ? snap.apiKey : maskKey(snap.apiKey)}</code>
              <button type="button" className="btn btn-ghost" onClick={() => setShowKey((v) => !v)}>{showKey ? 'Hide' : 'Show'}</button>
              <CopyButton text={snap.apiKey} />
            </div>
          ) : (
            <p className="muted">No key can be shown. <a href="#/settings">Create one in Settings</a>.</p>
          )}
          <p className="muted small">Send it as <code>Authorization: Bearer …</code> or <code>x-api-key</code>.</p>
        </Card>
      </div>

      <DiscoveryCard snap={snap} />
      <GettingStarted snap={snap} />

      <div className="stats">
        <Stat
          testId="stat-ready"
          label="Ready backends"
          value={`${ready} / ${snap.instances.length}`}
          tone={snap.instances.length === 0 ? 'muted' : ready === snap.instances.length ? 'ok' : ready > 0 ? 'warn' : 'bad'}
          sub={snap.instances.length ? snap.instances.map((i) => i.name).slice(0, 3).join(', ') + (snap.instances.length > 3 ? '…' : '') : 'none configured'}
        />
        <Stat label="Requests / s" value={fmtInt(last?.rps ?? 0)} sub={<Sparkline values={window60.map((c) => c.rps)} label="requests per second, last minute" />} />
        <Stat label="In flight" value={`${fmtInt(snap.admission.inFlight)}`} sub={`${fmtInt(snap.admission.queued)} queued · limit ${snap.admission.max}`} />
        <Stat label="Errors (1 min)" value={fmtInt(errors60)} tone={errors60 ? 'bad' : undefined} sub={reqs60 ? `${fmtPercent(errors60 / reqs60)} of ${fmtInt(reqs60)}` : `${fmtInt(snap.admission.rejected)} rejected since start`} />
        <Stat label="Session reuse" value={fmtPercent(hitRate)} sub={snap.sessionCache.enabled ? `${fmtInt(snap.sessionCache.hits)} hits · ${fmtInt(snap.sessionCache.entries)} cached` : 'turned off'} />
      </div>

      {snap.instances.length > 0 && (
        <Card title="Backends" actions={<a className="small" href="#/instances">Manage</a>} testId="backends-glance">
          <ul className="glance">
            {snap.instances.map((i) => (
              <li key={i.name} className="glance-item">
                <span className={`health-dot ${isUsable(i) ? 'hd-ok' : i.availability?.status === 'failed' || i.availability?.status === 'out_of_credits' ? 'hd-bad' : 'hd-warn'}`} aria-hidden="true" />
                <span className="strong">{i.name}</span>
                <span className="muted small">{i.provider}</span>
                <AvailabilityBadge a={i.availability} now={Date.now()} />
                {i.login.state !== 'not_applicable' && <LoginBadge login={i.login} />}
                <span className="muted small glance-load">{i.inFlight}/{i.limit} busy</span>
              </li>
            ))}
          </ul>
        </Card>
      )}

      <Card title="Connect a client" actions={<Badge tone="muted">model: {model}</Badge>}>
        <div className="tabs" role="tablist">
          {list.map((s) => (
            <button key={s.id} type="button" role="tab" aria-selected={s.id === current.id} className={`tab ${s.id === current.id ? 'tab-on' : ''}`} onClick={() => setClient(s.id)}>{s.title}</button>
          ))}
        </div>
        <p className="muted small">{current.hint}{current.where ? <> · <span className="mono">{current.where}</span></> : null}</p>
        <Code code={current.code} testId="snippet" />
        <p className="small"><a href="#/connect">Let Lingma Relay write Claude Code, Codex, qwen-code or Continue settings for you</a> (shows the change first, keeps a backup).</p>
      </Card>
    </div>
  );
}
