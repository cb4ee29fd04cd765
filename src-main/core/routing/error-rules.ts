/**
 * Error rules (`errorRules` in the config): per upstream status and message pattern, an upstream
 * error either passes through as is, or is replaced by a status and message of the user's choice.
 * The first matching rule wins; no match = pass through.
 */
import type { ErrorRule } from '../config/schema';
import { RelayError, type ErrorType } from '../errors';

interface Compiled {
  rule: ErrorRule;
  re?: RegExp;
}

const compiledCache = new WeakMap<readonly ErrorRule[], Compiled[]>();

/** Check rules at load time. Throws an Error naming `errorRules[i].<key>` and the problem. */
export function validateErrorRules(rules: readonly ErrorRule[]): void {
  compile(rules);
}

function compile(rules: readonly ErrorRule[]): Compiled[] {
  const hit = compiledCache.get(rules);
  if (hit) return hit;
  const out = rules.map((rule, i): Compiled => {
    if (rule.action === 'replace' && rule.replaceStatus === undefined && rule.message === undefined) {
      throw new Error(`errorRules[${i}]: action 'replace' needs replaceStatus or message`);
    }
    if (rule.match === undefined) return { rule };
    try {
      return { rule, re: new RegExp(rule.match, 'i') };
    } catch (e) {
      throw new Error(`errorRules[${i}].match is not a valid regular expression: ${(e as Error).message}`);
    }
  });
  compiledCache.set(rules, out);
  return out;
}

function typeFor(status: number): ErrorType {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 408: case 504: return 'timeout';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 503: return 'service_unavailable';
    default: return status < 500 ? 'invalid_request_error' : 'upstream_error';
  }
}

const CODE_FOR: Record<ErrorType, string> = {
  invalid_request_error: 'invalid_request',
  authentication_error: 'invalid_api_key',
  permission_error: 'forbidden',
  not_found_error: 'not_found',
  request_too_large: 'request_too_large',
  rate_limit_error: 'rate_limited',
  upstream_error: 'upstream_error',
  service_unavailable: 'service_unavailable',
  timeout: 'timeout',
};

function matches(c: Compiled, err: RelayError): boolean {
  const status = err.upstreamStatus ?? err.status;
  if (c.rule.status !== undefined && c.rule.status !== status && c.rule.status !== err.status) return false;
  if (c.re) {
    // The message is client-safe; `detail` may carry the upstream's own wording. Matching it
    // reveals nothing: the result is either the untouched error or the user's own text.
    if (!c.re.test(err.message) && !(err.detail !== undefined && c.re.test(err.detail))) return false;
  }
  return true;
}

export function applyErrorRules(rules: readonly ErrorRule[] | undefined, err: RelayError): RelayError {
  if (!rules || rules.length === 0) return err;
  // The dispatcher calls this only for failures of the chain walk (upstream and backend errors),
  // never for the gateway's own validation, auth or admission errors.
  for (const c of compile(rules)) {
    if (!matches(c, err)) continue;
    if (c.rule.action === 'passthrough') return err;
    const status = c.rule.replaceStatus ?? err.status;
    const type = typeFor(status);
    return new RelayError({
      status,
      type,
      code: status === err.status ? err.code : CODE_FOR[type],
      message: c.rule.message ?? err.message,
      param: err.param,
      retryAfter: status === 429 || status === 503 ? (err.retryAfter ?? (status === 429 ? 1 : undefined)) : undefined,
      retryable: err.retryable,
      upstreamStatus: err.upstreamStatus,
      detail: err.detail,
      cause: err,
    });
  }
  return err;
}
