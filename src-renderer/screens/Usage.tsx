import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { AdminSnapshot, UsageGroup, UsageLatency, UsageRecent, UsageSeries, UsageTotals } from '../../src-main/core/admin/api-types';
import { Legend, PercentileBars, StackedBars, type SeriesInput } from '../components/charts';
import { Badge, Card, Empty, Stat } from '../components/ui';
import { OutcomeBadge } from '../components/OutcomeBadge';
import { requestHref } from '../components/RequestDetail/Replay';
import { fmtCompact, fmtDateTime, fmtInt, fmtMs, fmtUsd } from '../lib/format';
import { useDash } from '../store';

type Range = '24h' | '7d' | '30d';
type Metric = 'tokens' | 'requests' | 'errors';
const RANGE_MS: Record<Range, number> = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Bucket starts covering [from, to), on the same grid as the ledger (local days when offset is given). */
export function bucketsFor(from: number, to: number, bucket: 'hour' | 'day', tzOffsetMinutes = 0): number[] {
  const size = bucket === 'hour' ? HOUR : DAY;
  const off = tzOffsetMinutes * 60_000;
  const out: number[] = [];
  for (let t = Math.floor((from + off) / size) * size - off; t < to; t += size) out.push(t);
  return out;
}

export function toSeries(s: UsageSeries, metric: Metric, maxKeys = 7): { series: SeriesInput[]; keys: string[] } {
  const value = (p: UsageSeries['points'][number]) => (metric === 'tokens' ? p.promptTokens + p.completionTokens : metric === 'errors' ? p.errors : p.requests);
  const byKey = new Map<string, { t: number; v: number }[]>();
  const totals = new Map<string, number>();
  for (const p of s.points) {
    const k = p.key ?? '(none)';
    const v = value(p);
    if (!byKey.has(k)) byKey.set(k, []);
    byKey.get(k)!.push({ t: p.t, v });
    totals.set(k, (totals.get(k) ?? 0) + v);
  }
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k]) => k);
  const keep = ranked.slice(0, maxKeys);
  const other = ranked.slice(maxKeys);
  const series: SeriesInput[] = keep.map((k) => ({ key: k, points: byKey.get(k)! }));
  if (other.length) {
    const merged = new Map<number, number>();
    for (const k of other) for (const p of byKey.get(k)!) merged.set(p.t, (merged.get(p.t) ?? 0) + p.v);
    series.push({ key: 'other', points: [...merged.entries()].map(([t, v]) => ({ t, v })) });
  }
  return { series, keys: series.map((x) => x.key) };
}

interface Filters {
  status: string;
  model: string;
  instance: string;
  requestId: string;
}

