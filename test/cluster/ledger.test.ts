/**
 * Team mode, the ledger in PostgreSQL (`cluster.postgresUrl` alone, no Redis): a private server
 * (initdb + pg_ctl, started here) behind three relay nodes in front of one fake OpenAI upstream.
 * - rows from every node land in the one database, and every node's `/admin/usage` answers the
 *   team's totals, equal to the requests sent;
 * - the real CLI (`serve`, the compiled gateway `npm run serve` runs), stopped with SIGTERM while
 *   its rows still wait in the queue, and started again: not one row lost;
 * - the database stops: requests are still served, `/admin/state` says the ledger is degraded
 *   and why; it comes back: the queued rows land.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { NO_POSTGRES, postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';
import { chat, startNode, waitFor, type Node } from './nodes';

const hasPostgres = !!postgresBinDir();
if (!hasPostgres) console.warn(NO_POSTGRES);

const KEY = 'sk-team-ledger-000000000001';
const ADMIN = 'admin-token-team-ledger-0001';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Send `n` chats to `url`, each marked with `agent` as its user agent; all must answer 200. */
async function send(url: string, n: number, agent: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await chat(url, KEY, {}, { 'user-agent': agent });
    await r.arrayBuffer();
    expect(r.status).toBe(200);
  }
}

describe.skipIf(!hasPostgres)('team mode: the usage ledger in PostgreSQL', () => {
  let server: TestPostgres;
  let url: string;
  let db: pg.Client;
  let up: FakeUpstream;
  let nodes: Node[] = [];
  let config: Record<string, unknown>;

  const rowsBy = async (agent: string): Promise<number> =>
    Number((await db.query('SELECT COUNT(*) AS n FROM usage WHERE user_agent = $1', [agent])).rows[0].n);

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase('team');
    db = new pg.Client({ connectionString: url });
    db.on('error', () => {}); // the outage test stops the server under it
    up = await startFakeOpenAI({ models: ['m1'] });
    config = {
      server: { apiKeys: [{ key: KEY, name: 'team' }], adminToken: ADMIN },
      providers: [{ name: 'up', type: 'openai', baseUrl: up.url }],
      limits: { keepAliveMs: 1000, shutdownGraceMs: 500 },
      ledger: { flushIntervalMs: 20 },
    };
    // Postgres alone: no Redis URL.
    nodes = await Promise.all(['a', 'b', 'c'].map((n) => startNode(n, undefined, config, { cluster: { postgresUrl: url } })));
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.relay.stop()));
    await db?.end().catch(() => undefined);
    await up?.close();
    await server?.stop();
    cleanupTempDirs();
  });

  it('rows from every node land in PostgreSQL; every node answers the team totals', async () => {
    const from = Date.now() - 1000;
    const sent = { a: 7, b: 5, c: 4 };
    await Promise.all(nodes.map((n) => send(n.url, sent[n.name as keyof typeof sent], `node-${n.name}`)));
    await Promise.all(nodes.map((n) => n.relay.ledger.flush()));
    for (const n of nodes) expect(await rowsBy(`node-${n.name}`)).toBe(sent[n.name as keyof typeof sent]);
    for (const n of nodes) {
      const res = await fetch(`${n.url}/admin/usage/totals?from=${from}&to=${Date.now() + 1000}`, { headers: { 'x-admin-token': ADMIN } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { total: { requests: number } };
      expect(body.total.requests).toBe(16);
      expect(n.relay.ledger.status()).toMatchObject({ state: 'ok', dbPath: expect.stringMatching(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/team$/) });
    }
  });

  it('a node stopped with SIGTERM and started again loses no row', async () => {
    const dataDir = tempDir('relay-serve-');
    const file = join(dataDir, 'config.json');
    // Rows only leave the queue on a full batch or at stop: the SIGTERM must flush them.
    writeFileSync(file, JSON.stringify({ ...config, ledger: { flushIntervalMs: 3_600_000, batchSize: 10_000 }, cluster: { postgresUrl: url, nodeName: 'cli' } }));
    // The bundle `npm run serve` runs (built once, shared with the CLI tests): it starts in about
    // half the time of the TypeScript sources under tsx.
    const { ensureServeBuild } = (await import(pathToFileURL(join(ROOT, 'bin', 'serve-build.mjs')).href)) as { ensureServeBuild(): Promise<string> };
    const serve = await ensureServeBuild();
    const start = (): Promise<{ child: ChildProcess; url: string }> => {
      const child = spawn(process.execPath, [serve, '--config', file, '--data-dir', dataDir, '--port', '0'], {
        cwd: ROOT,
        env: { ...process.env, RELAY_EXIT_WITH_PARENT: '0', RELAY_LOG_FORMAT: 'json', LINGMA_BIN: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stderr!.resume();
      return new Promise((resolve, reject) => {
        let out = '';
        child.stdout!.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /relay listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve({ child, url: m[1] });
        });
        child.once('exit', (code) => reject(new Error(`serve exited (${code}) before it listened`)));
      });
    };
    const stop = (child: ChildProcess): Promise<number | null> => new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
    for (const [run, n] of [[1, 23], [2, 9]] as const) {
      const node = await start();
      await send(node.url, n, `restart-${run}`);
      expect(await rowsBy(`restart-${run}`)).toBe(0); // still queued in the node
      expect(await stop(node.child)).toBe(0);
      expect(await rowsBy(`restart-${run}`)).toBe(n);
    }
  }, 120_000);

  // Last: it stops the database.
  it('database down: requests served, the ledger degraded with its reason; back: the queued rows land', async () => {
    const [a] = nodes;
    await server.halt();
    try {
      await send(a.url, 3, 'outage');
      await waitFor(() => a.relay.ledger.status().state === 'degraded', 'the ledger to turn degraded');
      const state = (await (await fetch(`${a.url}/admin/state`, { headers: { 'x-admin-token': ADMIN } })).json()) as { ledger: { state: string; reason: string; queued: number } };
      expect(state.ledger).toMatchObject({ state: 'degraded', queued: 3 });
      expect(state.ledger.reason).toMatch(/usage database \(PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/team\) is unreachable/);
    } finally {
      await server.resume();
    }
    await waitFor(() => a.relay.ledger.status().state === 'ok' && a.relay.ledger.status().queued === 0, 'the queued rows to land', 30_000);
    await db.end().catch(() => undefined);
    db = new pg.Client({ connectionString: url });
    await db.connect();
    expect(await rowsBy('outage')).toBe(3);
  }, 60_000);
});
