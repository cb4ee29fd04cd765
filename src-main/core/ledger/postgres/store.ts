/**
 * `LedgerStore` over PostgreSQL (team mode: `cluster.postgresUrl` / RELAY_POSTGRES_URL): every
 * relay node writes its rows to one database and reads the team's usage from it. `pg` is
 * imported here lazily, at `open()`, so a single-node relay never loads it.
 *
 * Writes: one batch per transaction on one pooled connection: its id (`ledger_batches`: a batch
 * sent again after a lost commit acknowledgement is not written twice), the rows as a multi-row insert
 * (`unnest` of one array per column: one statement whatever the batch size), then the hourly and
 * daily rollups and the latency histograms as upserts. The upsert rows are sorted by key, so two
 * nodes adding to the same rollup rows lock them in the same order (no deadlock between them).
 * Reads: ./queries.ts over the same pool, with the engine-neutral SQL of ../sql.ts.
 *
 * An unreachable server (refused, timed out, shutting down, out of connections) is a retryable
 * `StoreFailure` naming the server (never its password): the ledger turns degraded with that
 * reason, keeps its bounded queue, and retries; pooled connections are made again as needed.
 */
import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { redactUrl } from '../../cluster/url';
import { errors, RelayError } from '../../errors';
import { DAY, HOUR, latencyBins, rollUp, type LedgerRow, type RollupRow } from '../rows';
import { camel, LATENCY_CONFLICT_SQL, RETENTION_SQL, ROLLUP_KEY, ROLLUP_SUMS, rollupConflictSql, USAGE_COLUMNS } from '../sql';
import { StoreFailure, type LedgerStore } from '../store';
import { PgQueries, positional } from './queries';
import { migrate, NewerSchemaError } from './schema';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/db` (the password never leaves this module). */
  url: string;
  /** Shown as the connections' application_name (`relay-<node>`). */
  nodeName?: string;
  /** Connections in the pool. Default 4. */
  maxConnections?: number;
  /** How long to wait for a connection (ms). Default 5000. */
  connectTimeoutMs?: number;
  /** Ranges with more successful requests than this get histogram percentiles. */
  exactPercentileRows?: number;
}

/** Column types for the `unnest` of a batch (one array parameter per column). */
const USAGE_TYPES: Record<(typeof USAGE_COLUMNS)[number], string> = {
  request_id: 'text', received_at: 'bigint', first_byte_at: 'bigint', finished_at: 'bigint', api_key_id: 'text',
  user_agent: 'text', endpoint: 'text', protocol: 'text', requested_model: 'text', alias: 'text', provider: 'text',
  instance: 'text', model: 'text', label: 'text', stream: 'smallint', status: 'integer', error_type: 'text',
  switches: 'integer', switch_reasons: 'text', session_reuse: 'smallint', prompt_tokens: 'bigint',
  completion_tokens: 'bigint', reasoning_tokens: 'bigint', cached_tokens: 'bigint', tokens_estimated: 'smallint',
  ttft_ms: 'bigint', total_ms: 'bigint', cost_usd: 'float8',
};
const ROLLUP_COLUMNS = [...ROLLUP_KEY, ...ROLLUP_SUMS];
const ROLLUP_TYPES: Record<string, string> = { label: 'text', provider: 'text', instance: 'text', api_key_id: 'text', status: 'integer', cost_usd: 'float8' };

const unnest = (cols: readonly string[], types: (c: string) => string): string =>
  `SELECT * FROM unnest(${cols.map((c, i) => `$${i + 1}::${types(c)}[]`).join(', ')})`;
const INSERT_ROWS = `INSERT INTO usage (${USAGE_COLUMNS.join(', ')}) ${unnest(USAGE_COLUMNS, (c) => USAGE_TYPES[c as keyof typeof USAGE_TYPES])}`;
const insertRollups = (table: string): string =>
  `INSERT INTO ${table} (${ROLLUP_COLUMNS.join(', ')}) ${unnest(ROLLUP_COLUMNS, (c) => ROLLUP_TYPES[c] ?? 'bigint')} ${rollupConflictSql(table)}`;
const INSERT_LATENCY = `INSERT INTO latency_daily (t, label, kind, bucket, n) ${unnest(['t', 'label', 'kind', 'bucket', 'n'], (c) => (c === 'label' ? 'text' : c === 'kind' ? 'smallint' : c === 'bucket' ? 'integer' : 'bigint'))} ${LATENCY_CONFLICT_SQL}`;

/** One array per column, from objects keyed by the camelCase column names. */
function columns<T extends object>(rows: readonly T[], cols: readonly string[]): unknown[][] {
  return cols.map((c) => rows.map((r) => (r as Record<string, unknown>)[camel(c)] ?? null));
}
const rollupOrder = (a: RollupRow, b: RollupRow): number =>
  a.t - b.t || cmp(a.label, b.label) || cmp(a.provider, b.provider) || cmp(a.instance, b.instance) || cmp(a.apiKeyId, b.apiKeyId) || a.status - b.status;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const RETRYABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', '3D000', '40001', '40P01']);

/** A pg error as a reason for people (the server named without its password) and whether a retry may help. */
export function describePg(e: unknown, where: string): StoreFailure {
  if (e instanceof StoreFailure) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof NewerSchemaError) return new StoreFailure(msg, false);
  const code = String((e as { code?: string })?.code ?? '');
  if (RETRYABLE_CODES.has(code) || /^(08|53|57P)/.test(code) || /timeout|terminated|Connection ended|not queryable/i.test(msg)) {
    return new StoreFailure(`usage database (PostgreSQL at ${where}) is unreachable: ${msg}`, true);
  }
  if (code.startsWith('28')) return new StoreFailure(`usage database (PostgreSQL at ${where}) refused the login: ${msg}`, true);
  return new StoreFailure(`usage database error (PostgreSQL at ${where}): ${msg}`, false);
}

export function createPostgresStore(o: PostgresStoreOptions): LedgerStore {
  const location = redactUrl(o.url);
  let pool: Pool | null = null;
  let queries: PgQueries | null = null;
  let closed = false;
  /** Writes under way: `close()` lets them finish before the pool ends. */
  const pending = new Set<Promise<unknown>>();

  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    void p.then(() => pending.delete(p), () => pending.delete(p));
    return p;
  };

  const makePool = async (): Promise<Pool> => {
    const mod = await import('pg');
    const pg = (mod as unknown as { default?: typeof mod }).default ?? mod;
    const bigToNumber = (v: string): number => Number(v);
    const config: PoolConfig = {
      connectionString: o.url,
      max: o.maxConnections ?? 4,
      connectionTimeoutMillis: o.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      application_name: `relay-${o.nodeName ?? 'node'}`.slice(0, 63),
      keepAlive: true,
      // A server that stops answering (not refusing) must not hold a batch forever: the ledger
      // turns degraded and retries.
      query_timeout: 60_000,
      // BIGINT counts and NUMERIC sums as numbers, like SQLite gives them (far below 2^53 here).
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === 20 || oid === 1700 ? bigToNumber : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    };
    const p = new pg.Pool(config);
    // An idle connection the server dropped (restart, network) must not crash the relay: the
    // next query makes a new one, or fails and the ledger retries.
    p.on('error', () => {});
    return p;
  };

  const conn = async (): Promise<PoolClient> => {
    if (!pool) throw new StoreFailure('usage database is not open', true);
    try {
      return await pool.connect();
    } catch (e) {
      throw describePg(e, location);
    }
  };

  const inTransaction = async (client: PoolClient, work: () => Promise<void>): Promise<void> => {
    let broken = false;
    try {
      await client.query('BEGIN');
      await work();
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => { broken = true; });
      throw describePg(e, location);
    } finally {
      client.release(broken);
    }
  };

  /** One id per batch the ledger hands over (it hands the same array again after a failure). */
  const batchIds = new WeakMap<LedgerRow[], string>();

  const append = async (rows: LedgerRow[]): Promise<void> => {
    if (!rows.length) return;
    let id = batchIds.get(rows);
    if (!id) {
      id = randomUUID();
      batchIds.set(rows, id);
    }
    const client = await conn();
    await inTransaction(client, async () => {
      // A batch whose commit went through unacknowledged is already there: nothing more to write.
      const fresh = await client.query('INSERT INTO ledger_batches (id, committed_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [id, Date.now()]);
      if (!fresh.rowCount) return;
      await client.query(INSERT_ROWS, columns(rows, USAGE_COLUMNS));
      for (const [table, size] of [['usage_hourly', HOUR], ['usage_daily', DAY]] as const) {
        await client.query(insertRollups(table), columns(rollUp(rows, size).sort(rollupOrder), ROLLUP_COLUMNS));
      }
      const bins = latencyBins(rows).sort((a, b) => a[0] - b[0] || cmp(a[1], b[1]) || a[2] - b[2] || a[3] - b[3]);
      if (bins.length) await client.query(INSERT_LATENCY, [0, 1, 2, 3, 4].map((i) => bins.map((b) => b[i])));
    });
  };

  const deleteBefore = async (cutoff: number, batchRows: number): Promise<number> => {
    if (!pool) throw new StoreFailure('usage database is not open', true);
    let total = 0;
    for (const { sql, batched } of RETENTION_SQL) {
      const stmt = positional({ sql, params: batched ? { cutoff, batch: batchRows } : { cutoff } });
      for (;;) {
        if (closed) return total;
        // Each statement on its own (autocommit): short locks, batches from other nodes get through between them.
        const r = await pool.query(stmt.text, stmt.values).catch((e: unknown) => { throw describePg(e, location); });
        const n = r.rowCount ?? 0;
        if (batched) total += n;
        if (batched ? n < batchRows : n === 0) break;
      }
    }
    // Batch ids older than the cutoff: no batch that old can be sent again.
    await pool.query('DELETE FROM ledger_batches WHERE committed_at < $1', [cutoff]).catch((e: unknown) => { throw describePg(e, location); });
    return total;
  };

  return {
    location,
    async open() {
      if (closed) throw new StoreFailure('usage database is closed', false);
      try {
        pool ??= await makePool();
      } catch (e) {
        throw new StoreFailure(`usage database driver (pg) cannot load: ${e instanceof Error ? e.message : String(e)}`, false);
      }
      const client = await conn();
      let broken = false;
      try {
        await migrate(client);
      } catch (e) {
        broken = true;
        throw describePg(e, location);
      } finally {
        client.release(broken);
      }
      queries = new PgQueries(pool, o.exactPercentileRows);
    },
    append: (rows) => track(append(rows)),
    deleteBefore: (cutoff, batchRows) => track(deleteBefore(cutoff, batchRows)),
    async close() {
      if (closed) return;
      closed = true;
      // Commits under way finish (they are the ledger's last flush); then the connections go.
      await Promise.allSettled([...pending]);
      const p = pool;
      pool = null;
      queries = null;
      await p?.end().catch(() => undefined);
    },
    // Read at open: a failure is the open's (retryable when the server is away).
    tokensByKeySince: (since) => read().then((q) => q.tokensByKeySince(since)).catch((e: unknown) => { throw describePg(e, location); }),
    totals: (q) => reading((r) => r.totals(q)),
    series: (q) => reading((r) => r.series(q)),
    latency: (q) => reading((r) => r.latency(q)),
    recent: (q) => reading((r) => r.recent(q)),
    exportCsv(q) {
      const r = queries;
      if (!r) throw readFailure(new StoreFailure('usage database is not open', true));
      return (async function* () {
        try {
          yield* r.exportCsv(q);
        } catch (e) {
          throw readFailure(e);
        }
      })();
    },
  };

  async function read(): Promise<PgQueries> {
    if (!queries) throw new StoreFailure('usage database is not open', true);
    return queries;
  }

  async function reading<T>(run: (q: PgQueries) => Promise<T>): Promise<T> {
    try {
      return await run(await read());
    } catch (e) {
      throw readFailure(e);
    }
  }

  /** A read that failed: a 503 naming why (a bad filter stays the 400 it is). */
  function readFailure(e: unknown): Error {
    if (e instanceof RelayError) return e;
    return errors.unavailable(`The usage ledger is unavailable: ${describePg(e, location).reason}.`, { code: 'ledger_unavailable', retryable: true });
  }
}
