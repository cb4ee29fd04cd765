/**
 * Small SVG charts (no library, no inline styles: colours come from CSS classes so themes and the
 * CSP both hold).
 */
import type { ReactNode } from 'react';

export const SERIES_CLASSES = ['s0', 's1', 's2', 's3', 's4', 's5', 's6', 's7'];

export function Sparkline(props: { values: number[]; height?: number; className?: string; label: string }) {
  const h = props.height ?? 36;
  const w = 120;
  const vals = props.values.length ? props.values : [0];
  const max = Math.max(1, ...vals);
  const step = vals.length > 1 ? w / (vals.length - 1) : w;
  const pts = vals.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`);
  const area = `0,${h} ${pts.join(' ')} ${((vals.length - 1) * step).toFixed(1)},${h}`;
  return (
    <svg className={`spark ${props.className ?? ''}`} viewBox={`0 0 ${w} ${h}`} preserveAspectRatio="none" width="100%" height={h} role="img" aria-label={props.label}>
      <polygon className="spark-area" points={area} />
      <polyline className="spark-line" points={pts.join(' ')} fill="none" />
    </svg>
  );
}

export interface SeriesInput {
  key: string;
  points: { t: number; v: number }[];
}

function ticks(max: number): number[] {
  if (max <= 0) return [0];
  const raw = max / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) out.push(v);
  return out;
}

function short(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n * 100) / 100);
}

/** Stacked bars over time buckets, one colour per series key. */
export function StackedBars(props: {
  series: SeriesInput[];
  buckets: number[];
  formatTime: (t: number) => string;
  label: string;
  empty?: ReactNode;
}) {
  const W = 640, H = 200, L = 44, B = 22, T = 8, R = 8;
  const totals = props.buckets.map((t) => props.series.reduce((s, se) => s + (se.points.find((p) => p.t === t)?.v ?? 0), 0));
  const max = Math.max(0, ...totals);
  if (!props.buckets.length || max === 0) return <div className="chart-empty">{props.empty ?? 'No data in this range yet.'}</div>;
  const ys = ticks(max);
  const top = ys[ys.length - 1] || 1;
  const bw = (W - L - R) / props.buckets.length;
  const y = (v: number) => T + (H - T - B) * (1 - v / top);
  const labelEvery = Math.max(1, Math.ceil(props.buckets.length / 8));
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={props.label}>
      {ys.map((v) => (
        <g key={v}>
          <line className="grid" x1={L} x2={W - R} y1={y(v)} y2={y(v)} />
          <text className="axis" x={L - 6} y={y(v) + 4} textAnchor="end">{short(v)}</text>
        </g>
      ))}
      {props.buckets.map((t, bi) => {
        let acc = 0;
        return (
          <g key={t}>
            {props.series.map((se, si) => {
              const v = se.points.find((p) => p.t === t)?.v ?? 0;
              if (!v) return null;
              const y0 = y(acc), y1 = y(acc + v);
              acc += v;
              return (
                <rect key={se.key} className={`bar ${SERIES_CLASSES[si % SERIES_CLASSES.length]}`} x={L + bi * bw + bw * 0.15} width={Math.max(1, bw * 0.7)} y={y1} height={Math.max(0.5, y0 - y1)}>
                  <title>{`${se.key}: ${short(v)} at ${props.formatTime(t)}`}</title>
                </rect>
              );
            })}
            {bi % labelEvery === 0 && <text className="axis" x={L + bi * bw + bw / 2} y={H - 6} textAnchor="middle">{props.formatTime(t)}</text>}
          </g>
        );
      })}
    </svg>
  );
}

export function Legend({ keys }: { keys: string[] }) {
  return (
    <ul className="legend">
      {keys.map((k, i) => (
        <li key={k}><span className={`swatch ${SERIES_CLASSES[i % SERIES_CLASSES.length]}`} aria-hidden="true" />{k}</li>
      ))}
    </ul>
  );
}

/** Horizontal p50/p90/p99 bars per model (ms). */
export function PercentileBars(props: { rows: { label: string; p50: number | null; p90: number | null; p99: number | null }[]; format: (ms: number | null) => string }) {
  const max = Math.max(1, ...props.rows.map((r) => r.p99 ?? r.p90 ?? r.p50 ?? 0));
  return (
    <div className="pbars">
      {props.rows.map((r) => (
        <div className="pbar-row" key={r.label}>
          <div className="pbar-label" title={r.label}>{r.label}</div>
          <svg className="pbar" viewBox="0 0 100 12" preserveAspectRatio="none" width="100%" height="12" aria-hidden="true">
            <rect className="pbar-track" x="0" y="0" width="100" height="12" rx="3" />
            {r.p99 !== null && <rect className="pbar-p99" x="0" y="0" width={(r.p99 / max) * 100} height="12" rx="3" />}
            {r.p90 !== null && <rect className="pbar-p90" x="0" y="0" width={(r.p90 / max) * 100} height="12" rx="3" />}
            {r.p50 !== null && <rect className="pbar-p50" x="0" y="0" width={(r.p50 / max) * 100} height="12" rx="3" />}
          </svg>
          <div className="pbar-nums">{props.format(r.p50)} · {props.format(r.p90)} · {props.format(r.p99)}</div>
        </div>
      ))}
    </div>
  );
}
