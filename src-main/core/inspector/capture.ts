/**
 * SECURITY: a request's outcome → its stored `Capture`, redacted. The only way anything enters the
 * inspector: every string goes through `redactSecrets` (core/redact.ts, the same scrub as logs)
 * with the relay's known secrets (provider keys, account passwords, API keys, the admin token);
 * fields whose name says they hold a credential (authorization, api_key, cookie, password,
 * token, secret …) are replaced whole; `data:` URLs (images) are shortened; a body larger than
 * `maxBodyBytes` is cut with a marker. Headers are never captured at all.
 */
import type { RequestOutcome } from '../dispatch/outcome';
import { redactSecrets } from '../redact';
import type { Capture, CaptureSummary, TimelineEvent } from './types';

/** A field name that holds a credential: its value is dropped whatever it looks like. */
const SECRET_FIELD = /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|apikey|access[-_]?token|refresh[-_]?token|id[-_]?token|token|secret|client[-_]?secret|password|passwd|pwd|credentials?|private[-_]?key|session[-_]?token|login[-_]?(url|link))$/i;
const DATA_URL = /^data:([^;,]{0,100})(;base64)?,/i;

/**
 * Ends a cut string. ASCII on purpose: one character beyond Latin-1 (such as '…') would make V8
 * keep every cut answer two bytes a character, doubling what each capture costs and copies.
 */
export const TRUNCATED = '...[truncated by the inspector]';

export interface CaptureOptions {
  /** Known secret values (masked wherever they appear); read per capture. */
  secrets: () => ReadonlyArray<string | undefined>;
  maxBodyBytes: number;
}

interface Cut {
  truncated: boolean;
  /**
   * What the strings kept so far cost in memory (plus a little per value): a character each, two
   * for a string with any character beyond Latin-1 (V8 stores it two bytes a character: CJK text,
   * for one).
   */
  chars: number;
}

/** Any character beyond Latin-1: V8 keeps the string two bytes a character. */
const WIDE = /[^\u0000-\u00ff]/;

/** One string, scrubbed and cut. */
function cleanString(s: string, known: ReadonlyArray<string | undefined>, max: number, cut: Cut): string {
  const m = DATA_URL.exec(s);
  if (m) return `data:${m[1]}${m[2] ?? ''},[${s.length - m[0].length} characters omitted]`;
  let out = redactSecrets(s, known);
  if (out.length > max) {
    cut.truncated = true;
    out = out.slice(0, max) + TRUNCATED;
  }
  cut.chars += (out.length + 2) * (WIDE.test(out) ? 2 : 1);
  return out;
}

/**
 * A JSON-like value, deep: secrets masked, credential fields dropped, long strings cut. Copy on
 * write: a plain object or array none of whose contents needed a change is returned as it is
 * (the request is over: nothing writes to its bodies any more), so a clean body costs a walk and
 * no copies; anything changed, dropped or not plain is rebuilt as before.
 */
export function sanitize(value: unknown, known: ReadonlyArray<string | undefined>, maxString: number, cut: Cut, depth = 0): unknown {
  if (typeof value === 'string') return cleanString(value, known, maxString, cut);
  if (value === null || typeof value !== 'object') {
    cut.chars += 8;
    return typeof value === 'bigint' ? String(value) : value;
  }
  if (depth > 32) {
    cut.truncated = true;
    return TRUNCATED;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | undefined = Object.getPrototypeOf(value) === Array.prototype ? undefined : [];
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      const c = sanitize(v, known, maxString, cut, depth + 1);
      if (out) out[i] = c;
      else if (c !== v) {
        out = value.slice(0, i);
        out[i] = c;
      }
    }
    return out ?? value;
  }
  const obj = value as Record<string, unknown>;
  const proto: unknown = Object.getPrototypeOf(obj);
  let out: Record<string, unknown> | undefined = proto === Object.prototype || proto === null ? undefined : {};
  const keys = Object.keys(obj);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = obj[k];
    if (v === undefined || typeof v === 'function') {
      out ??= copied(obj, keys, i);
      continue;
    }
    cut.chars += k.length + 4;
    const c = SECRET_FIELD.test(k) ? '[redacted]' : sanitize(v, known, maxString, cut, depth + 1);
    if (out) out[k] = c;
    else if (c !== v) {
      out = copied(obj, keys, i);
      out[k] = c;
    }
  }
  return out ?? value;
}

