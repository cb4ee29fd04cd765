/**
 * The terminal of `npm run serve` is read by a person when stdout is a terminal: each JSON log
 * line becomes one readable line (`12:04:05 INFO  relay listening  url=…`), and the start prints
 * what to do next. Piped (not a terminal), the gateway keeps JSON lines on stderr and exactly one
 * `relay listening on …` line on stdout (the contract).
 * The lines reaching this formatter are already redacted by pino (`core/gateway/logging.ts`).
 */

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '\x1b[90m' },
  20: { name: 'DEBUG', color: '\x1b[90m' },
  30: { name: 'INFO ', color: '\x1b[36m' },
  40: { name: 'WARN ', color: '\x1b[33m' },
  50: { name: 'ERROR', color: '\x1b[31m' },
  60: { name: 'FATAL', color: '\x1b[41m' },
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname']);
const MAX_VALUE = 160;

export interface PrettyOptions {
  /** ANSI colours (a colour terminal without NO_COLOR). */
  color?: boolean;
  /** Local time of day for a timestamp (tests pass a fixed formatter). */
  clock?: (ms: number) => string;
}

function timeOfDay(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function showValue(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  else if (v === null || typeof v !== 'object') s = String(v);
  else if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) s = v.join(',') || '[]';
  else s = JSON.stringify(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}

/** One JSON log line (pino's) -> one readable line, without the newline. Not JSON: returned as is. */
export function formatLogLine(line: string, opts: PrettyOptions = {}): string {
  const text = line.replace(/\n$/, '');
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch {
    return text;
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) return text;
  const lvl = LEVELS[o.level as number] ?? { name: String(o.level ?? 'INFO').toUpperCase().padEnd(5), color: '' };
  const when = (opts.clock ?? timeOfDay)(typeof o.time === 'number' ? o.time : Date.now());
  const level = opts.color && lvl.color ? `${lvl.color}${lvl.name}${RESET}` : lvl.name;
  let msg = typeof o.msg === 'string' ? o.msg : '';
  const fields: Record<string, unknown> = {};
  for (const k in o) if (!SKIP.has(k)) fields[k] = o[k];
  // The per-request line reads like an access log: `POST /v1/chat/completions 200 12.5ms`.
  if (msg === 'request' && typeof fields.method === 'string' && typeof fields.url === 'string') {
    msg = `${fields.method} ${fields.url} ${fields.status ?? ''}${typeof fields.ms === 'number' ? ` ${fields.ms}ms` : ''}`.replace(/\s+$/, '');
    for (const k of ['method', 'url', 'status', 'ms']) delete fields[k];
  }
  const rest = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${showValue(v)}`)
    .join(' ');
  const tail = rest ? `  ${opts.color ? `${DIM}${rest}${RESET}` : rest}` : '';
  return `${opts.color ? `${DIM}${when}${RESET}` : when} ${level} ${msg}${tail}`;
}

/** A log destination that writes each JSON line readable to `out` (the logger's hub still gets JSON). */
export function prettyDestination(out: { write(s: string): unknown }, opts: PrettyOptions = {}): { write(s: string): unknown } {
  return {
    write(s: string) {
      // pino writes one line per call; be tolerant of several.
      const lines = s.split('\n').filter((l) => l.length > 0);
      return out.write(lines.map((l) => `${formatLogLine(l, opts)}\n`).join(''));
    },
  };
}

/** Human output: stdout and stderr both terminals (a redirected stream keeps its JSON lines). */
export function wantsHumanOutput(stdoutTTY: boolean | undefined, stderrTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  const forced = env.RELAY_LOG_FORMAT?.trim().toLowerCase();
  if (forced === 'json') return false;
  if (forced === 'pretty') return true;
  return !!stdoutTTY && !!stderrTTY;
}

export function colorWanted(env: NodeJS.ProcessEnv): boolean {
  return !('NO_COLOR' in env) && env.TERM !== 'dumb';
}
