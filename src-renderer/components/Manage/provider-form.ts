/** The provider form's draft → the admin API's body, checked with the API's own schemas. */
import type { AdminProviderView, ProviderInput } from '../../../src-main/core/admin/api-types';
import { fieldProblems, ProviderAddBody, ProviderEditBody, tidyBody } from '../../../src-main/core/admin/schemas';

export interface ProviderDraft {
  name: string;
  baseUrl: string;
  /** Write-only: empty on edit = unchanged. */
  apiKey: string;
  clearApiKey: boolean;
  /** `Name: value` per line; empty on edit = unchanged. */
  headers: string;
  /** One model id per line; empty = ask the server's /models. */
  models: string;
  maxConcurrency: string;
  tools: boolean;
  images: boolean;
}

export function draftOf(p?: AdminProviderView): ProviderDraft {
  return {
    name: p?.name ?? '', baseUrl: p?.baseUrl ?? '', apiKey: '', clearApiKey: false, headers: '',
    models: (p?.models ?? []).join('\n'), maxConcurrency: p?.maxConcurrency ? String(p.maxConcurrency) : '',
    tools: p?.tools ?? true, images: p?.images ?? true,
  };
}

function headersOf(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const i = line.indexOf(':');
    if (i <= 0) return `Write each header as Name: value ("${line.slice(0, 20)}" has no colon).`;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** The body to send and the problems per field (empty when it can be sent). */
export function providerBody(d: ProviderDraft, isNew: boolean): { body: Partial<ProviderInput> & { clearApiKey?: boolean }; errors: Partial<Record<keyof ProviderDraft, string>> } {
  const errors: Partial<Record<keyof ProviderDraft, string>> = {};
  const headers = d.headers.trim() ? headersOf(d.headers) : undefined;
  if (typeof headers === 'string') errors.headers = headers;
  const models = d.models.split(/[\n,]/).map((m) => m.trim()).filter(Boolean);
  const raw: Record<string, unknown> = {
    baseUrl: d.baseUrl, apiKey: d.apiKey, models: isNew && !models.length ? undefined : models,
    headers: typeof headers === 'object' ? headers : undefined,
    maxConcurrency: d.maxConcurrency.trim() === '' ? undefined : Number(d.maxConcurrency), tools: d.tools, images: d.images,
  };
  if (isNew) raw.name = d.name;
  else if (d.clearApiKey) raw.clearApiKey = true;
  const body = tidyBody(raw) as Record<string, unknown>;
  const bad = fieldProblems(isNew ? ProviderAddBody : ProviderEditBody, body);
  if (bad.name) errors.name = `Name it with ${bad.name.replace(/^required; must be /, '')}.`;
  if (bad.baseUrl) errors.baseUrl = 'Enter the server\'s base URL, e.g. https://api.example.com/v1';
  if (bad.apiKey) errors.apiKey = 'At most 4096 characters.';
  if (bad.headers && !errors.headers) errors.headers = 'Header names use letters, digits and -.';
  if (bad.models) errors.models = 'One model id per line, at most 256 characters each.';
  if (bad.maxConcurrency) errors.maxConcurrency = 'A whole number from 1 to 4096.';
  if (d.clearApiKey && d.apiKey) errors.apiKey = 'Either enter a new key or remove the key, not both.';
  return { body: body as Partial<ProviderInput>, errors };
}
