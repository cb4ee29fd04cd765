/**
 * Loading the config: file (YAML or JSON) + environment + flags, in that order of precedence
 * (flags win). Everything is validated against `schema.ts`; problems come back as one
 * `ConfigError` naming each bad key, variable or flag and its value.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { Config } from './schema';
import { nameProblem } from '../names';
import { ConfigError, showType, showValue, validateConfig } from './validate';

export { ConfigError } from './validate';

/** Flags of `npm run serve` (strings as typed; validated in `loadConfig`). */
export interface ServeFlags {
  config?: string;
  dataDir?: string;
  host?: string;
  port?: string;
  help?: boolean;
  /** Use the local servers discovery finds at start (Ollama, LM Studio, llama.cpp, vLLM), unasked. */
  discover?: boolean;
}

const FLAG_NAMES: Record<string, keyof ServeFlags> = {
  '--config': 'config',
  '-c': 'config',
  '--data-dir': 'dataDir',
  '--host': 'host',
  '--port': 'port',
  '-p': 'port',
};

/** Parse `--config FILE`, `--config=FILE`, ... Unknown flags are an error naming them. */
export function parseServeArgs(argv: string[]): ServeFlags {
  const out: ServeFlags = {};
  const issues: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    if (arg === '--discover') {
      out.discover = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const key = FLAG_NAMES[name];
    if (!key) {
      issues.push(`${arg}: unknown flag (known: --config, --data-dir, --host, --port, --discover, --help)`);
      continue;
    }
    let value: string | undefined;
    if (name !== arg) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) value = argv[++i];
    if (value === undefined || value === '') {
      issues.push(`${name}: expected a value`);
      continue;
    }
    (out as Record<string, string>)[key] = value;
  }
  if (issues.length) throw new ConfigError(issues, 'command line');
  return out;
}

export const SERVE_USAGE = `Usage: npm run serve -- [--config FILE] [--data-dir DIR] [--host HOST] [--port N] [--discover]

  --config FILE    YAML or JSON config file (env RELAY_CONFIG; default: <data dir>/config.yaml if present)
  --data-dir DIR   where keys, tokens, accounts and the usage ledger live (env RELAY_DATA_DIR)
  --host HOST      address to bind (env RELAY_HOST, default 127.0.0.1)
  --port N         port to listen on, 0 = any free port (env RELAY_PORT, default 8420)
  --discover       use the local servers found on 127.0.0.1 (Ollama, LM Studio, llama.cpp, vLLM)
                   without asking; without it they are only offered (dashboard, Overview)

Environment: RELAY_API_KEYS (comma list), LINGMA_BIN, LINGMA_ACCOUNTS (u1:p1,u2:p2 or JSON),
LINGMA_INSTANCE_COUNT, RELAY_LOG_FORMAT (pretty|json; default pretty when the terminal shows it).`;

/** The OS per-user app-data folder for Lingma Relay. */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), 'Lingma Relay');
  if (platform === 'darwin') return join(home, 'Library', 'Application Support', 'Lingma Relay');
  const xdg = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(xdg, 'lingma-relay');
}

/** Parse config text: JSON for `.json` (or text starting with `{`), YAML otherwise. */
export function parseConfigText(text: string, fileName: string): unknown {
  const ext = extname(fileName).toLowerCase();
  const json = ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && /^\s*\{/.test(text));
  try {
    if (json) return JSON.parse(text);
    return parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    throw new ConfigError([`${fileName}: not valid ${json ? 'JSON' : 'YAML'}${syntaxProblem(e, text)}`]);
  }
}

/**
 * One clean line from a parser error: ` at line L, column C: problem`. The yaml library's message
 * ends with "at line L, column C:" followed by a code frame on the next lines; JSON.parse gives a
 * character position.
 */
function syntaxProblem(e: unknown, text: string): string {
  if (e instanceof YAMLParseError) {
    const problem = e.message.split('\n')[0].replace(/\s+at line \d+, column \d+:?\s*$/, '').trim();
    const at = e.linePos?.[0];
    return `${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${problem || e.code}`;
  }
  if (e instanceof SyntaxError) {
    // SECURITY: V8 quotes the text around the problem (`Unexpected token 's', "{"adminToken": s3cr..." is
    // not valid JSON`): the quote is dropped, the position kept.
    const first = e.message.split('\n')[0].replace(/,\s*".*"\s+is not valid JSON\s*$/, '');
    const pos = /at position (\d+)/.exec(first);
    const problem = first.replace(/\s+in JSON at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)\s*$/, '').trim();
    if (!pos) return `: ${problem}`;
    const before = text.slice(0, Number(pos[1]));
    const line = before.split('\n').length;
    const col = Number(pos[1]) - before.lastIndexOf('\n');
    return ` at line ${line}, column ${col}: ${problem}`;
  }
  return `: ${String(e)}`;
}

