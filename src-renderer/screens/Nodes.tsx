import { useEffect, useState } from 'react';
import type { ClusterView } from '../../src-main/core/cluster/view';
import { ApiError } from '../api/client';
import { Card, Stat } from '../components/ui';
import { fmtInt, fmtTime } from '../lib/format';
import { useDash } from '../store';

/** How often the Nodes card asks again (the nodes report every `cluster.leaseSec` / 3). */
export const NODES_REFRESH_MS = 5000;

/**
 * Team mode: the nodes alive, which accounts each runs, the requests in flight on each and over
 * the team (`GET /admin/cluster`). A relay that is not in a team has no such route (404): the
 * card is not shown at all.
 */
export function NodesCard() {
  const client = useDash((s) => s.client);
  const [view, setView] = useState<ClusterView | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [team, setTeam] = useState(true);

  useEffect(() => {
    if (!client) return;
    let live = true;
    const load = async () => {
      try {
        const v = await client.cluster();
        if (!live) return;
        // Not the team view (an older relay answering something else): nothing to show.
        if (!v || !Array.isArray(v.nodes) || !v.totals) return setTeam(false);
        setView(v);
        setError(undefined);
      } catch (e) {
        if (!live) return;
        if (e instanceof ApiError && e.status === 404) setTeam(false);
        else setError(e instanceof Error ? e.message : String(e));
      }
    };
    void load();
    const t = setInterval(() => void load(), NODES_REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [client]);

  if (!team || (!view && !error)) return null;
  return (
    <Card title="Nodes" testId="nodes-card">
      {error && <p className="muted small" data-testid="nodes-error">{error}</p>}
      {view && (
        <>
          <div className="stats">
            <Stat label="Nodes" value={fmtInt(view.totals.nodes)} testId="nodes-count" />
            <Stat label="In flight (team)" value={fmtInt(view.totals.inFlight)} sub={view.totals.queued ? `${fmtInt(view.totals.queued)} queued` : undefined} testId="nodes-inflight" />
            <Stat label="Requests (since start)" value={fmtInt(view.totals.requests)} sub={`${fmtInt(view.totals.errors)} failed · ${fmtInt(view.totals.tokens)} tokens`} testId="nodes-requests" />
          </div>
          <div className="table-wrap">
            <table className="table" data-testid="nodes-table">
              <thead>
                <tr>
                  <th>Node</th>
                  <th>Address</th>
                  <th>Last report</th>
                  <th>Accounts it runs</th>
                  <th className="num">In flight</th>
                </tr>
              </thead>
              <tbody>
                {view.nodes.map((n) => (
                  <tr key={n.name} data-testid={`node-${n.name}`}>
                    <td className="strong">{n.name}{n.self ? <span className="muted small"> (this one)</span> : null}</td>
                    <td><code>{n.url ?? '—'}</code></td>
                    <td>{n.lastSeen ? fmtTime(n.lastSeen) : '—'}</td>
                    <td>{n.accounts?.length ? n.accounts.map((a) => `${a.name}${a.inFlight ? ` (${a.inFlight})` : ''}`).join(', ') : <span className="muted">none</span>}</td>
                    <td className="num">{fmtInt(n.inFlight ?? 0)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Card>
  );
}
