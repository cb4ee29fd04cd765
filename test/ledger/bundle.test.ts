/**
 * The ledger's worker thread in the built artifacts, not only from source:
 * - the CLI bundle (bin/serve-build.mjs → serve.mjs + ledger-worker.mjs), started as a real child
 *   process: N answered requests, SIGTERM, N rows (the batch is held back by the config, so only
 *   the shutdown's awaited final flush can have written them);
 * - the same bundle degraded: a corrupt database, and a worker file that cannot be loaded: it
 *   serves on and the admin status says why;
 * - the Electron build (test/tools/build-main.mjs → dist/electron/ledger-worker.cjs), loaded from a
 *   CJS bundle made with the same define, as main.cjs finds it.
 */
import Database from 'better-sqlite3';
import { build } from 'esbuild';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { buildServe } from '../../bin/serve-build.mjs';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const root = join(__dirname, '..', '..');
// Inside the repository: bundles keep packages external, resolved from node_modules up the tree.
mkdirSync(join(root, 'dist'), { recursive: true });
const scratch = mkdtempSync(join(root, 'dist', 'ledger-bundle-test-'));
const cliOut = join(scratch, 'cli');
const KEY = 'sk-relay-ledger-bundle-0001';
const ADMIN = 'relay-admin-ledger-bundle-0001';

let up: FakeUpstream;
const children: ChildProcess[] = [];

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1'] });
  await buildServe(cliOut);
}, 120_000);
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  await up?.close();
  rmSync(scratch, { recursive: true, force: true });
  cleanupTempDirs();
});

interface Served {
  child: ChildProcess;
  url: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start a bundle's serve.mjs on a free port with a config file; resolves once it listens. */
async function serve(bundle: string, dir: string, ledger: Record<string, unknown>): Promise<Served> {
  const config = {
    server: { apiKeys: [KEY], adminToken: ADMIN },
    providers: [{ name: 'up', type: 'openai', baseUrl: up.url, models: ['m1'] }],
    ledger,
  };
  writeFileSync(join(dir, 'relay.json'), JSON.stringify(config));
  const child = spawn(process.execPath, [bundle, '--config', join(dir, 'relay.json'), '--data-dir', join(dir, 'data'), '--port', '0'], {
    cwd: root,
    env: { ...process.env, RELAY_CONFIG: '', RELAY_DATA_DIR: '', RELAY_API_KEYS: '', LINGMA_ACCOUNTS: '', RELAY_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      const m = /relay listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(`exited before listening; stderr: ${err.slice(-2000)}`)));
  });
  return { child, url, stderr: () => err, exited };
}

const chat = (url: string, i: number): Promise<Response> => fetch(`${url}/v1/chat/completions`, {
  method: 'POST',
  headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'up/m1', messages: [{ role: 'user', content: `hello ${i}` }] }),
});

