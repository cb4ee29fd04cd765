/**
 * The PostgreSQL ledger schema, as versioned migrations kept here in the repo. `schema_migrations`
 * records each version applied. At open, `migrate` takes a session advisory lock
 * (`pg_advisory_lock`) before reading it, so nodes starting together apply each migration once,
 * one after the other: the second waits, then finds nothing left to do. Each migration runs in
 * its own transaction with its `schema_migrations` row (never half applied).
 *
 * The tables match the SQLite ledger (../sqlite/schema.ts, at its version 3): `usage` (one row per
 * request), `usage_hourly` / `usage_daily` (sums per period x label/provider/instance/key/status,
 * upserted in the same transaction as the rows) and `latency_daily` (per-day histograms), so the
 * engine-neutral SQL of ../sql.ts reads both. Times are epoch ms (BIGINT), flags 0/1 (SMALLINT).
 * `ledger_batches` (version 2) holds the id of every committed batch, written in the batch's own
 * transaction: over a network a commit can succeed while its acknowledgement is lost, and the
 * ledger then sends the same batch again; the store finds its id and does not write it twice.
 */
import type { PoolClient } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const rollupTable = (name: string): string => `CREATE TABLE ${name} (
    t BIGINT NOT NULL,
    label TEXT NOT NULL,
    provider TEXT NOT NULL,
    instance TEXT NOT NULL,
    api_key_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION,
    total_ms BIGINT NOT NULL,
    PRIMARY KEY (t, label, provider, instance, api_key_id, status)
  );`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'usage rows, hourly and daily rollups, daily latency histograms',
    sql: `
  CREATE TABLE usage (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    first_byte_at BIGINT,
    finished_at BIGINT NOT NULL,
    api_key_id TEXT NOT NULL,
    user_agent TEXT,
    endpoint TEXT NOT NULL,
    protocol TEXT NOT NULL,
    requested_model TEXT NOT NULL,
    alias TEXT,
    provider TEXT,
    instance TEXT,
    model TEXT,
    label TEXT NOT NULL,
    stream SMALLINT NOT NULL,
    status INTEGER NOT NULL,
    error_type TEXT,
    switches INTEGER NOT NULL DEFAULT 0,
    switch_reasons TEXT,
    session_reuse SMALLINT NOT NULL DEFAULT 0,
    prompt_tokens BIGINT,
    completion_tokens BIGINT,
    reasoning_tokens BIGINT,
    cached_tokens BIGINT,
    tokens_estimated SMALLINT NOT NULL DEFAULT 0,
    ttft_ms BIGINT,
    total_ms BIGINT NOT NULL,
    cost_usd DOUBLE PRECISION
  );
  CREATE INDEX usage_range ON usage (received_at, label, status, total_ms, ttft_ms);
  CREATE INDEX usage_status_id ON usage (status, id);
  CREATE INDEX usage_label_id ON usage (label, id);
  CREATE INDEX usage_instance_id ON usage (instance, id);
  CREATE INDEX usage_key_id ON usage (api_key_id, id);
  CREATE INDEX usage_request_id ON usage (request_id);
  CREATE INDEX usage_requested_id ON usage (requested_model, id);
  ${rollupTable('usage_hourly')}
  ${rollupTable('usage_daily')}
  CREATE TABLE latency_daily (
    t BIGINT NOT NULL,
    label TEXT NOT NULL,
    kind SMALLINT NOT NULL, -- 0 total time, 1 time to first byte
    bucket INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (t, label, kind, bucket)
  );`,
  },
  {
    version: 2,
    name: 'batch ids: a batch sent again after a lost commit acknowledgement is not written twice',
    sql: `
  CREATE TABLE ledger_batches (
    id TEXT PRIMARY KEY,
    committed_at BIGINT NOT NULL
  );
  CREATE INDEX ledger_batches_committed ON ledger_batches (committed_at);`,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** The advisory lock key every relay node takes while migrating ('RLDG' as a number). */
export const MIGRATION_LOCK = 0x524c4447;

export class NewerSchemaError extends Error {}

/**
 * Bring the database to SCHEMA_VERSION on `client` (a connection of its own: the advisory lock
 * belongs to its session). Throws NewerSchemaError when the database is newer than this build.
 */
export async function migrate(client: PoolClient, migrations: readonly Migration[] = MIGRATIONS): Promise<{ from: number; to: number }> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    const r = await client.query('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations');
    const from = Number(r.rows[0].v);
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (from > latest) {
      throw new NewerSchemaError(`usage database is schema version ${from}, newer than this build understands (${latest})`);
    }
    for (const m of migrations) {
      if (m.version <= from) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }
    return { from, to: Math.max(from, latest) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
  }
}
