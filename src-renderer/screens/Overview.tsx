import { TabList } from '../components/TabList';
import { useMemo, useState } from 'react';
import type { AdminInstance, AdminSnapshot, StatusDisplay } from '../../src-main/core/admin/api-types';
import { Sparkline } from '../components/charts';
import { Badge, Card, Code, CopyButton, countdown, displayOf, Empty, isUsable, Stat, StatusPill } from '../components/ui';
import { fmtInt, fmtPercent } from '../lib/format';
import { snippets } from '../lib/snippets';
import { signInAll, toSignIn } from '../store';
import { DiscoveryCard } from './Discovered';
import { ProvidersCard } from '../components/BackendTest/ProvidersCard';
import { NodesCard } from './Nodes';

function maskKey(k: string): string {
  return k.length > 14 ? `${k.slice(0, 11)}${'•'.repeat(8)}${k.slice(-4)}` : '•'.repeat(k.length);
}

/** The instances that do not serve, people first, then credits, cool-downs, stopped, starting. */
const ORDER: Record<StatusDisplay['kind'], number> = { needs_person: 0, out_of_credits: 1, cooling_down: 2, stopped: 3, starting: 4, serving: 5 };
export function notServing(snap: AdminSnapshot): AdminInstance[] {
  return snap.instances.filter((i) => !isUsable(i)).sort((a, b) => ORDER[displayOf(a).kind] - ORDER[displayOf(b).kind]);
}

const KIND_COUNT: Record<StatusDisplay['kind'], [string, string]> = {
  needs_person: ['needs a person', 'need a person'],
  out_of_credits: ['out of credits', 'out of credits'],
  cooling_down: ['cooling down', 'cooling down'],
  stopped: ['stopped', 'stopped'],
  starting: ['starting', 'starting'],
  serving: ['serving', 'serving'],
};

