/**
 * The one place a RelayError becomes an Anthropic error body:
 * `{"type":"error","error":{"type":...,"message":...}}`. The HTTP status stays the RelayError's.
 */
import type { RelayError } from '../../errors';

export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error'
  | 'timeout_error';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
  request_id?: string;
}

export function anthropicErrorType(e: RelayError): AnthropicErrorType {
  // Anthropic reports every 404 (unknown model included) as not_found_error.
  if (e.status === 404) return 'not_found_error';
  switch (e.type) {
    case 'invalid_request_error':
      return 'invalid_request_error';
    case 'authentication_error':
      return 'authentication_error';
    case 'permission_error':
      return 'permission_error';
    case 'not_found_error':
      return 'not_found_error';
    case 'request_too_large':
      return 'request_too_large';
    case 'rate_limit_error':
      return 'rate_limit_error';
    case 'service_unavailable':
      return 'overloaded_error';
    case 'timeout':
      return 'timeout_error';
    case 'upstream_error':
    default:
      return 'api_error';
  }
}

export function toAnthropicError(e: RelayError, requestId?: string): AnthropicErrorBody {
  return {
    type: 'error',
    error: { type: anthropicErrorType(e), message: e.message },
    ...(requestId ? { request_id: requestId } : {}),
  };
}
