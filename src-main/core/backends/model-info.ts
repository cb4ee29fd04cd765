/** Helpers every backend kind uses to read model metadata (`ModelInfo`) from upstream lists. */

/** A positive whole number (or its digits as text), else undefined. */
export function positiveInt(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}
