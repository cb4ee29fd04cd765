import { useState } from 'react';
import { DesktopNotifications } from '../components/DesktopNotifications';
import type { AdminSettings, AdminSnapshot } from '../../src-main/core/admin/api-types';
import { desktop, storeToken } from '../api/connection';
import { Badge, Card, Field } from '../components/ui';
import { KeysCard } from '../components/Manage/KeysCard';
import { ProvidersManager } from '../components/Manage/ProvidersManager';
import { act } from '../store';

function num(v: string): number | undefined {
  return v.trim() === '' ? undefined : Number(v);
}

function SettingsForm({ s }: { s: AdminSettings }) {
  const [form, setForm] = useState({ ...s, maxInFlight: String(s.maxInFlight), queueTimeoutMs: String(s.queueTimeoutMs), perKeyConcurrency: String(s.perKeyConcurrency), firstByteTimeoutMs: String(s.firstByteTimeoutMs) });
  const [errs, setErrs] = useState<Record<string, string>>({});
  const save = async (ev: { preventDefault(): void }) => {
    ev.preventDefault();
    const e: Record<string, string> = {};
    const check = (k: string, min: number) => {
      const v = num((form as unknown as Record<string, string>)[k]);
      if (v === undefined || !Number.isInteger(v) || v < min) e[k] = `A whole number, at least ${min}.`;
      return v;
    };
    const maxInFlight = check('maxInFlight', 1);
    const queueTimeoutMs = check('queueTimeoutMs', 0);
    const perKeyConcurrency = check('perKeyConcurrency', 1);
    const firstByteTimeoutMs = check('firstByteTimeoutMs', 100);
    setErrs(e);
    if (Object.keys(e).length) return;
    await act('Save settings', (c) => c.updateSettings({ logLevel: form.logLevel, loginAuto: form.loginAuto, maxInFlight, queueTimeoutMs, perKeyConcurrency, firstByteTimeoutMs }), 'Settings applied');
  };
  return (
    <form className="form" onSubmit={save} noValidate data-testid="settings-form">
      <div className="form-grid">
        <Field label="Log level" htmlFor="set-level">
          <select id="set-level" value={form.logLevel} onChange={(e) => setForm({ ...form, logLevel: e.target.value as AdminSettings['logLevel'] })}>
            {['trace', 'debug', 'info', 'warn', 'error', 'silent'].map((l) => <option key={l} value={l}>{l}</option>)}
          </select>
        </Field>
        <Field label="Max requests in flight" htmlFor="set-mif" error={errs.maxInFlight} hint="Beyond this, requests wait in a queue.">
          <input id="set-mif" inputMode="numeric" value={form.maxInFlight} onChange={(e) => setForm({ ...form, maxInFlight: e.target.value })} />
        </Field>
        <Field label="Queue timeout (ms)" htmlFor="set-qt" error={errs.queueTimeoutMs} hint="How long a request may wait for a slot before a 429.">
          <input id="set-qt" inputMode="numeric" value={form.queueTimeoutMs} onChange={(e) => setForm({ ...form, queueTimeoutMs: e.target.value })} />
        </Field>
        <Field label="Concurrency per API key" htmlFor="set-pk" error={errs.perKeyConcurrency}>
          <input id="set-pk" inputMode="numeric" value={form.perKeyConcurrency} onChange={(e) => setForm({ ...form, perKeyConcurrency: e.target.value })} />
        </Field>
        <Field label="First-byte timeout (ms)" htmlFor="set-fb" error={errs.firstByteTimeoutMs} hint="A backend slower than this is skipped for the next one.">
          <input id="set-fb" inputMode="numeric" value={form.firstByteTimeoutMs} onChange={(e) => setForm({ ...form, firstByteTimeoutMs: e.target.value })} />
        </Field>
        <Field label="Automatic sign-in" htmlFor="set-auto" hint="Sign Lingma accounts in by themselves when they are found signed out.">
          <label className="switch"><input id="set-auto" type="checkbox" checked={form.loginAuto} onChange={(e) => setForm({ ...form, loginAuto: e.target.checked })} /> <span>{form.loginAuto ? 'On' : 'Off'}</span></label>
        </Field>
      </div>
      <p className="muted small">Changes apply at once and are kept across restarts (saved in the data folder, over the config file).</p>
      <div className="form-actions"><button type="submit" className="btn btn-primary">Apply</button></div>
    </form>
  );
}

export function Settings({ snap }: { snap: AdminSnapshot }) {
  const prot = snap.secretProtection;
  return (
    <div className="screen" data-testid="screen-settings">
      {(prot === 'basic' || prot === 'file') && (
        <div className="banner banner-warn" data-testid="secret-warning">
          {prot === 'basic'
            ? 'Passwords are only obfuscated on this machine: the system offers no keyring (on Linux, install and unlock GNOME Keyring or KWallet for real encryption).'
            : 'Passwords are kept in a file readable only by your user account (headless mode); they are not encrypted. Protect this machine and its backups.'}
        </div>
      )}
      <Card title="Live settings"><SettingsForm key={JSON.stringify(snap.settings)} s={snap.settings} /></Card>
      <ProvidersManager snap={snap} />
      <KeysCard snap={snap} />
      <DesktopNotifications />
      <Card title="About">
        <dl className="kv">
          <dt>Version</dt><dd>{snap.version}</dd>
          <dt>Endpoint</dt><dd className="mono">{snap.endpoint}</dd>
          <dt>Usage ledger</dt><dd>{snap.ledger ? <Badge tone={snap.ledger.state === 'ok' ? 'ok' : snap.ledger.state === 'disabled' ? 'muted' : 'warn'}>{snap.ledger.state}</Badge> : '–'} {snap.ledger?.written !== undefined && <span className="muted small">{snap.ledger.written} rows written{snap.ledger.dropped ? `, ${snap.ledger.dropped} dropped` : ''}</span>}</dd>
          <dt>Secret storage</dt><dd>{prot === 'os' ? 'system keychain' : prot === 'basic' ? 'obfuscated (no keyring)' : prot === 'file' ? 'file, user-only' : prot === 'cluster' ? 'encrypted with the cluster secret (shared by the team)' : '–'}</dd>
        </dl>
        {desktop()?.revealDataFolder ? (
          <button type="button" className="btn btn-ghost" onClick={() => desktop()!.revealDataFolder!()}>Open data folder</button>
        ) : (
          <button type="button" className="btn btn-ghost" onClick={() => { storeToken(undefined); window.location.reload(); }}>Sign out of this dashboard</button>
        )}
      </Card>
    </div>
  );
}
