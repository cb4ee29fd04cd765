/** Typed admin calls of the aliases, providers and keys management (core/admin/{alias,provider,key}-routes.ts). */
import type {
  AdminApiKey, AdminProviderView, AliasesBrokenBody, AliasTestResult, AliasWarning, ProviderInput, ReplaceKeyResult,
} from '../../src-main/core/admin/api-types';
import { ApiError, type AdminClient } from './client';

export interface AliasesSaved {
  ok: true;
  warnings: AliasWarning[];
}

export interface AliasesFile {
  text: string;
  path?: string;
  fileProblem?: string;
  warnings: AliasWarning[];
}

/** A 409 from saving over a broken file: its problem and the diff to show before confirming. */
export function brokenFile(e: unknown): AliasesBrokenBody | undefined {
  if (e instanceof ApiError && e.status === 409 && e.code === 'aliases_file_broken') return e.body as AliasesBrokenBody;
  return undefined;
}

export const manage = {
  aliasesFile: (c: AdminClient) => c.call<AliasesFile>('GET', '/admin/aliases'),
  saveAliases: (c: AdminClient, aliases: Record<string, unknown>, confirm = false) =>
    c.call<AliasesSaved>('PUT', '/admin/aliases', confirm ? { aliases, confirm } : { aliases }),
  saveAliasesText: (c: AdminClient, text: string, confirm = false) =>
    c.call<AliasesSaved>('PUT', '/admin/aliases', confirm ? { text, confirm } : { text }),
  testAlias: (c: AdminClient, model: string) => c.call<AliasTestResult>('POST', '/admin/aliases/test', { model }),
  addProvider: (c: AdminClient, p: ProviderInput) => c.call<{ ok: true; providers: AdminProviderView[] }>('POST', '/admin/providers', p),
  editProvider: (c: AdminClient, name: string, p: Partial<ProviderInput> & { clearApiKey?: boolean }) =>
    c.call<{ ok: true; providers: AdminProviderView[] }>('PATCH', `/admin/providers/${encodeURIComponent(name)}`, p),
  removeProvider: (c: AdminClient, name: string) => c.call<{ ok: true; providers: AdminProviderView[] }>('DELETE', `/admin/providers/${encodeURIComponent(name)}`),
  setKeyLimits: (c: AdminClient, id: string, limits: Record<string, unknown>) =>
    c.call<{ ok: true; keys: AdminApiKey[] }>('PATCH', `/admin/keys/${encodeURIComponent(id)}`, limits),
  replaceKey: (c: AdminClient, id: string, r: { create: true } | { id: string; key: string }) =>
    c.call<ReplaceKeyResult>('POST', `/admin/keys/${encodeURIComponent(id)}/replace`, r),
};
