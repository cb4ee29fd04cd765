/**
 * Log-linear latency buckets for the daily latency histograms: exact below 64 ms, then 32
 * buckets per power of two, so a bucket's midpoint is within ~1.6% of any value in it. Percentiles
 * over long ranges are read from these histograms instead of scanning every request.
 */
const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // 32 sub-buckets per power of two
const EXACT = 2 * SUB; // values below this have a bucket each
const MAX = 2 ** 31 - 1;

export function bucketOf(value: number): number {
  const v = Math.min(MAX, Math.max(0, Math.round(value)));
  if (v < EXACT) return v;
  const e = 31 - Math.clz32(v); // v in [2^e, 2^(e+1))
  const shift = e - SUB_BITS; // bucket width 2^shift
  return EXACT + (e - SUB_BITS - 1) * SUB + ((v - 2 ** e) >>> shift);
}

/** The value a bucket stands for: the midpoint of the whole milliseconds it covers. */
export function bucketValue(bucket: number): number {
  if (bucket < EXACT) return bucket;
  const k = bucket - EXACT;
  const e = Math.floor(k / SUB) + SUB_BITS + 1;
  const width = 2 ** (e - SUB_BITS);
  const lo = 2 ** e + (k % SUB) * width;
  return Math.round(lo + (width - 1) / 2);
}

/** Nearest-rank percentiles from (bucket, count) pairs. */
export function histogramPercentiles(bins: Map<number, number>): { count: number; p50: number | null; p90: number | null; p99: number | null } {
  let n = 0;
  for (const c of bins.values()) n += c;
  if (!n) return { count: 0, p50: null, p90: null, p99: null };
  const sorted = [...bins.entries()].sort((a, b) => a[0] - b[0]);
  const at = (p: number): number => {
    const rank = Math.max(1, Math.ceil((p * n) / 100));
    let seen = 0;
    for (const [b, c] of sorted) {
      seen += c;
      if (seen >= rank) return bucketValue(b);
    }
    return bucketValue(sorted[sorted.length - 1][0]);
  };
  return { count: n, p50: at(50), p90: at(90), p99: at(99) };
}
