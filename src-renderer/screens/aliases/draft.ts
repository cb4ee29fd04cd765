/** The structured alias editor's draft and how it merges into the alias table as written. */
import { chainOf, type AliasDraft } from '../../lib/validate';

export type RawTarget = string | { target: string; firstByteTimeoutMs?: number; options?: Record<string, unknown>; [k: string]: unknown };
export type RawAlias = string | { description?: string; chain: RawTarget[]; [k: string]: unknown };

/** Per-hop options the editor shows: the ones every backend kind takes (`HopOptionsSchema`). */
export interface HopDraft {
  firstByteTimeoutMs: string;
  toolEmulation: boolean;
}

export function targetOf(t: RawTarget): string {
  return typeof t === 'string' ? t : t.target;
}

/** The hop options a raw target carries, as the editor shows them. */
export function hopOf(t: RawTarget | undefined): HopDraft {
  if (!t || typeof t === 'string') return { firstByteTimeoutMs: '', toolEmulation: false };
  const fb = t.firstByteTimeoutMs ?? (t.options?.firstByteTimeoutMs as number | undefined);
  return { firstByteTimeoutMs: fb === undefined ? '' : String(fb), toolEmulation: t.options?.toolEmulation === true };
}

/** A target with the draft's hop options over what it carried (other backend options kept). */
function withHop(prev: RawTarget | undefined, target: string, hop: HopDraft | undefined): RawTarget {
  const base: Exclude<RawTarget, string> = prev && typeof prev === 'object' ? { ...prev, target } : { target };
  if (!hop) return prev && typeof prev === 'object' ? base : target;
  const fb = hop.firstByteTimeoutMs.trim();
  if (fb) base.firstByteTimeoutMs = Number(fb);
  else delete base.firstByteTimeoutMs;
  const options = { ...(base.options ?? {}) };
  delete options.firstByteTimeoutMs;
  if (hop.toolEmulation) options.toolEmulation = true;
  else delete options.toolEmulation;
  if (Object.keys(options).length) base.options = options;
  else delete base.options;
  const keys = Object.keys(base);
  return keys.length === 1 ? target : base;
}

/** Merge an edited draft into the raw alias table, keeping per-target options that still apply. */
export function applyDraft(raw: Record<string, RawAlias>, original: string | undefined, d: AliasDraft, hops: Record<string, HopDraft> = {}): Record<string, RawAlias> {
  const next = { ...raw };
  const prev = original ? next[original] : undefined;
  if (original) delete next[original];
  const prevChain = prev && typeof prev === 'object' ? prev.chain : [];
  const chain = chainOf(d).map((t) => withHop(prevChain.find((p) => targetOf(p) === t && typeof p === 'object'), t, hops[t]));
  const rest = prev && typeof prev === 'object' ? prev : {};
  next[d.name.trim()] = { ...rest, chain, ...(d.description.trim() ? { description: d.description.trim() } : { description: undefined }) };
  const entry = next[d.name.trim()] as Record<string, unknown>;
  if (entry.description === undefined) delete entry.description;
  return next;
}

/** A hop's first-byte timeout as typed: empty, or a whole number of ms from 100. */
export function hopProblem(h: HopDraft): string | undefined {
  const v = h.firstByteTimeoutMs.trim();
  if (!v) return undefined;
  return /^\d+$/.test(v) && Number(v) >= 100 ? undefined : 'A whole number of ms, at least 100.';
}
