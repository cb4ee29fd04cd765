/**
 * The processes the bench measures, each in its own process so its RSS and CPU can be read:
 * the relay as `npm run serve` runs it (the compiled bundle dist/cli/serve.mjs, default
 * configuration: ledger on, info logs on, written as JSON lines to a file descriptor on /dev/null)
 * and the peer, Portkey's gateway from npm (`@portkey-ai/gateway`, headless, OpenAI provider with
 * a custom host pointing at the same mock upstream).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');

export interface Proc {
  name: string;
  url: string;
  pid: number;
  child: ChildProcess;
  rssMb(): number;
  cpuMs(): number;
  stop(): Promise<void>;
}

export function rssOf(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

/** utime + stime of `pid`, ms (clock ticks of 10 ms). */
export function cpuOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

function stopper(child: ChildProcess, after?: () => void): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      const done = () => {
        after?.();
        resolve();
      };
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    });
}

function firstLine(child: ChildProcess, what: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume(); // anything later is drained, not kept
        resolve(buf.slice(0, nl));
      }
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before it was ready`)));
  });
}

export const RELAY_KEY = 'sk-relay-bench-key-000000000000';

/**
 * The relay as `npm run serve` runs it: bin/serve-build.mjs builds dist/cli/serve.mjs when its
 * sources changed, then `node <flags> dist/cli/serve.mjs --port 0` (the gateway process the
 * launcher bin/serve.mjs starts, without the launcher: its pid is the one measured; `nodeFlags`
 * normally GATEWAY_NODE_FLAGS of bin/serve-flags.mjs) with a config file naming the
 * mock as an OpenAI-compatible provider. Env: BENCH_LEDGER=0 / BENCH_LOG_LEVEL=warn / BENCH_INSPECTOR=0 to
 * see what the ledger / the request log / the request inspector cost; `extraArgs` e.g. ['--cpu-prof', ...] go before the script.
 */
export async function startRelay(upstream: string, nodeFlags: string[], extraEnv: Record<string, string> = {}): Promise<Proc> {
  const { ensureServeBuild } = (await import(pathToFileURL(join(root, 'bin', 'serve-build.mjs')).href)) as { ensureServeBuild(): Promise<string> };
  const bundle = await ensureServeBuild();
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const config = {
    server: { logLevel: process.env.BENCH_LOG_LEVEL ?? 'info' },
    providers: [{ name: 'mock', type: 'openai', baseUrl: upstream, models: ['m'], maxConcurrency: 1024 }],
    limits: { maxInFlight: 2048, perKeyConcurrency: 2048, perKeyQueue: 4096, queueTimeoutMs: 60000 },
    ledger: { enabled: process.env.BENCH_LEDGER !== '0' },
    ...(process.env.BENCH_INSPECTOR === '0' ? { inspector: { enabled: false } } : {}),
    lingma: { attach: 'off' },
  };
  const configFile = join(dataDir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  const logFd = openSync('/dev/null', 'w');
  const child = spawn(process.execPath, [...nodeFlags, bundle, '--config', configFile, '--data-dir', dataDir, '--port', '0'], {
    cwd: root,
    env: { ...process.env, RELAY_API_KEYS: RELAY_KEY, RELAY_LOG_FORMAT: 'json', RELAY_EXIT_WITH_PARENT: '1', NODE_ENV: 'production', ...extraEnv },
    stdio: ['ignore', 'pipe', logFd],
  });
  closeSync(logFd);
  const line = await firstLine(child, 'the relay');
  const m = /^relay listening on (\S+)$/.exec(line);
  if (!m) throw new Error(`unexpected relay output: ${line}`);
  const pid = child.pid!;
  return {
    name: 'relay',
    url: m[1],
    pid,
    child,
    rssMb: () => rssOf(pid),
    cpuMs: () => cpuOf(pid),
    stop: stopper(child, () => rmSync(dataDir, { recursive: true, force: true })),
  };
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/**
 * Portkey's gateway (`npx @portkey-ai/gateway --headless`), node defaults, production mode. Its
 * requests carry `x-portkey-provider: openai` and `x-portkey-custom-host: <mock>/v1`
 * (`portkeyHeaders`). ./portkey-preload.mjs works around its Node 20 streaming bug (see there).
 */
export async function startPortkey(): Promise<Proc> {
  const port = await freePort();
  const entry = join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const child = spawn(process.execPath, ['--import', pathToFileURL(join(here, 'portkey-preload.mjs')).href, entry, `--port=${port}`, '--headless'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (exited) throw new Error('the Portkey gateway exited at start');
    try {
      const r = await fetch(`${url}/`);
      if (r.ok) {
        await r.text();
        break;
      }
    } catch {
      /* not listening yet */
    }
    if (i > 300) throw new Error('the Portkey gateway did not start within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid!;
  return { name: 'portkey', url, pid, child, rssMb: () => rssOf(pid), cpuMs: () => cpuOf(pid), stop: stopper(child) };
}

export function portkeyHeaders(upstream: string): Record<string, string> {
  return { 'content-type': 'application/json', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream, authorization: 'Bearer sk-bench-unused' };
}
