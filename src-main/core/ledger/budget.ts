/**
 * Per-API-key budgets, counted in memory so admission never queries the database:
 * - requests per minute: a sliding 60 s window of admission times per key;
 * - tokens per UTC day: prompt + completion tokens, seeded from the ledger at start and updated
 *   on every recorded request;
 * - expiry: the key is refused (401) from its expiry instant on.
 */
import { RelayError, errors } from '../errors';

export interface KeyLimits {
  rpm?: number;
  tokensPerDay?: number;
  /** ISO date (`2026-12-31` = 00:00 UTC that day) or date-time. */
  expiresAt?: string;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/** UTC day number of an epoch-ms time. */
export const utcDay = (t: number): number => Math.floor(t / DAY);

/**
 * The instant a key stops working, or NaN when the text is not a date. Same reading as the key
 * store and config validation (`Date.parse`): a bare date (`2026-12-31`) is that day's 00:00 UTC.
 */
export function parseExpiry(text: string): number {
  return typeof text === 'string' && text.length >= 10 ? Date.parse(text) : NaN;
}

export class BudgetCounters {
  /** keyId → admission times within the last minute, oldest first. */
  private readonly windows = new Map<string, number[]>();
  /** keyId → tokens used on `day`. */
  private tokens = new Map<string, number>();
  private day = -1;

  /** Replace today's token counts (from the database at start). */
  seed(day: number, perKey: Map<string, number>): void {
    this.day = day;
    this.tokens = new Map(perKey);
  }

  /**
   * Add the database's counts for `day` to what was counted in memory since start (requests
   * recorded before the database opened are not in it yet, so the two add up).
   */
  addSeed(day: number, perKey: Map<string, number>): void {
    if (day < this.day) return;
    if (day > this.day) {
      this.day = day;
      this.tokens.clear();
    }
    for (const [k, n] of perKey) if (n > 0) this.tokens.set(k, (this.tokens.get(k) ?? 0) + n);
  }

  addTokens(keyId: string, tokens: number, at: number): void {
    if (!(tokens > 0)) return;
    const d = utcDay(at);
    if (d > this.day) {
      this.day = d;
      this.tokens.clear();
    } else if (d < this.day) {
      return; // a request that finished yesterday does not count against today
    }
    this.tokens.set(keyId, (this.tokens.get(keyId) ?? 0) + tokens);
  }

  tokensToday(keyId: string, now: number): number {
    return utcDay(now) === this.day ? (this.tokens.get(keyId) ?? 0) : 0;
  }

  /**
   * Throws a RelayError when the key may not start a request now; otherwise counts the request
   * against its per-minute window.
   */
  check(keyId: string, limits: KeyLimits | undefined, now: number): void {
    if (!limits) return;
    if (limits.expiresAt !== undefined) {
      const until = parseExpiry(limits.expiresAt);
      // SECURITY: an expiry that cannot be read refuses the key rather than letting it live forever.
      if (Number.isNaN(until) || now >= until) {
        throw new RelayError({
          status: 401,
          type: 'authentication_error',
          code: 'key_expired',
          retryable: false,
          message: Number.isNaN(until)
            ? `This API key has an unreadable expiry date ('${limits.expiresAt}') and is refused.`
            : `This API key expired on ${new Date(until).toISOString()}.`,
        });
      }
    }
    if (limits.tokensPerDay !== undefined) {
      const used = this.tokensToday(keyId, now);
      if (used >= limits.tokensPerDay) {
        const midnight = (utcDay(now) + 1) * DAY;
        throw errors.rateLimited(
          `Daily token budget of ${limits.tokensPerDay} tokens for this API key is used up (${used} used); it resets at ${new Date(midnight).toISOString()}.`,
          (midnight - now) / 1000,
          'tokens_per_day_exceeded',
        );
      }
    }
    if (limits.rpm !== undefined) {
      let w = this.windows.get(keyId);
      if (!w) {
        w = [];
        this.windows.set(keyId, w);
      }
      let drop = 0;
      while (drop < w.length && w[drop] <= now - MINUTE) drop++;
      if (drop) w.splice(0, drop);
      if (w.length >= limits.rpm) {
        const frees = w[w.length - limits.rpm] + MINUTE;
        throw errors.rateLimited(
          `Rate limit of ${limits.rpm} requests per minute for this API key reached; retry in ${Math.max(1, Math.ceil((frees - now) / 1000))} s.`,
          (frees - now) / 1000,
          'rpm_exceeded',
        );
      }
      w.push(now);
    }
  }
}
