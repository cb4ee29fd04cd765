import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayError } from '../../src-main/core/errors';
import { BudgetCounters, parseExpiry } from '../../src-main/core/ledger/budget';
import { createLedger, type Ledger } from '../../src-main/core/ledger/index';
import { DAY, ledgerConfig, rec, silent, tempDir, type TempDir } from './helpers';

let dirs: TempDir[] = [];
let ledgers: Ledger[] = [];
afterEach(async () => {
  for (const l of ledgers) await l.close();
  for (const d of dirs) d.cleanup();
  ledgers = [];
  dirs = [];
});
function setup(over: Parameters<typeof ledgerConfig>[0] = {}, dbPath?: string): { ledger: Ledger; dir: TempDir } {
  const dir = tempDir();
  dirs.push(dir);
  const ledger = createLedger({ dbPath: dbPath ?? dir.path(), log: silent, config: ledgerConfig(over) });
  ledgers.push(ledger);
  return { ledger, dir };
}

function caught(fn: () => void): RelayError {
  try {
    fn();
  } catch (e) {
    if (e instanceof RelayError) return e;
    throw e;
  }
  throw new Error('expected a RelayError');
}

describe('budgets', () => {
  it('requests per minute: 429 with Retry-After until the window frees', async () => {
    const b = new BudgetCounters();
    const t0 = Date.UTC(2026, 0, 1, 10, 0, 0);
    b.check('k', { rpm: 3 }, t0);
    b.check('k', { rpm: 3 }, t0 + 10_000);
    b.check('k', { rpm: 3 }, t0 + 20_000);
    const e = caught(() => b.check('k', { rpm: 3 }, t0 + 30_000));
    expect(e).toMatchObject({ status: 429, type: 'rate_limit_error', code: 'rpm_exceeded', retryAfter: 30 });
    expect(e.message).toMatch(/3 requests per minute/);
    // Another key has its own window.
    expect(() => b.check('other', { rpm: 3 }, t0 + 30_000)).not.toThrow();
    // Refused requests do not count; once the oldest leaves the window one more fits.
    expect(() => b.check('k', { rpm: 3 }, t0 + 60_000)).not.toThrow();
    expect(() => b.check('k', { rpm: 3 }, t0 + 60_001)).toThrow(RelayError);
  });

  it('tokens per day: 429 with Retry-After until UTC midnight, resets the next day', async () => {
    const b = new BudgetCounters();
    const t = Date.UTC(2026, 0, 1, 22, 0, 0);
    b.addTokens('k', 600, t);
    b.check('k', { tokensPerDay: 1000 }, t);
    b.addTokens('k', 400, t + 1000);
    const e = caught(() => b.check('k', { tokensPerDay: 1000 }, t + 2000));
    expect(e).toMatchObject({ status: 429, code: 'tokens_per_day_exceeded', retryAfter: 2 * 3600 - 2 });
    expect(e.message).toMatch(/1000 tokens/);
    expect(e.message).toMatch(/2026-01-02T00:00:00.000Z/);
    expect(() => b.check('k', { tokensPerDay: 1000 }, Date.UTC(2026, 0, 2, 0, 0, 1))).not.toThrow();
  });

  it('expiry: 401 key_expired naming the date (bare dates are 00:00 UTC, as the key store reads them)', async () => {
    const b = new BudgetCounters();
    expect(() => b.check('k', { expiresAt: '2026-03-01' }, Date.UTC(2026, 1, 28, 23, 59))).not.toThrow();
    const e = caught(() => b.check('k', { expiresAt: '2026-03-01' }, Date.UTC(2026, 2, 1, 0, 0)));
    expect(e).toMatchObject({ status: 401, type: 'authentication_error', code: 'key_expired' });
    expect(e.message).toContain('2026-03-01T00:00:00.000Z');
    const e2 = caught(() => b.check('k', { expiresAt: '2026-03-01T12:00:00Z' }, Date.UTC(2026, 2, 1, 12, 0)));
    expect(e2.message).toContain('2026-03-01T12:00:00.000Z');
    // SECURITY: unreadable expiry refuses the key.
    expect(caught(() => b.check('k', { expiresAt: 'someday' }, Date.now())).code).toBe('key_expired');
    expect(parseExpiry('2026-03-01T12:00:00+02:00')).toBe(Date.UTC(2026, 2, 1, 10));
  });

  it('tokens per day are seeded from the database at start', async () => {
    const first = setup();
    const now = Date.now();
    first.ledger.record(rec({ apiKeyId: 'kk', receivedAt: now, promptTokens: 700, completionTokens: 300 }));
    first.ledger.record(rec({ apiKeyId: 'kk', receivedAt: now - 2 * DAY, promptTokens: 5000, completionTokens: 0 })); // not today
    await first.ledger.close();
    const again = createLedger({ dbPath: first.dir.path(), log: silent, config: ledgerConfig() });
    ledgers.push(again);
    await again.ready();
    expect(() => again.checkBudget('kk', { tokensPerDay: 1001 }, now)).not.toThrow();
    expect(() => again.checkBudget('kk', { tokensPerDay: 1000 }, now)).toThrow(/Daily token budget/);
    // Recording updates the counter at once (no DB read).
    again.record(rec({ apiKeyId: 'kk', receivedAt: now, promptTokens: 1, completionTokens: 0 }));
    expect(() => again.checkBudget('kk', { tokensPerDay: 1001 }, now)).toThrow(/Daily token budget/);
  });

  it('degraded + onDegraded=closed → 429 "usage ledger unavailable"; open → serve and count in memory', async () => {
    const closedDir = tempDir();
    dirs.push(closedDir);
    writeFileSync(closedDir.path(), Buffer.alloc(4096, 'garbage'));
    const closed = createLedger({ dbPath: closedDir.path(), log: silent, config: ledgerConfig({ onDegraded: 'closed' }) });
    ledgers.push(closed);
    await closed.ready();
    expect(closed.status().state).toBe('degraded');
    const e = caught(() => closed.checkBudget('k', { rpm: 100 }, Date.now()));
    expect(e).toMatchObject({ status: 429, code: 'ledger_unavailable' });
    expect(e.message).toMatch(/usage ledger unavailable/i);
    expect(() => closed.checkBudget('k', undefined, Date.now())).not.toThrow(); // keys without limits are unaffected

    const openDir = tempDir();
    dirs.push(openDir);
    writeFileSync(openDir.path(), Buffer.alloc(4096, 'garbage'));
    const open = createLedger({ dbPath: openDir.path(), log: silent, config: ledgerConfig({ onDegraded: 'open' }) });
    ledgers.push(open);
    await open.ready();
    const now = Date.now();
    open.checkBudget('k', { rpm: 2 }, now);
    open.checkBudget('k', { rpm: 2 }, now);
    expect(() => open.checkBudget('k', { rpm: 2 }, now)).toThrow(/requests per minute/);
    open.record(rec({ apiKeyId: 'k', receivedAt: now, promptTokens: 10, completionTokens: 0 }));
    expect(() => open.checkBudget('k', { tokensPerDay: 10 }, now)).toThrow(/Daily token budget/);
  });
});
