/**
 * The gateway's logger: pino, JSON lines, request id on every request-scoped line (`reqId`).
 * SECURITY: credentials are redacted before a line is written (headers carrying keys or tokens,
 * and any `password`, `apiKey`, `token` field: ./log-redact.ts, as pino formatters), so neither the log file nor the dashboard
 * (which gets the same, already redacted, lines through the EventHub) ever sees one.
 */
import pino, { type Logger } from 'pino';
import type { EventHub, LogLevel, LogLine } from '../events';
import { redactLogObject } from './log-redact';

export { REDACT_PATHS } from './log-redact';

const LEVELS: Record<number, LogLevel> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const OMIT = new Set(['level', 'time', 'msg', 'reqId', 'instance', 'pid', 'hostname']);

/** One written JSON line -> the dashboard's LogLine. Only called when someone listens. */
export function toLogLine(line: string): LogLine | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line);
  } catch {
    return undefined;
  }
  let fields: Record<string, unknown> | undefined;
  for (const k in o) {
    if (OMIT.has(k)) continue;
    (fields ??= {})[k] = o[k];
  }
  const out: LogLine = {
    time: typeof o.time === 'number' ? o.time : Date.now(),
    level: LEVELS[o.level as number] ?? 'info',
    msg: typeof o.msg === 'string' ? o.msg : '',
  };
  if (typeof o.reqId === 'string') out.requestId = o.reqId;
  if (typeof o.instance === 'string') out.instance = o.instance;
  if (fields) out.fields = fields;
  return out;
}

export interface LoggerOptions {
  level?: string;
  hub?: EventHub;
  /** Where lines go (default: stderr; stdout is reserved for the CLI's one "listening" line). */
  destination?: { write(s: string): unknown };
}

/**
 * stderr through a buffered writer: lines are written in batches (at most ~4 KB or 200 ms late),
 * so a busy gateway makes one syscall per many log lines instead of one per line. Flushed on exit.
 */
function bufferedStderr(): { write(s: string): unknown } {
  const dest = pino.destination({ dest: 2, minLength: 4096, sync: false });
  // A closed stderr (a pipe whose reader went away) must not bring the gateway down.
  dest.on('error', () => undefined);
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      /* nothing we can do this late */
    }
  });
  return flushingWriter(dest, 200);
}

/**
 * A writer that flushes `dest` at most `delayMs` after a line arrives. The flush is armed only by
 * a write: an idle gateway (a tray app on battery) never wakes up to write nothing.
 */
export function flushingWriter(dest: { write(s: string): unknown; flush(): void }, delayMs: number): { write(s: string): unknown } {
  let timer: NodeJS.Timeout | undefined;
  const flushSoon = (): void => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      try {
        dest.flush();
      } catch {
        flushSoon(); // not ready yet: try again shortly
      }
    }, delayMs);
    timer.unref();
  };
  return {
    write(line: string) {
      const r = dest.write(line);
      flushSoon();
      return r;
    },
  };
}

/** A pino logger that writes JSON lines and, while the dashboard listens, forwards them to the hub. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? bufferedStderr();
  const hub = opts.hub;
  const stream = {
    write(s: string) {
      dest.write(s);
      if (!hub) return;
      // The recent-log keeper (admin LiveTracker) takes the string as is and parses only when read.
      if (hub.listenerCount('logText') > 0) hub.emit('logText', s);
      // Cheap when nobody watches: parsing happens only with a listener attached (a dashboard socket).
      if (hub.listenerCount('log') > 0) {
        const line = toLogLine(s);
        if (line) {
          try {
            hub.emit('log', line);
          } catch {
            /* a listener's failure must not break logging */
          }
        }
      }
    },
  };
  const logger = pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      // Our own masking (./log-redact.ts), not pino's `redact`: the same fields, no per-line garbage.
      formatters: { log: redactLogObject, bindings: redactLogObject },
      timestamp: pino.stdTimeFunctions.epochTime,
    },
    stream,
  );
  // A child's bindings (fastify's per-request `reqId` child, ours) are masked too: pino applies
  // `formatters.bindings` to the root only, and every descendant inherits this `child`.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, bindings && typeof bindings === 'object' ? redactLogObject(bindings) : bindings, options);
  } as Logger['child'];
  return logger;
}
