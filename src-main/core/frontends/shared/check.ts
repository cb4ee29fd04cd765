/**
 * Small validation helpers shared by the front ends' request translators (Anthropic, Responses). Every
 * failure is a 400 `invalid_request_error` whose message and `param` name the offending field.
 */
import { randomBytes } from 'node:crypto';
import { errors, type RelayError } from '../../errors';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function bad(path: string, message: string): RelayError {
  return errors.invalid(`${path}: ${message}`, path);
}

export function requireObject(v: unknown, path: string): Json {
  if (!isObject(v)) throw bad(path, 'must be an object.');
  return v;
}

export function requireString(v: unknown, path: string, { nonEmpty = false } = {}): string {
  if (typeof v !== 'string') throw bad(path, v === undefined ? 'is required (a string).' : 'must be a string.');
  if (nonEmpty && v.trim() === '') throw bad(path, 'must not be empty.');
  return v;
}

export function optString(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  return requireString(v, path);
}

export function optNumber(v: unknown, path: string, min?: number, max?: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(path, 'must be a number.');
  if (min !== undefined && v < min) throw bad(path, `must be at least ${min}.`);
  if (max !== undefined && v > max) throw bad(path, `must be at most ${max}.`);
  return v;
}

export function optInteger(v: unknown, path: string, min?: number): number | undefined {
  const n = optNumber(v, path, min);
  if (n !== undefined && !Number.isInteger(n)) throw bad(path, 'must be an integer.');
  return n;
}

export function optBoolean(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(path, 'must be a boolean.');
  return v;
}

export function requireArray(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw bad(path, v === undefined ? 'is required (an array).' : 'must be an array.');
  return v;
}

/** A random id with a protocol prefix (`msg_`, `toolu_`, `resp_`...). */
export function newId(prefix: string, bytes = 12): string {
  return prefix + randomBytes(bytes).toString('hex');
}

/** Parse a tool call's JSON argument text into an object; anything else becomes `{}` or wraps the raw text. */
export function argumentsObject(text: string): Json {
  if (text.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : { value: v };
  } catch {
    // The model produced invalid JSON; keep it visible to the client rather than dropping it.
    return { _raw: text };
  }
}