const usageStatus = async (url: string): Promise<{ state: string; reason?: string; written: number; dropped: number }> =>
  (await (await fetch(`${url}/admin/usage/status`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as never;

const countRows = (dbPath: string): number => {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('CLI bundle', () => {
  it('emits the worker next to the bundle', () => {
    expect(existsSync(join(cliOut, 'serve.mjs'))).toBe(true);
    expect(existsSync(join(cliOut, 'ledger-worker.mjs'))).toBe(true);
  });

  it('SIGTERM loses no row: N answered requests are N rows, written by the awaited final flush', async () => {
    const dir = tempDir();
    // Nothing is written before the stop: no batch fills and the timer is an hour away.
    const s = await serve(join(cliOut, 'serve.mjs'), dir, { flushIntervalMs: 3_600_000, batchSize: 100_000 });
    const N = 120;
    let answered = 0;
    for (let i = 0; i < N; i += 12) {
      const batch = await Promise.all(Array.from({ length: 12 }, (_, j) => chat(s.url, i + j)));
      for (const r of batch) {
        expect(r.status).toBe(200);
        await r.text();
        answered++;
      }
    }
    expect(await usageStatus(s.url)).toMatchObject({ state: 'ok', written: 0 });
    s.child.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 0, signal: null });
    expect(countRows(join(dir, 'data', 'usage.db'))).toBe(answered);
  }, 120_000);

  it('a corrupt database: serves on, the status says why', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'data'), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'data', 'usage.db'), Buffer.alloc(8192, 'this is not a sqlite database '), { mode: 0o600 });
    const s = await serve(join(cliOut, 'serve.mjs'), dir, {});
    const r = await chat(s.url, 1);
    expect(r.status).toBe(200);
    await r.text();
    // The store opens in its worker thread, after the gateway listens: wait for its verdict.
    let st = await usageStatus(s.url);
    for (const until = Date.now() + 20_000; st.state !== 'degraded' && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 100));
      st = await usageStatus(s.url);
    }
    expect(st).toMatchObject({ state: 'degraded' });
    expect(st.reason).toMatch(/corrupt|not a SQLite database/i);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }, 120_000);

  it('a worker that cannot load: serves on, the status names the failure', async () => {
    const dir = tempDir();
    // A copy of the bundle without its worker file next to it.
    const lonely = join(scratch, 'no-worker');
    mkdirSync(lonely, { recursive: true });
    copyFileSync(join(cliOut, 'serve.mjs'), join(lonely, 'serve.mjs'));
    const s = await serve(join(lonely, 'serve.mjs'), dir, {});
    const r = await chat(s.url, 1);
    expect(r.status).toBe(200);
    await r.text();
    let st = await usageStatus(s.url);
    for (let i = 0; i < 200 && st.state !== 'degraded'; i++) {
      await new Promise((res) => setTimeout(res, 25));
      st = await usageStatus(s.url);
    }
    expect(st.state).toBe('degraded');
    expect(st.reason).toMatch(/usage ledger worker (failed|stopped).*ledger-worker\.mjs/);
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }, 120_000);
});

describe('Electron bundle', () => {
  it('build-main emits ledger-worker.cjs, and a CJS bundle with the same define writes through it', async () => {
    const b = spawnSync(process.execPath, [join(root, 'test', 'tools', 'build-main.mjs')], { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(b.status, b.stderr).toBe(0);
    const electronDir = join(root, 'dist', 'electron');
    expect(existsSync(join(electronDir, 'ledger-worker.cjs'))).toBe(true);
    // A probe bundled like main.cjs (CJS, packages external, the define) placed next to it.
    const probe = join(electronDir, `ledger-probe-${process.pid}.cjs`);
    const dir = tempDir();
    try {
      await build({
        stdin: {
          contents: `
            const { createLedger } = require('./src-main/core/ledger/index');
            const pino = require('pino');
            (async () => {
              const ledger = createLedger({ dbPath: process.argv[2], log: pino({ level: 'silent' }), config: {
                enabled: true, retentionDays: 90, prices: {}, flushIntervalMs: 3600000, batchSize: 100000, queueMax: 1000, onDegraded: 'open' } });
              const now = Date.now();
              for (let i = 0; i < 25; i++) ledger.record({ requestId: 'e' + i, receivedAt: now, finishedAt: now, apiKeyId: 'k',
                endpoint: '/v1/chat/completions', protocol: 'openai-chat', requestedModel: 'm', stream: false, status: 200,
                switches: 0, switchReasons: [], sessionReuse: false, tokensEstimated: false, totalMs: 1 });
              await ledger.close();
              process.stdout.write(JSON.stringify(ledger.status()));
            })();`,
          resolveDir: root,
          loader: 'ts',
        },
        outfile: probe,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        packages: 'external',
        logLevel: 'error',
        define: { __RELAY_LEDGER_WORKER__: '"ledger-worker.cjs"' },
      });
      const dbPath = join(dir, 'usage.db');
      const r = spawnSync(process.execPath, [probe, dbPath], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ state: 'ok', written: 25, dropped: 0 });
      expect(countRows(dbPath)).toBe(25);
    } finally {
      rmSync(probe, { force: true });
    }
  }, 180_000);
});
