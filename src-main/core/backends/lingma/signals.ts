/**
 * Upstream failure signals → typed errors (spec §4 "Known error signals", §8 limits). One place for
 * both dialects: a finish status, an acknowledgement refusal, an `error` push or a JSON-RPC error
 * all go through `classifyFailure`.
 */
import { errors, RelayError } from '../../errors';

/** The error code the facade reacts to (login expired → re-login hand-off, request fails over). */
export const LOGIN_EXPIRED = 'login_expired';

/** What a failure means: an error to throw, or a content refusal that finishes the answer. */
export type Failure = { kind: 'error'; error: RelayError } | { kind: 'content_filter'; detail: string };

/** `chat/finish` statusCode → error (spec §4 "Known error signals"). */
export function finishError(status: number, reason: string): RelayError {
  const detail = `chat/finish statusCode ${status}${reason ? ` (${reason})` : ''}`;
  switch (status) {
    case 406:
      return new RelayError({
        status: 502, type: 'upstream_error', code: 'session_blocked', retryable: true, upstreamStatus: 406,
        message: 'The Lingma session was blocked.', detail,
      });
    case 408:
    case 80408:
      return errors.timeout('Lingma timed out answering.', { retryable: true, upstreamStatus: status, detail });
    case 500:
    case 418:
      return errors.upstream('Lingma had a server error.', { retryable: true, upstreamStatus: status, detail });
    case 101:
      return errors.upstream('Lingma rejected the request signature.', { retryable: false, upstreamStatus: status, detail });
    default:
      return errors.upstream(`Lingma failed the request (status ${status}).`, { retryable: status >= 500, upstreamStatus: status, detail });
  }
}

/** A JSON object embedded in a message (`... {"isQueued":true,"retryAfterSeconds":12}`), if any. */
function embeddedJson(text: string): Record<string, unknown> | undefined {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  if (start < 0 || end <= start) return undefined;
  try {
    const v = JSON.parse(text.slice(start, end + 1)) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Classify one upstream failure. `status` is the runtime's status code when it gave one (finish
 * statusCode, ack errorCode); `message` is every text it gave (reason, message, body), and
 * `fields` any structured data beside it (`isQueued`, `retryAfterSeconds`, ...).
 */
export function classifyFailure(status: number | undefined, message: string, fields: Record<string, unknown> = {}, now = Date.now()): Failure {
  const text = message.trim();
  const detail = `${status !== undefined ? `status ${status}: ` : ''}${text}`.slice(0, 500);
  // Content-safety refusal: never retried, no cool-down (spec §8).
  if (/DataInspectionFailed/i.test(text)) return { kind: 'content_filter', detail };
  const body = { ...embeddedJson(text), ...fields };
  if (status === 401 || /ExpiredTokenError|InvalidTokenError/.test(text)) {
    return {
      kind: 'error',
      error: errors.unavailable('The Lingma login of this account expired; it is being renewed.', { code: LOGIN_EXPIRED, retryable: true, retryAfter: 5, upstreamStatus: 401, detail }),
    };
  }
  // The free model is busy: queued with a retry time (spec §8).
  if (body.isQueued === true || body.is_queued === true) {
    const after = num(body.retryAfterSeconds ?? body.retry_after_seconds);
    return {
      kind: 'error',
      error: errors.quotaExceeded('The Lingma account is queued by its provider; try again shortly.', {
        upstreamStatus: status ?? 403,
        resetsAt: after !== undefined ? now + after * 1000 : undefined,
        retryAfter: after !== undefined ? Math.ceil(after) : undefined,
        detail,
      }),
    };
  }
  if (status === 429 || /usage exceeds frequency limit|quota.?exceeded|rate.?limit/i.test(text)) {
    return { kind: 'error', error: errors.quotaExceeded('The Lingma account hit its usage limit.', { upstreamStatus: status ?? 429, detail }) };
  }
  const sse418 = /statusCodeValue\s*=\s*418/.test(text);
  if (status === 418 || sse418) {
    return { kind: 'error', error: errors.upstream('Lingma had an upstream stream error.', { retryable: true, upstreamStatus: 418, detail }) };
  }
  if (status !== undefined && status !== 200) return { kind: 'error', error: finishError(status, text) };
  return { kind: 'error', error: errors.upstream('Lingma reported an error.', { retryable: true, detail }) };
}

/** A status code out of `statusCode`, `code`, `errorCode` (numbers or numeric strings). */
export function statusOf(p: Record<string, unknown>): number | undefined {
  for (const k of ['statusCode', 'status', 'code', 'errorCode', 'statusCodeValue']) {
    const n = num(p[k]);
    if (n !== undefined) return n;
  }
  return undefined;
}

/** Every human-readable string of a failure payload, joined (for classification and detail). */
export function messageOf(p: Record<string, unknown>): string {
  return ['reason', 'message', 'errorMessage', 'errorMsg', 'error', 'msg', 'body']
    .map((k) => p[k])
    .filter((v): v is string => typeof v === 'string' && v.length > 0)
    .join(' ');
}