export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String(code ?? e);
    throw new ConfigError([`config file ${showValue(path)}: cannot read it (${why})`]);
  }
  return parseConfigText(text, path);
}

/**
 * `LINGMA_ACCOUNTS`: `user1:pass1,user2:pass2` or a JSON array of `{"username","password","name"?}`.
 * Instance names are derived from user names (safe by construction) unless `name` is given, which
 * must follow the name rule (`core/names.ts`).
 */
export function parseAccountsEnv(value: string): Array<{ username: string; password?: string; name?: string }> {
  const v = value.trim();
  if (!v) return [];
  if (v.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      // SECURITY: the value holds passwords: never echo it.
      throw new ConfigError(['LINGMA_ACCOUNTS: not valid JSON (expected an array of {"username","password"})']);
    }
    if (!Array.isArray(parsed)) throw new ConfigError(['LINGMA_ACCOUNTS: expected a JSON array']);
    return parsed.map((a, i) => {
      if (!a || typeof a !== 'object' || typeof (a as any).username !== 'string' || !(a as any).username) {
        throw new ConfigError([`LINGMA_ACCOUNTS[${i}]: expected an object with a "username" string`]);
      }
      const pw = (a as any).password;
      if (pw !== undefined && typeof pw !== 'string') throw new ConfigError([`LINGMA_ACCOUNTS[${i}].password: expected a string`]);
      const name = (a as any).name;
      if (name !== undefined) {
        const bad = nameProblem(name, `LINGMA_ACCOUNTS[${i}].name`);
        if (bad) throw new ConfigError([bad]);
      }
      return { username: (a as any).username, ...(pw === undefined ? {} : { password: pw }), ...(name === undefined ? {} : { name }) };
    });
  }
  return v.split(',').map((item, i) => {
    const s = item.trim();
    const colon = s.indexOf(':');
    const username = colon < 0 ? s : s.slice(0, colon);
    if (!username) throw new ConfigError([`LINGMA_ACCOUNTS: entry ${i + 1} has no user name (expected user:password)`]);
    return colon < 0 ? { username } : { username, password: s.slice(colon + 1) };
  });
}

function setIn(obj: Record<string, any>, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (o[k] === undefined || o[k] === null) o[k] = {};
    if (typeof o[k] !== 'object' || Array.isArray(o[k])) return; // left for validation to report
    o = o[k];
  }
  o[path[path.length - 1]] = value;
}

function intFrom(name: string, raw: string, min: number, max: number, issues: string[]): number | undefined {
  const s = raw.trim();
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    issues.push(`${name}: expected an integer from ${min} to ${max}, got ${showValue(raw)}`);
    return undefined;
  }
  return n;
}

export interface LoadOptions {
  flags?: ServeFlags;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** For tests: the OS data-dir default. */
  platform?: NodeJS.Platform;
  home?: string;
}

export interface LoadedConfig {
  config: Config;
  dataDir: string;
  /** Absolute path of the file read, if any. */
  configPath?: string;
}

const DATA_DIR_CONFIG_NAMES = ['config.yaml', 'config.yml', 'config.json'];

/**
 * Read, merge and validate. Throws ConfigError. Pure apart from reading the config file (the data
 * dir is not created here: see `datadir.ts`).
 */