/** A fresh object with `obj`'s first `n` keys (all kept unchanged so far). */
function copied(obj: Record<string, unknown>, keys: readonly string[], n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let j = 0; j < n; j++) out[keys[j]] = obj[keys[j]];
  return out;
}

/**
 * A whole body within `max` bytes: as is, or its JSON text cut with the marker. `chars`: what
 * sanitizing it kept; JSON text takes at most 6 bytes per character (`\u0000` escapes), so a body
 * well under the limit is not serialized just to be measured.
 */
function bounded(value: unknown, max: number, cut: Cut, chars: number): unknown {
  if (value === undefined) return undefined;
  if (chars * 6 <= max) return value;
  const text = JSON.stringify(value);
  if (text === undefined || Buffer.byteLength(text) <= max) return value;
  cut.truncated = true;
  return { truncated: true, bytes: Buffer.byteLength(text), preview: text.slice(0, max) + TRUNCATED };
}

export function summaryOf(o: RequestOutcome, truncated: boolean): CaptureSummary {
  const s: CaptureSummary = {
    requestId: o.requestId,
    id: o.id,
    protocol: o.protocol,
    endpoint: o.endpoint,
    apiKeyId: o.apiKeyId,
    requestedModel: o.requestedModel,
    stream: o.stream,
    status: o.status,
    receivedAt: o.receivedAt,
    totalMs: Math.max(0, o.finishedAt - o.receivedAt),
    switches: o.switches.length,
    truncated,
  };
  const alias = o.resolved?.alias ?? o.resolution?.alias;
  if (alias) s.alias = alias;
  if (o.resolved) {
    s.resolved = o.resolved.label;
    s.provider = o.resolved.provider;
    s.instance = o.resolved.instance;
  }
  if (o.error) s.errorCode = o.error.code;
  if (o.firstByteAt !== undefined) s.ttftMs = Math.max(0, o.firstByteAt - o.receivedAt);
  if (o.usage) {
    s.promptTokens = o.usage.promptTokens;
    s.completionTokens = o.usage.completionTokens;
  }
  return s;
}

/** The redacted capture of one finished request. */
/** `size.bytes` receives the capture's approximate size in memory (what the memory ring counts). */
export function captureOf(o: RequestOutcome, opts: CaptureOptions, size?: { bytes: number }): Capture {
  const known = opts.secrets();
  const max = opts.maxBodyBytes;
  const cut: Cut = { truncated: false, chars: 0 };
  const t = o.trace;
  const clean = (v: unknown): unknown => {
    const before = cut.chars;
    const s = sanitize(v, known, max, cut);
    return bounded(s, max, cut, cut.chars - before);
  };
  const timeline = (t?.timeline ?? []).map((e) => sanitize(e, known, 2000, cut) as TimelineEvent);
  // The summary's fresh object grows into the capture (same keys, same order, no spread copy).
  const c = summaryOf(o, false) as Capture;
  c.request = clean(t?.clientBody) ?? null;
  c.timeline = timeline;
  if (t?.answer) c.response = clean(t.answer) as Capture['response'];
  if (t?.answerCut) cut.truncated = true;
  if (t?.upstream) c.upstream = clean(t.upstream) as Capture['upstream'];
  if (o.error) c.error = { code: o.error.code, status: o.error.status, message: cleanString(o.error.message, known, 2000, cut) };
  if (o.userAgent) c.userAgent = cleanString(o.userAgent, known, 200, cut);
  c.truncated = cut.truncated;
  if (size) size.bytes = cut.chars + 300;
  return c;
}

/** Does the capture's prompt text contain `q` (case-insensitive)? Searches the request and upstream bodies. */
export function mentions(c: Capture, q: string): boolean {
  const needle = q.toLowerCase();
  const hay = JSON.stringify([c.request, c.upstream?.prompt ?? c.upstream?.body ?? null]).toLowerCase();
  return hay.includes(needle);
}