/** `2 need a person · 1 cooling down` (what is not serving, by reason; the card below names them). */
export function notServingSummary(snap: AdminSnapshot): string {
  const list = notServing(snap);
  if (!snap.instances.length) return 'none configured';
  if (!list.length) return 'every instance serves';
  const counts = new Map<StatusDisplay['kind'], number>();
  for (const i of list) counts.set(displayOf(i).kind, (counts.get(displayOf(i).kind) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} ${KIND_COUNT[k][n === 1 ? 0 : 1]}`).join(' · ');
}

export function GettingStarted({ snap }: { snap: AdminSnapshot }) {
  if (!snap.instances.length) {
    return (
      <Empty
        testId="empty-no-backends"
        title="Add your first account"
        action={snap.accountsEditable ? <a className="btn btn-primary" href="#/instances">Add a Lingma account</a> : undefined}
      >
        <p>Lingma Relay has nothing to send requests to yet. Add a Lingma account{snap.accountsEditable ? '' : ' (set lingma.binary or LINGMA_BIN first)'}, or an OpenAI-compatible provider under <code>providers:</code> in the config file.</p>
      </Empty>
    );
  }
  const ready = snap.instances.filter(isUsable);
  const people = snap.instances.filter((i) => displayOf(i).kind === 'needs_person');
  if (people.length) {
    return (
      <Empty
        testId="empty-login-needed"
        title={people.length === 1 ? `${people[0].name} needs you` : `${people.length} accounts need you`}
        action={
          <>
            {toSignIn(snap).length > 0 && <button type="button" className="btn btn-primary" onClick={() => void signInAll(snap)}>Sign in all</button>}{' '}
            <a className="btn btn-ghost" href="#/instances">Open accounts</a>
          </>
        }
      >
        <p>
          {people.map((i) => `${i.name}: ${displayOf(i).detail}`).join('; ')}.{' '}
          {ready.length
            ? 'Other instances are serving meanwhile.'
            : people.length === snap.instances.length
              ? 'Nothing can serve requests until an account is signed in.'
              : 'Nothing else is serving right now either; see Not serving below.'}
        </p>
      </Empty>
    );
  }
  const outOfCredits = snap.instances.filter((i) => displayOf(i).kind === 'out_of_credits');
  if (!ready.length && outOfCredits.length) {
    const next = outOfCredits.map(displayOf).filter((d) => d.until !== undefined).sort((a, b) => a.until! - b.until!)[0];
    return (
      <Empty testId="empty-out-of-credits" title={outOfCredits.length === 1 ? `${outOfCredits[0].name} is out of credits` : `${outOfCredits.length} accounts are out of credits`} action={<a className="btn btn-ghost" href="#/instances">Open accounts</a>}>
        <p>Clients get 429 with Retry-After until the next reset{next ? ` (${countdown(next, Date.now())})` : ''}. A person can clear a cool-down on the Accounts screen.</p>
      </Empty>
    );
  }
  if (!ready.length) {
    const first = notServing(snap)[0];
    const d = displayOf(first);
    return (
      <Empty testId="empty-none-ready" title="Nothing is serving yet" action={<a className="btn btn-ghost" href="#/instances">Open accounts</a>}>
        <p>{first.name}: {d.label.toLowerCase()}{d.detail ? ` (${d.detail})` : ''}{d.lastError ? `: ${d.lastError.text}` : ''}.</p>
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
  const models = useMemo(() => [...new Set([...snap.aliases.filter((a) => !a.pattern).map((a) => a.name), ...snap.providers.flatMap((p) => p.models)])], [snap.aliases, snap.providers]);
  const [picked, setPicked] = useState<string>();
  const model = picked && models.includes(picked) ? picked : models[0] ?? 'coder';
  const key = snap.apiKey ?? 'YOUR_API_KEY';
  // The snippet shows the key exactly as the card above does (masked unless "Show"); Copy gives the whole key.
  const shownKey = snap.apiKey && !showKey ? maskKey(snap.apiKey) : key;
  const list = useMemo(() => snippets(snap.endpoint, shownKey, model), [snap.endpoint, shownKey, model]);
  const full = useMemo(() => snippets(snap.endpoint, key, model), [snap.endpoint, key, model]);
  const current = list.find((s) => s.id === client) ?? list[0];
  const currentFull = full.find((s) => s.id === current.id) ?? full[0];

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
      {snap.team && <NodesCard />}

      <div className="stats">
        <Stat
          testId="stat-ready"
          label="Serving"
          value={`${ready} / ${snap.instances.length}`}
          tone={snap.instances.length === 0 ? 'muted' : ready === snap.instances.length ? 'ok' : ready > 0 ? 'warn' : 'bad'}
          sub={<span title={notServingSummary(snap)}>{notServingSummary(snap)}</span>}
        />
        <Stat label="Requests / s" value={fmtInt(last?.rps ?? 0)} sub={<Sparkline values={window60.map((c) => c.rps)} label="requests per second, last minute" />} />
        <Stat label="In flight" value={`${fmtInt(snap.admission.inFlight)}`} sub={`${fmtInt(snap.admission.queued)} queued · limit ${snap.admission.max}`} />
        <Stat label="Errors (1 min)" value={fmtInt(errors60)} tone={errors60 ? 'bad' : undefined} sub={reqs60 ? `${fmtPercent(errors60 / reqs60)} of ${fmtInt(reqs60)}` : `${fmtInt(snap.admission.rejected)} rejected since start`} />
        <Stat label="Session reuse" value={fmtPercent(hitRate)} sub={snap.sessionCache.enabled ? `${fmtInt(snap.sessionCache.hits)} hits · ${fmtInt(snap.sessionCache.entries)} cached` : 'turned off'} />
      </div>

      {snap.instances.length > 0 && (
        <Card title={notServing(snap).length ? 'Not serving' : 'Serving'} actions={<a className="small" href="#/instances">Manage</a>} testId="backends-glance">
          {notServing(snap).length === 0 ? (
            <p className="muted small" data-testid="all-serving">All {snap.instances.length} instance{snap.instances.length === 1 ? '' : 's'} serve: {snap.instances.map((i) => i.name).join(', ')}.</p>
          ) : (
            <ul className="glance">
              {notServing(snap).map((i) => {
                const d = displayOf(i);
                return (
                  <li key={i.name} className="glance-item" data-testid={`not-serving-${i.name}`}>
                    <span className="strong">{i.name}</span>
                    <StatusPill d={d} now={Date.now()} compact />
                    <span className="small glance-why">{d.detail}{d.lastError ? `: ${d.lastError.text}` : ''}</span>
                    <span className="muted small glance-process">{d.process}</span>
                  </li>
                );
              })}
            </ul>
          )}
        </Card>
      )}

      <ProvidersCard snap={snap} />

      <Card title="Connect a client" actions={models.length > 1 ? (
        <label className="small snippet-model">Model{' '}
          <select value={model} onChange={(e) => setPicked(e.target.value)} data-testid="snippet-model">
            {models.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </label>
      ) : <Badge tone="muted">model: {model}</Badge>}>
        <TabList label="Clients" items={list} current={current.id} onSelect={setClient} />
        <p className="muted small">{current.hint}{current.where ? <> · <span className="mono">{current.where}</span></> : null}</p>
        <Code code={current.code} copy={currentFull.code} testId="snippet" />
        <p className="small"><a href="#/connect">Let Lingma Relay write Claude Code, Codex, qwen-code or Continue settings for you</a> (shows the change first, keeps a backup).</p>
      </Card>
    </div>
  );
}
