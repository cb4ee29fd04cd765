/**
 * SECURITY: the credential fields the gateway's log lines never carry, masked before a line is
 * written (pino's `formatters.log` for each line's object, `formatters.bindings` for a child
 * logger's bindings; ./logging.ts). It masks at least what pino's `redact` option did with the
 * paths below (kept in `REDACT_PATHS` for reference and tests):
 *   `authorization`, `password`, `apiKey`, `token`, `adminToken`, `metricsToken` at the top;
 *   `*.password|apiKey|token|adminToken|metricsToken` one level down (in any object or array);
 *   `*.*.password|apiKey|token` two levels down;
 *   `headers.authorization|x-api-key|x-admin-token` and `req.headers.…` (the same plus `cookie`).
 * Why our own: pino's redaction ran its wildcard redactor (`@pinojs/redact`) over every top-level
 * value of every line, strings and numbers included, and over every child logger's bindings (one
 * per request): about 25 KB of garbage per request for lines that held no credential at all. This
 * walks two levels, allocates nothing when nothing needs masking, and copies (never mutates) an
 * object that does.
 */

export const CENSOR = '[redacted]';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-admin-token"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-admin-token"]',
  'authorization',
  'password',
  'apiKey',
  'token',
  'adminToken',
  'metricsToken',
  '*.password',
  '*.apiKey',
  '*.token',
  '*.adminToken',
  '*.metricsToken',
  '*.*.password',
  '*.*.apiKey',
  '*.*.token',
];

const TOP = new Set(['authorization', 'password', 'apiKey', 'token', 'adminToken', 'metricsToken']);
const LEVEL1 = ['password', 'apiKey', 'token', 'adminToken', 'metricsToken'];
const LEVEL2 = ['password', 'apiKey', 'token'];
const HEADERS = ['authorization', 'x-api-key', 'x-admin-token'];
const REQ_HEADERS = ['authorization', 'x-api-key', 'x-admin-token', 'cookie'];

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => v !== null && typeof v === 'object';

/**
 * A shallow copy that keeps `o`'s prototype and own properties (an Error keeps its message and
 * stack; a class instance its getters), every property writable.
 */
function copyOf(o: Obj): Obj {
  if (Array.isArray(o)) return o.slice() as unknown as Obj;
  const proto: unknown = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) return Object.assign(Object.create(proto as object | null) as Obj, o);
  const d = Object.getOwnPropertyDescriptors(o);
  for (const k of Reflect.ownKeys(d)) {
    const p = d[k as string];
    p.configurable = true;
    if ('value' in p) p.writable = true;
  }
  return Object.create(proto as object | null, d) as Obj;
}

const set = (o: Obj, k: string, v: unknown): void => {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
};

/** `o` with `names` masked (and `nested(key, value)` applied to each value), or `o` itself when nothing changed. */
function mask(o: Obj, names: readonly string[], nested?: (k: string, v: unknown) => unknown): Obj {
  let out: Obj | undefined;
  for (const n of names) {
    if (o[n] !== undefined && o[n] !== CENSOR) set((out ??= copyOf(o)), n, CENSOR);
  }
  if (nested) {
    for (const k of Object.keys(o)) {
      if (names.includes(k)) continue;
      const v = o[k];
      const w = nested(k, v);
      if (w !== v) set((out ??= copyOf(o)), k, w);
    }
  }
  return out ?? o;
}

const level2 = (_k: string, v: unknown): unknown => (isObject(v) ? mask(v, LEVEL2) : v);

/** One top-level value's masked form (the value itself when it holds no credential). */
function topValue(k: string, v: unknown): unknown {
  if (!isObject(v)) return v;
  if (k === 'headers') v = mask(v, HEADERS);
  else if (k === 'req') {
    const h = v.headers;
    if (isObject(h)) {
      const m = mask(h, REQ_HEADERS);
      if (m !== h) {
        v = copyOf(v);
        set(v as Obj, 'headers', m);
      }
    }
  }
  return mask(v as Obj, LEVEL1, level2);
}

/** A log line's object (or a child logger's bindings) with every credential field masked; `o` itself when it holds none. */
export function redactLogObject<T extends object>(o: T): T {
  if (!isObject(o)) return o; // pino's bindings with `base: undefined`
  const src = o as unknown as Obj;
  let out: Obj | undefined;
  for (const k of Object.keys(src)) {
    const v = src[k];
    if (v === undefined) continue;
    const w = TOP.has(k) ? CENSOR : topValue(k, v);
    if (w !== v) set((out ??= copyOf(src)), k, w);
  }
  return (out ?? src) as unknown as T;
}
