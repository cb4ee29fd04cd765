/**
 * Per API key, for the dashboard's key list: when it was last used, and its requests and tokens
 * since the start of today (UTC, the day `tokensPerDay` counts). Read from the ledger's store;
 * with the ledger off, nothing is known (an empty map).
 */
import type { Ledger } from './index';

export interface KeyUsage {
  /** Epoch ms of the newest request the ledger holds for the key. */
  lastUsed?: number;
  requestsToday: number;
  tokensToday: number;
}

const DAY = 86_400_000;

export async function keyUsage(ledger: Pick<Ledger, 'status' | 'totals' | 'recent'>, ids: readonly string[], now: number): Promise<Record<string, KeyUsage>> {
  if (ledger.status().state === 'disabled') return {};
  const from = Math.floor(now / DAY) * DAY;
  const out: Record<string, KeyUsage> = {};
  try {
    const totals = await ledger.totals({ from, to: now + 1, group: 'key' });
    for (const id of ids) out[id] = { requestsToday: 0, tokensToday: 0 };
    for (const r of totals.rows) {
      if (!r.key || !(r.key in out)) continue;
      out[r.key] = { requestsToday: r.requests, tokensToday: r.promptTokens + r.completionTokens };
    }
    await Promise.all(ids.map(async (id) => {
      const page = await ledger.recent({ key: id, limit: 1 });
      const row = page.rows[0];
      if (row) out[id].lastUsed = row.receivedAt;
    }));
  } catch {
    // A degraded store: the list shows the keys without their usage.
    return {};
  }
  return out;
}
