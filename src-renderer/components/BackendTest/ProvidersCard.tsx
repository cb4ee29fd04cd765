/** Every configured provider with its kind and models, and "Test this backend" on each. */
import type { AdminSnapshot } from '../../../src-main/core/admin/api-types';
import { Card } from '../ui';
import { BackendTestButton } from './BackendTestButton';

export function ProvidersCard({ snap }: { snap: AdminSnapshot }) {
  if (!snap.providers.length) return null;
  return (
    <Card title={<>Providers <span className="count">{snap.providers.length}</span></>} testId="providers-card">
      <ul className="bt-list">
        {snap.providers.map((p) => (
          <li key={p.name} data-testid={`provider-${p.name}`}>
            <span className="strong">{p.name}</span>
            <span className="muted small">{p.kind} · {p.models.length} model{p.models.length === 1 ? '' : 's'}{p.models.length ? `: ${p.models.slice(0, 3).join(', ')}${p.models.length > 3 ? ', …' : ''}` : ''}</span>
            <span className="spacer" />
            <BackendTestButton kind="provider" name={p.name} />
          </li>
        ))}
      </ul>
    </Card>
  );
}