export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const flags = opts.flags ?? {};
  const cwd = opts.cwd ?? process.cwd();
  const issues: string[] = [];

  const dataDirRaw = flags.dataDir ?? env.RELAY_DATA_DIR;
  const dataDir = dataDirRaw ? resolve(cwd, dataDirRaw) : defaultDataDir(env, opts.platform, opts.home);

  let configPath: string | undefined;
  const fileArg = flags.config ?? env.RELAY_CONFIG;
  if (fileArg) configPath = resolve(cwd, fileArg);
  else configPath = DATA_DIR_CONFIG_NAMES.map((n) => join(dataDir, n)).find((p) => existsSync(p));

  let raw: unknown = configPath ? readConfigFile(configPath) : {};
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([`expected a mapping of settings at the top level, got ${showType(raw)}`], configPath);
  }
  const merged = structuredClone(raw) as Record<string, any>;

  // The file's own values are checked before anything overrides them: a bad `server.port` in the
  // file is an error even when `--port` replaces it.
  if (configPath) {
    try {
      validateConfig(merged, configPath);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      issues.push(...e.issues);
    }
  }

  // Paths in the file are relative to the file.
  const baseDir = configPath ? dirname(configPath) : cwd;
  if (typeof merged.aliasesFile === 'string' && merged.aliasesFile) merged.aliasesFile = resolve(baseDir, merged.aliasesFile);
  const bin = merged.lingma?.binary;
  if (typeof bin === 'string' && bin !== 'auto' && (bin.startsWith('.') || bin.includes('/') || bin.includes('\\'))) {
    merged.lingma.binary = resolve(baseDir, bin);
  }

  // Environment (seed-compatible names), then flags.
  if (env.RELAY_HOST) setIn(merged, ['server', 'host'], env.RELAY_HOST.trim());
  if (env.RELAY_PORT !== undefined && env.RELAY_PORT !== '') {
    const p = intFrom('RELAY_PORT', env.RELAY_PORT, 0, 65535, issues);
    if (p !== undefined) setIn(merged, ['server', 'port'], p);
  }
  if (env.RELAY_API_KEYS) {
    const keys = env.RELAY_API_KEYS.split(',').map((k) => k.trim()).filter(Boolean);
    keys.forEach((k, i) => {
      // SECURITY: name the position, never the key.
      if (k.length < 8) issues.push(`RELAY_API_KEYS: key ${i + 1} is shorter than 8 characters`);
    });
    const existing = Array.isArray(merged.server?.apiKeys) ? merged.server.apiKeys : [];
    setIn(merged, ['server', 'apiKeys'], [...existing, ...keys.map((key, i) => ({ key, name: `RELAY_API_KEYS-${i + 1}` }))]);
  }
  if (env.LINGMA_BIN) setIn(merged, ['lingma', 'binary'], resolve(cwd, env.LINGMA_BIN.trim()));
  if (env.LINGMA_ACCOUNTS !== undefined && env.LINGMA_ACCOUNTS.trim() !== '') {
    try {
      setIn(merged, ['lingma', 'accounts'], parseAccountsEnv(env.LINGMA_ACCOUNTS));
    } catch (e) {
      if (e instanceof ConfigError) issues.push(...e.issues);
      else throw e;
    }
  }
  if (env.LINGMA_INSTANCE_COUNT) {
    const n = intFrom('LINGMA_INSTANCE_COUNT', env.LINGMA_INSTANCE_COUNT, 1, 64, issues);
    const accounts = merged.lingma?.accounts;
    if (n !== undefined && Array.isArray(accounts)) {
      if (n > accounts.length) {
        issues.push(`LINGMA_INSTANCE_COUNT: ${n} instances asked for but only ${accounts.length} account(s) are configured (one instance per account)`);
      } else {
        merged.lingma.accounts = accounts.slice(0, n);
      }
    }
  }

  // Team mode: each part from the environment when the file does not set it.
  for (const [name, key] of [
    ['RELAY_REDIS_URL', 'redisUrl'], ['RELAY_POSTGRES_URL', 'postgresUrl'], ['RELAY_NODE_NAME', 'nodeName'],
    ['RELAY_CLUSTER_SECRET', 'secret'], ['RELAY_ADVERTISE_URL', 'advertiseUrl'],
  ] as const) {
    const v = env[name]?.trim();
    if (v && merged.cluster?.[key] === undefined) setIn(merged, ['cluster', key], v);
  }

  if (flags.host !== undefined) setIn(merged, ['server', 'host'], flags.host);
  if (flags.port !== undefined) {
    const p = intFrom('--port', String(flags.port), 0, 65535, issues);
    if (p !== undefined) setIn(merged, ['server', 'port'], p);
  }

  if (issues.length) throw new ConfigError(issues, configPath);
  const config = validateConfig(merged, configPath);
  return { config, dataDir, configPath };
}
