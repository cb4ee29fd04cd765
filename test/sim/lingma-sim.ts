/**
 * A spawnable fake of the Lingma local service binary, written from shared/spec/lingma-protocol.md.
 * See ./README.md for the command line, the control endpoints and the environment variables.
 * Parts: sim-state.ts (faults, stats, models), sim-conn.ts (framing, shared methods),
 * dialects/chat.ts (legacy `chat/ask`), dialects/session.ts (`session/*`).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { listenIpc } from './ipc-listen';
import { Conn } from './sim-conn';
import { env, faults, issuedStates, log, readUser, resetStats, sessions, stats, unanswered, userFile, VERSION, writeUser, type Faults, type ReplyPlan } from './sim-state';

// ---------------------------------------------------------------- command line
function parseArgs(argv: string[]): { cmd: string; flags: Record<string, string> } {
  const [cmd = '', ...rest] = argv;
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (i + 1 < rest.length && !rest[i + 1].startsWith('-')) flags[a.slice(2)] = rest[++i];
      else flags[a.slice(2)] = 'true';
    } else if (a === '-o' && i + 1 < rest.length) {
      flags.o = rest[++i];
    }
  }
  return { cmd, flags };
}

const { cmd, flags } = parseArgs(process.argv.slice(2));

if (cmd === 'status') {
  const workDir = flags.workDir;
  if (!workDir) {
    process.stderr.write('status: --workDir is required\n');
    process.exit(2);
  }
  const u = readUser(workDir);
  process.stdout.write(JSON.stringify({ logged_in: !!u, username: u?.name ?? '', user_type: u?.userType ?? '', version: VERSION }) + '\n');
  process.exit(0);
}
if (cmd !== 'start') {
  process.stderr.write(`unknown command '${cmd}'; use: start --workDir=<dir> --socketPort=<n> --httpPort=<m> | status -o json --workDir <dir>\n`);
  process.exit(2);
}

const workDir = flags.workDir;
const socketPort = Number(flags.socketPort);
const httpPort = Number(flags.httpPort);
if (!workDir || !Number.isInteger(socketPort) || !Number.isInteger(httpPort)) {
  process.stderr.write('start: --workDir, --socketPort and --httpPort are required\n');
  process.exit(2);
}
if (process.env.LINGMA_SIM_FAIL_START === '1') {
  process.stderr.write('fatal: simulated start-up failure\n');
  process.exit(1);
}
if (flags.transportType !== undefined && process.env.LINGMA_SIM_REJECT_TRANSPORT === '1') {
  // An older build that does not know the flag.
  process.stderr.write(`fatal: unknown flag --transportType\n`);
  process.exit(2);
}
Object.assign(env, { workDir, socketPort, httpPort, loginBase: process.env.LINGMA_SIM_LOGIN_BASE || env.loginBase, transportType: flags.transportType ?? null });
mkdirSync(join(workDir, 'cache'), { recursive: true });
if (process.env.LINGMA_SIM_LOGGED_IN_AS && !readUser(workDir)) writeUser(workDir, process.env.LINGMA_SIM_LOGGED_IN_AS);

// ---------------------------------------------------------------- faults
const DIALECTS = new Set(['chat', 'session', 'both']);
function applyControl(c: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(c)) {
    if (k === 'reset') {
      if (v) resetStats();
    } else if (k === 'login' && typeof v === 'string') {
      writeUser(workDir, v);
    } else if (k === 'logout' && v) {
      rmSync(userFile(workDir), { force: true });
    } else if (k === 'dropSockets' && v) {
      // Close every client connection; the process keeps running.
      setTimeout(() => {
        for (const c of conns) c.ws.terminate();
      }, 10);
    } else if (k === 'garbage' && v) {
      for (const c of conns) c.ws.send('%%% not a frame %%%\r\n\r\n');
    } else if (k === 'crashNow' && v) {
      log('simulated crash');
      process.exit(3);
    } else if (k === 'reply') {
      faults.reply = (v ?? {}) as ReplyPlan;
    } else if (k === 'finishStatus') {
      faults.finishStatus = Array.isArray(v) ? v.map(Number) : v == null ? [] : [Number(v)];
    } else if (k === 'dialect') {
      if (typeof v !== 'string' || !DIALECTS.has(v)) throw new Error(`dialect must be chat, session or both`);
      faults.dialect = v as Faults['dialect'];
    } else if (k in faults) {
      (faults as unknown as Record<string, unknown>)[k] = v;
    } else {
      throw new Error(`unknown control key '${k}'`);
    }
  }
}
if (flags.dialect) applyControl({ dialect: flags.dialect });
if (process.env.LINGMA_SIM_FAULTS) applyControl(JSON.parse(process.env.LINGMA_SIM_FAULTS) as Record<string, unknown>);

const conns = new Set<Conn>();

// ---------------------------------------------------------------- HTTP: callback + control
function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${body}</p></body></html>`);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (s += c));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

const http = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', `http://127.0.0.1:${httpPort}`);
  try {
    if (req.method === 'GET' && url.pathname === '/auth/callback') {
      stats.callbacks++;
      const state = url.searchParams.get('state') ?? '';
      const auth = url.searchParams.get('auth') ?? '';
      if (!issuedStates.has(state) || !auth) return page(res, 400, 'Login failed', 'The login request is unknown or incomplete.');
      let username = '';
      try {
        username = String((JSON.parse(Buffer.from(auth, 'base64url').toString('utf8')) as { username?: unknown }).username ?? '');
      } catch {
        /* handled below */
      }
      if (!username) return page(res, 400, 'Login failed', 'The login answer could not be read.');
      issuedStates.delete(state);
      writeUser(workDir, username);
      return page(res, 200, 'Login successful', 'You can close this window.');
    }
    if (req.method === 'GET' && url.pathname === '/__sim/stats') {
      const u = readUser(workDir);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ...stats,
          unanswered: unanswered.size,
          loggedIn: !!u,
          user: u?.name ?? null,
          sessions: sessions.size,
          dialect: faults.dialect,
          transportType: env.transportType,
          socketPort,
          httpPort,
          workDir,
        }),
      );
      return;
    }
    if (req.method === 'POST' && url.pathname === '/__sim/control') {
      const body = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
      applyControl(body);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true }));
      return;
    }
    page(res, 404, 'Not found', 'Nothing here.');
  } catch (e) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: false, error: (e as Error).message }));
  }
});

// ---------------------------------------------------------------- start
async function main(): Promise<void> {
  const delay = Number(process.env.LINGMA_SIM_START_DELAY_MS ?? 0);
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(httpPort, '127.0.0.1', () => resolve());
  });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: socketPort, perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    wss.once('error', reject);
    wss.once('listening', () => resolve());
  });
  wss.on('connection', (ws) => {
    stats.connections++;
    const c = new Conn(ws);
    conns.add(c);
    ws.on('close', () => conns.delete(c));
  });
  await listenIpc(flags.ipcPath, (ws) => wss.emit('connection', ws)); // --ipcPath: the same frames on a Unix socket / pipe (ipc-listen.ts)
  log(`listening socketPort=${socketPort} httpPort=${httpPort} workDir=${workDir} dialect=${faults.dialect}`);
  process.stdout.write(`Lingma ${VERSION} started\n`);
  const stop = (sig: string) => {
    if (process.env.LINGMA_SIM_IGNORE_SIGINT === '1' && sig === 'SIGINT') {
      log('ignoring SIGINT');
      return;
    }
    log(`stopping on ${sig}`);
    wss.close();
    http.close();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e) => {
  process.stderr.write(`fatal: ${(e as Error).message}\n`);
  process.exit(1);
});
