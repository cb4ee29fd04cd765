/**
 * `npm run serve -- configure <client> [--yes] [--restore] [--home DIR] [--model NAME] [serve flags]`:
 * the headless "Connect a client". Prints the diff of the client's settings file, asks y/N on a
 * terminal (or `--yes`), writes it with a backup in the data folder; `--restore` puts the backup
 * back. The relay's URL comes from the config (`--host`/`--port`/env/file, as `serve` reads it),
 * its key from the same key store the relay uses (config keys, RELAY_API_KEYS, `<data dir>/api-key`).
 * Exit codes: 0 done (or nothing to change), 1 refused/declined, 2 bad usage or unknown client.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import YAML from 'yaml';
import {
  applyClient, baseUrlOf, checkModelName, CLIENTS, clientById, defaultModel, planClient, restoreClient, targetOf,
} from '../core/clients/index';
import { ConfigError, loadConfig, parseServeArgs } from '../core/config/load';
import { ensureDataDir } from '../core/config/datadir';
import { KeyStore } from '../core/config/keys';
import type { Config } from '../core/config/schema';
import { isRelayError } from '../core/errors';

export const CONFIGURE_USAGE = `Usage: npm run serve -- configure <client> [--yes] [--restore] [--home DIR] [--model NAME] [--config FILE] [--data-dir DIR] [--host HOST] [--port N]

  <client>        ${CLIENTS.map((c) => `${c.id} (${c.title}: ~/${c.file.join('/')})`).join(', ')}
  --yes, -y       write without asking
  --restore       put back the file as it was before the relay wrote it
  --home DIR      the home folder whose settings are edited (default: yours)
  --model NAME    the relay model or alias the client asks for (default: the first plain alias)
  The relay address and API key are the ones \`npm run serve\` with the same flags uses.`;

export interface ConfigureIo {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Ask a yes/no question; undefined when there is no terminal to ask on. */
  ask?: (question: string) => Promise<string>;
  env?: NodeJS.ProcessEnv;
}

function terminalIo(): ConfigureIo {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    ask: process.stdin.isTTY && process.stdout.isTTY
      ? async (q) => {
          const rl = createInterface({ input: process.stdin, output: process.stdout });
          try {
            return await rl.question(q);
          } finally {
            rl.close();
          }
        }
      : undefined,
  };
}

function modelFromConfig(config: Config, dataDir: string): string | undefined {
  const aliases = Object.keys(config.aliases ?? {}).map((name) => ({ name }));
  const file = config.aliasesFile ?? join(dataDir, 'aliases.yaml');
  if (existsSync(file)) {
    try {
      const parsed = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
      const map = parsed && typeof parsed === 'object' && 'aliases' in parsed && parsed.aliases && typeof parsed.aliases === 'object' ? parsed.aliases : parsed;
      if (map && typeof map === 'object') aliases.push(...Object.keys(map).map((name) => ({ name })));
    } catch {
      // an unreadable aliases file: the relay itself reports it; fall back to provider models
    }
  }
  const models = (config.providers ?? []).flatMap((p) => (p.models ?? []).map((m) => `${p.name}/${m}`));
  return defaultModel(aliases, models);
}

export async function runConfigure(argv: string[], io: ConfigureIo = terminalIo()): Promise<number> {
  let clientId: string | undefined;
  let yes = false;
  let restore = false;
  let home: string | undefined;
  let model: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? (i + 1 < argv.length && !argv[i + 1].startsWith('-') ? argv[++i] : undefined);
    if (name === '--yes' || name === '-y') yes = true;
    else if (name === '--restore') restore = true;
    else if (name === '--help' || name === '-h') { io.out(`${CONFIGURE_USAGE}\n`); return 0; }
    else if (name === '--home') home = value();
    else if (name === '--model') model = value();
    else if (!a.startsWith('-') && clientId === undefined) clientId = a;
    else {
      rest.push(a);
      if (inline === undefined && i + 1 < argv.length && !argv[i + 1].startsWith('-')) rest.push(argv[++i]);
    }
  }
  if (!clientId) { io.err(`Which client? ${CONFIGURE_USAGE}\n`); return 2; }
  let writer;
  try {
    writer = clientById(clientId);
  } catch (e) {
    io.err(`${(e as Error).message}\n`);
    return 2;
  }
  if (home !== undefined && (home === '' || !isAbsolute(resolve(home)))) { io.err('--home: expected a folder\n'); return 2; }
  const homeDir = home !== undefined ? resolve(home) : homedir();

  let loaded;
  try {
    loaded = loadConfig({ flags: parseServeArgs(rest), env: io.env });
  } catch (e) {
    if (e instanceof ConfigError) { io.err(`${e.message}\n\n${CONFIGURE_USAGE}\n`); return 2; }
    throw e;
  }
  const { config, dataDir } = loaded;
  try {
    ensureDataDir(dataDir);
    if (restore) {
      const r = restoreClient(writer, { home: homeDir, dataDir });
      io.out(r.diff);
      io.out(`${r.action === 'restored' ? 'restored' : 'removed (it did not exist before)'}: ${r.path}\n`);
      return 0;
    }
    if (config.server.port === 0) { io.err('The relay is configured with port 0 (any free port): pass --port with the port it listens on.\n'); return 2; }
    const keys = KeyStore.open({ config, dataDir });
    const key = keys.primaryKey();
    if (!key) { io.err('No API key to write: set one in the config or RELAY_API_KEYS, or create one in the dashboard.\n'); return 1; }
    if (keys.generated) io.out(`generated the relay's API key (kept in ${join(dataDir, 'api-key')})\n`);
    const m = model !== undefined ? checkModelName(model) : modelFromConfig(config, dataDir);
    if (!m) { io.err('No model to point the client at: pass --model NAME (a relay alias or provider/model).\n'); return 2; }
    const ctx = { home: homeDir, dataDir, target: targetOf(baseUrlOf(config.server.host, config.server.port), key, m) };
    const plan = planClient(writer, ctx);
    if (!plan.changed) { io.out(`${writer.title} is already configured for Lingma Relay (${plan.path}).\n`); return 0; }
    io.out(plan.diff);
    if (!yes) {
      if (!io.ask) { io.err(`Not a terminal: nothing was written. Run again with --yes to write ${plan.path}.\n`); return 1; }
      const answer = (await io.ask(`Write these changes to ${plan.path}? [y/N] `)).trim().toLowerCase();
      if (answer !== 'y' && answer !== 'yes') { io.out('Nothing was written.\n'); return 1; }
    }
    const done = applyClient(writer, ctx);
    io.out(`wrote ${done.path}; the previous version is kept in ${join(dataDir, 'client-backups')} (undo: configure ${writer.id} --restore)\n`);
    if (done.note) io.out(`${done.note}\n`);
    return 0;
  } catch (e) {
    if (isRelayError(e)) { io.err(`${e.message}\n`); return 1; }
    throw e;
  }
}
