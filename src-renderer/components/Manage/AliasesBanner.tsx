import type { AdminSnapshot } from '../../../src-main/core/admin/api-types';
import { fmtDateTime } from '../../lib/format';
import './manage.css';

/**
 * App-wide: the aliases file on disk was refused at its last reload (a broken file). Shown on
 * every screen, not only on Aliases: requests still route by the previous aliases, which a person
 * editing the file may not expect.
 */
export function AliasesBanner({ snap, onAliases = false }: { snap: AdminSnapshot; onAliases?: boolean }) {
  const r = snap.aliasesReload;
  if (!r || r.ok) return null;
  return (
    <div className={`banner banner-bad ${onAliases ? '' : 'app-banner'}`} role="alert" data-testid="aliases-broken">
      <div>
        <strong>The aliases file is broken.</strong> The last reload ({fmtDateTime(r.at)}) refused it: {r.error}. The previous aliases stay in force.
        {!onAliases && <> <a href="#/aliases">Open Aliases</a> to fix it.</>}
      </div>
    </div>
  );
}
