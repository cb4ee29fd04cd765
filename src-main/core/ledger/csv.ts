/** The usage CSV export's columns and line format (engine-neutral: a store supplies the raw rows). */

export const CSV_COLUMNS = [
  'id', 'request_id', 'received_at', 'first_byte_at', 'finished_at', 'api_key_id', 'user_agent', 'endpoint',
  'protocol', 'requested_model', 'alias', 'provider', 'instance', 'model', 'label', 'stream', 'status', 'error_type',
  'switches', 'switch_reasons', 'session_reuse', 'prompt_tokens', 'completion_tokens', 'reasoning_tokens',
  'cached_tokens', 'tokens_estimated', 'ttft_ms', 'total_ms', 'cost_usd',
];
/** Columns a store gives as ISO 8601 UTC text with milliseconds. */
export const CSV_TIME_COLUMNS = new Set(['received_at', 'first_byte_at', 'finished_at']);
const CSV_REASONS = CSV_COLUMNS.indexOf('switch_reasons');

export const CSV_HEADER = CSV_COLUMNS.join(',') + '\r\n';

/** One CSV field (RFC 4180 quoting). */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  let s = String(v);
  // SECURITY: text that a spreadsheet would run as a formula (client-chosen user agents, model
  // names) is prefixed with a quote so opening the export cannot execute it.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One CSV line from a raw row in CSV_COLUMNS order (times already ISO text): switch reasons joined by `;`. */
export function csvLine(r: unknown[]): string {
  let line = '';
  for (let i = 0; i < r.length; i++) {
    let v = r[i];
    if (i === CSV_REASONS && v) v = (JSON.parse(v as string) as string[]).join(';');
    line += (i ? ',' : '') + csvField(v);
  }
  return line + '\r\n';
}