export function Usage({ snap }: { snap: AdminSnapshot }) {
  const client = useDash((s) => s.client);
  const [range, setRange] = useState<Range>('24h');
  const [metric, setMetric] = useState<Metric>('requests');
  const [group, setGroup] = useState<UsageGroup>('model');
  const [filters, setFilters] = useState<Filters>({ status: '', model: '', instance: '', requestId: '' });
  const [series, setSeries] = useState<UsageSeries>();
  const [totals, setTotals] = useState<UsageTotals>();
  const [latency, setLatency] = useState<UsageLatency>();
  const [recent, setRecent] = useState<UsageRecent>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [nonce, setNonce] = useState(0);

  const bucket = range === '24h' ? 'hour' : 'day';
  const load = useCallback(async () => {
    if (!client) return;
    const to = Date.now() + 1;
    const from = to - RANGE_MS[range];
    setLoading(true);
    try {
      const [s, t, l, r] = await Promise.all([
        // Day buckets follow the user's local day, not the UTC one.
        client.usageSeries({ from, to, bucket, group, tz: -new Date().getTimezoneOffset() }),
        client.usageTotals({ from, to }),
        client.usageLatency({ from, to }),
        client.usageRecent({ limit: 50, status: filters.status || undefined, model: filters.model || undefined, instance: filters.instance || undefined, requestId: filters.requestId.trim() || undefined }),
      ]);
      setSeries(s); setTotals(t); setLatency(l); setRecent(r); setError(undefined);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoading(false);
    }
  }, [client, range, bucket, group, filters]);

  useEffect(() => { void load(); }, [load, nonce]);
  // New requests finish all the time: refresh every 10 s while this screen is open, and a second
  // after a request finishes (its ledger row is committed within the ledger's flush interval,
  // 250 ms by default): at most one such refresh a second, however many requests finish.
  useEffect(() => {
    const t = setInterval(() => setNonce((n) => n + 1), 10_000);
    return () => clearInterval(t);
  }, []);
  const lastFinished = useDash((s) => s.finished[0]?.id);
  const soon = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    if (!lastFinished || soon.current) return;
    soon.current = setTimeout(() => {
      soon.current = undefined;
      setNonce((n) => n + 1);
    }, 1_000);
  }, [lastFinished]);
  useEffect(() => () => clearTimeout(soon.current), []);

  const chart = useMemo(() => (series ? toSeries(series, metric) : undefined), [series, metric]);
  const buckets = series ? bucketsFor(series.from, series.to, bucket, series.tzOffsetMinutes ?? 0) : [];
  const fmtBucket = (t: number) => {
    const d = new Date(t);
    return bucket === 'hour' ? `${String(d.getHours()).padStart(2, '0')}:00` : `${d.getMonth() + 1}/${d.getDate()}`;
  };

  const exportCsv = async () => {
    if (!client) return;
    try {
      const to = Date.now() + 1;
      const blob = await client.usageCsv({ from: to - RANGE_MS[range], to });
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `lingma-relay-usage-${range}.csv`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 5000);
    } catch (e) {
      useDash.getState().toast('error', `Export: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  if (snap.ledger?.state === 'disabled') {
    return (
      <div className="screen" data-testid="screen-usage">
        <Card title="Usage"><Empty title="The usage ledger is turned off"><p>Set <code>ledger.enabled: true</code> in the config file to record usage.</p></Empty></Card>
      </div>
    );
  }
  const t = totals?.total;
  const models = [...new Set((totals?.rows ?? []).map((r) => r.key).filter((k): k is string => !!k))];
  return (
    <div className="screen" data-testid="screen-usage">
      {snap.ledger?.state === 'degraded' && <div className="banner banner-warn">The usage ledger is degraded: {snap.ledger.reason}. Requests are still served.</div>}
      {error && <div className="banner banner-bad" role="alert">{error}</div>}
      <div className="toolbar">
        <div className="seg" role="group" aria-label="Range">
          {(['24h', '7d', '30d'] as Range[]).map((r) => <button key={r} type="button" className={`seg-btn ${range === r ? 'seg-on' : ''}`} onClick={() => setRange(r)}>{r}</button>)}
        </div>
        <div className="seg" role="group" aria-label="Metric">
          {(['requests', 'tokens', 'errors'] as Metric[]).map((m) => <button key={m} type="button" className={`seg-btn ${metric === m ? 'seg-on' : ''}`} onClick={() => setMetric(m)}>{m}</button>)}
        </div>
        <div className="seg" role="group" aria-label="Group by">
          {(['model', 'instance', 'provider', 'key'] as UsageGroup[]).map((g) => <button key={g} type="button" className={`seg-btn ${group === g ? 'seg-on' : ''}`} onClick={() => setGroup(g)}>by {g}</button>)}
        </div>
        <span className="spacer" />
        {loading && <span className="muted small">Loading…</span>}
        <button type="button" className="btn btn-ghost" onClick={exportCsv}>Export CSV</button>
      </div>
      <div className="stats">
        <Stat label="Requests" value={fmtCompact(t?.requests ?? 0)} sub={`last ${range}`} testId="usage-requests" />
        <Stat label="Errors" value={fmtCompact(t?.errors ?? 0)} tone={t?.errors ? 'bad' : undefined} />
        <Stat label="Tokens in / out" value={`${fmtCompact(t?.promptTokens ?? 0)} / ${fmtCompact(t?.completionTokens ?? 0)}`} />
        <Stat label="Avg. duration" value={fmtMs(t?.avgTotalMs)} />
        <Stat label="Cost" value={fmtUsd(t?.costUsd)} sub={t?.costUsd === null ? 'no prices configured' : undefined} />
      </div>
      <div className="grid-usage">
        <Card title={`${metric[0].toUpperCase()}${metric.slice(1)} over time`} actions={chart && <Legend keys={chart.keys} />}>
          <StackedBars series={chart?.series ?? []} buckets={buckets} formatTime={fmtBucket} label={`${metric} by ${group}`} empty="No requests in this range yet. Send one through the endpoint and it shows up here." />
        </Card>
        <Card title="Latency by model" actions={<span className="muted small">p50 · p90 · p99{latency?.approximate ? ' · approximate (long range)' : ''}</span>}>
          {latency?.rows.length ? (
            <>
              <h3 className="sub">Time to first token</h3>
              <PercentileBars rows={latency.rows.map((r) => ({ label: r.model, ...r.ttft }))} format={fmtMs} />
              <h3 className="sub">Total</h3>
              <PercentileBars rows={latency.rows.map((r) => ({ label: r.model, ...r.total }))} format={fmtMs} />
            </>
          ) : <div className="chart-empty">No successful requests in this range yet.</div>}
        </Card>
      </div>
      <Card title="Recent requests">
        <div className="toolbar">
          <select aria-label="Status" value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.target.value })}>
            <option value="">All statuses</option><option value="ok">Succeeded</option><option value="error">Failed</option><option value="429">429</option><option value="5xx">5xx</option>
          </select>
          <select aria-label="Model" value={filters.model} onChange={(e) => setFilters({ ...filters, model: e.target.value })}>
            <option value="">All models</option>
            {models.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
          <select aria-label="Instance" value={filters.instance} onChange={(e) => setFilters({ ...filters, instance: e.target.value })}>
            <option value="">All instances</option>
            {snap.instances.map((i) => <option key={i.name} value={i.name}>{i.name}</option>)}
          </select>
          <input aria-label="Request id" placeholder="Request id" value={filters.requestId} onChange={(e) => setFilters({ ...filters, requestId: e.target.value })} spellCheck={false} />
        </div>
        {recent?.rows.length ? (
          <div className="table-wrap">
            <table className="table" data-testid="usage-recent">
              <thead><tr><th>Time</th><th>Model</th><th>Instance</th><th>Status</th><th className="num">Tokens</th><th className="num">TTFT</th><th className="num">Total</th><th>Request</th></tr></thead>
              <tbody>
                {recent.rows.map((r) => (
                  <tr key={r.id} className="row-link" onClick={() => { window.location.hash = requestHref(r.requestId, 'usage'); }}>
                    <td className="small mono">{fmtDateTime(r.receivedAt)}</td>
                    <td><div>{r.label || r.requestedModel}</div>{r.requestedModel !== r.label && <div className="muted small">asked {r.requestedModel}</div>}</td>
                    <td className="mono">{r.instance ?? '–'}</td>
                    <td><OutcomeBadge status={r.status} errorCode={r.errorType} />{r.switches > 0 && <span className="muted small"> · {r.switches} switch{r.switches === 1 ? '' : 'es'}</span>}</td>
                    <td className="num">{fmtInt((r.promptTokens ?? 0) + (r.completionTokens ?? 0))}{r.tokensEstimated && <span className="muted" title="estimated">*</span>}</td>
                    <td className="num">{fmtMs(r.ttftMs)}</td>
                    <td className="num">{fmtMs(r.totalMs)}</td>
                    <td className="mono small" title={r.requestId}><a href={requestHref(r.requestId, 'usage')} data-testid="open-request">{r.requestId.slice(0, 12)}</a></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : <div className="chart-empty">{filters.status || filters.model || filters.instance || filters.requestId ? 'No request matches these filters.' : 'No requests recorded yet.'}</div>}
      </Card>
    </div>
  );
}
