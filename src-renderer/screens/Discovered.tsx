import type { AdminSnapshot } from '../../src-main/core/admin/api-types';
import { Card } from '../components/ui';
import { act } from '../store';

/**
 * What Relay found on this machine by itself (local OpenAI-compatible servers on 127.0.0.1, an
 * installed Lingma), each with one button. Nothing is used before a person presses it.
 */
export function DiscoveryCard({ snap }: { snap: AdminSnapshot }) {
  const d = snap.discovery;
  if (!d) return null;
  const offered = d.servers.filter((s) => s.status === 'offered');
  const lingma = d.lingma && !d.lingma.inUse ? d.lingma : undefined;
  if (!offered.length && !lingma) return null;
  return (
    <Card
      title="Found on this machine"
      testId="discovery-card"
      actions={
        <button type="button" className="btn btn-ghost small" disabled={d.scanning} onClick={() => act('Scan', (c) => c.scanDiscovery(), 'Scanned this machine again')}>
          {d.scanning ? 'Scanning…' : 'Scan again'}
        </button>
      }
    >
      <ul className="glance">
        {offered.map((s) => (
          <li key={s.id} className="glance-item" data-testid={`discovered-${s.id}`}>
            <span className="health-dot hd-ok" aria-hidden="true" />
            <span className="strong">
              Found {s.label} on :{s.port} with {s.models.length} model{s.models.length === 1 ? '' : 's'}
            </span>
            <span className="muted small" title={s.models.join(', ')}>
              {s.models.slice(0, 3).join(', ')}{s.models.length > 3 ? '…' : ''}
            </span>
            <button
              type="button"
              className="btn btn-primary small glance-load"
              onClick={() => act(`Use ${s.label}`, (c) => c.useDiscovered(s.id), `${s.label} added as provider ${s.id}`)}
            >
              Use it
            </button>
          </li>
        ))}
        {lingma && (
          <li className="glance-item" data-testid="discovered-lingma">
            <span className="health-dot hd-warn" aria-hidden="true" />
            <span className="strong">Lingma is installed ({lingma.label}{lingma.version ? ` ${lingma.version}` : ''})</span>
            <span className="muted small">
              {snap.accountsEditable ? 'sign in with an Alibaba Cloud account to serve through it' : 'add an account with LINGMA_ACCOUNTS or lingma.accounts and start again'}
            </span>
            {snap.accountsEditable && <a className="btn btn-primary small glance-load" href="#/accounts">Add an account</a>}
          </li>
        )}
      </ul>
      <p className="muted small">
        Found by asking 127.0.0.1 only. A server becomes provider <code>{offered[0]?.id ?? 'ollama'}</code> (models <code>{offered[0]?.id ?? 'ollama'}/…</code>) once you press Use it; nothing is sent to it before.
      </p>
    </Card>
  );
}
