/**
 * Ledger schema and its versioned migrations. `PRAGMA user_version` holds the version; every
 * migration that a database lacks runs at open, all of them in ONE transaction (an interrupted
 * upgrade leaves the file at its old version, never half-upgraded).
 *
 * Version history:
 *  1. `usage` table with the first columns (as shipped in the first builds).
 *  2. reasoning/cached tokens, estimated flag, session reuse, switch reasons, alias, user agent,
 *     cost, the `label` column (`provider/model`, or the requested model when nothing resolved),
 *     the indexes the usage queries need, and the hourly/daily rollups (backfilled from the rows).
 *
 * Rollups: `usage_hourly` and `usage_daily` hold sums per (period start, label, provider,
 * instance, key, status), updated in the same transaction as the rows they sum, so totals and
 * time series over long ranges read a few thousand rollup rows instead of every request.
 *  3. index on the requested model, for the request list's model filter.
 *
 * `latency_daily` holds per-day, per-label histograms of TTFB and total time (successful requests)
 * for percentiles over long ranges (see histogram.ts).
 */
import type Database from 'better-sqlite3';
import { bucketOf } from '../histogram';

export const SCHEMA_VERSION = 3;

const MIGRATIONS: Record<number, string | ((db: Database.Database) => void)> = {
  1: `
    CREATE TABLE usage (
      id INTEGER PRIMARY KEY,
      request_id TEXT NOT NULL,
      received_at INTEGER NOT NULL,
      first_byte_at INTEGER,
      finished_at INTEGER NOT NULL,
      api_key_id TEXT NOT NULL,
      endpoint TEXT NOT NULL,
      protocol TEXT NOT NULL,
      requested_model TEXT NOT NULL,
      provider TEXT,
      instance TEXT,
      model TEXT,
      stream INTEGER NOT NULL,
      status INTEGER NOT NULL,
      error_type TEXT,
      switches INTEGER NOT NULL DEFAULT 0,
      prompt_tokens INTEGER,
      completion_tokens INTEGER,
      ttft_ms INTEGER,
      total_ms INTEGER NOT NULL
    );
    CREATE INDEX usage_received ON usage(received_at);
  `,
  2: (db) => {
    db.exec(`
    ALTER TABLE usage ADD COLUMN label TEXT NOT NULL DEFAULT '';
    ALTER TABLE usage ADD COLUMN alias TEXT;
    ALTER TABLE usage ADD COLUMN user_agent TEXT;
    ALTER TABLE usage ADD COLUMN switch_reasons TEXT;
    ALTER TABLE usage ADD COLUMN session_reuse INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN reasoning_tokens INTEGER;
    ALTER TABLE usage ADD COLUMN cached_tokens INTEGER;
    ALTER TABLE usage ADD COLUMN tokens_estimated INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE usage ADD COLUMN cost_usd REAL;
    UPDATE usage SET label = CASE WHEN provider IS NOT NULL AND model IS NOT NULL
      THEN provider || '/' || model ELSE requested_model END;
    DROP INDEX usage_received;
    -- Range scans for totals, series and percentiles read only this index (covering).
    CREATE INDEX usage_range ON usage(received_at, label, status, total_ms, ttft_ms);
    -- Recent-request filters (newest first, keyset on id).
    CREATE INDEX usage_status_id ON usage(status, id);
    CREATE INDEX usage_label_id ON usage(label, id);
    CREATE INDEX usage_instance_id ON usage(instance, id);
    CREATE INDEX usage_key_id ON usage(api_key_id, id);
    CREATE INDEX usage_request_id ON usage(request_id);
    ${rollupTableSql('usage_hourly', 3_600_000)}
    ${rollupTableSql('usage_daily', 86_400_000)}
    CREATE TABLE latency_daily (
      t INTEGER NOT NULL,
      label TEXT NOT NULL,
      kind INTEGER NOT NULL, -- 0 total time, 1 time to first byte
      bucket INTEGER NOT NULL,
      n INTEGER NOT NULL,
      PRIMARY KEY (t, label, kind, bucket)
    ) WITHOUT ROWID;`);
    backfillLatency(db);
  },
  3: `CREATE INDEX usage_requested_id ON usage(requested_model, id);`,
};

/** A rollup table (sums per period x label/provider/instance/key/status), filled from existing rows. */
function rollupTableSql(name: string, periodMs: number): string {
  return `CREATE TABLE ${name} (
      t INTEGER NOT NULL,
      label TEXT NOT NULL,
      provider TEXT NOT NULL,
      instance TEXT NOT NULL,
      api_key_id TEXT NOT NULL,
      status INTEGER NOT NULL,
      requests INTEGER NOT NULL,
      errors INTEGER NOT NULL,
      prompt_tokens INTEGER NOT NULL,
      completion_tokens INTEGER NOT NULL,
      reasoning_tokens INTEGER NOT NULL,
      cached_tokens INTEGER NOT NULL,
      cost_usd REAL,
      total_ms INTEGER NOT NULL,
      PRIMARY KEY (t, label, provider, instance, api_key_id, status)
    ) WITHOUT ROWID;
    INSERT INTO ${name}
      SELECT (received_at / ${periodMs}) * ${periodMs}, label, COALESCE(provider, ''), COALESCE(instance, ''), api_key_id, status,
        COUNT(*), SUM(status >= 400), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),
        COALESCE(SUM(reasoning_tokens), 0), COALESCE(SUM(cached_tokens), 0), SUM(cost_usd), COALESCE(SUM(total_ms), 0)
      FROM usage GROUP BY 1, 2, 3, 4, 5, 6;`;
}

const DAY = 86_400_000;

/** Fill latency_daily from existing rows (upgrades from v1). */
function backfillLatency(db: Database.Database): void {
  const bins = new Map<string, number>();
  const rows = db.prepare('SELECT received_at, label, total_ms, ttft_ms FROM usage WHERE status < 400').raw(true);
  for (const [at, label, total, ttft] of rows.iterate() as IterableIterator<[number, string, number, number | null]>) {
    const t = Math.floor(at / DAY) * DAY;
    const k0 = `${t}\u0000${label}\u00000\u0000${bucketOf(total)}`;
    bins.set(k0, (bins.get(k0) ?? 0) + 1);
    if (ttft !== null) {
      const k1 = `${t}\u0000${label}\u00001\u0000${bucketOf(ttft)}`;
      bins.set(k1, (bins.get(k1) ?? 0) + 1);
    }
  }
  const ins = db.prepare('INSERT INTO latency_daily (t, label, kind, bucket, n) VALUES (?, ?, ?, ?, ?)');
  for (const [k, n] of bins) {
    const [t, label, kind, bucket] = k.split('\u0000');
    ins.run(Number(t), label, Number(kind), Number(bucket), n);
  }
}


/** Bring the database to SCHEMA_VERSION. Throws when the file is newer than this build. */
export function migrate(db: Database.Database): { from: number; to: number } {
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > SCHEMA_VERSION) {
    throw new Error(`usage database is schema version ${from}, newer than this build understands (${SCHEMA_VERSION})`);
  }
  if (from === SCHEMA_VERSION) return { from, to: from };
  db.transaction(() => {
    for (let v = from + 1; v <= SCHEMA_VERSION; v++) {
      const m = MIGRATIONS[v];
      if (typeof m === 'string') db.exec(m);
      else m(db);
    }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
  return { from, to: SCHEMA_VERSION };
}
