/**
 * The clients "Connect a client" (dashboard) and `configure <client>` (headless) can set up.
 * Everything else (Cursor, Cline, the SDKs) is copy-paste in the dashboard.
 */
import { errors } from '../errors';
import { claudeCode } from './claude';
import { codexCli } from './codex';
import { continueDev } from './continue';
import { qwenCode } from './qwen';
import type { ClientTarget, ClientWriter } from './types';

export const CLIENTS: readonly ClientWriter[] = [claudeCode, codexCli, qwenCode, continueDev];

export function clientById(id: string): ClientWriter {
  const found = CLIENTS.find((c) => c.id === id);
  if (!found) {
    const shown = String(id).slice(0, 40).replace(/[^\x20-\x7e]/g, '?');
    throw errors.notFound(`Unknown client '${shown}'. Known clients: ${CLIENTS.map((c) => c.id).join(', ')}.`, 'client_not_found');
  }
  return found;
}

/** The client target from the relay's base URL (`http://host:port`, no `/v1`). */
export function targetOf(baseUrl: string, apiKey: string, model: string): ClientTarget {
  const u = new URL(baseUrl);
  // A relay listening on every interface is reached on loopback by clients on this machine.
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  else if (u.hostname === '[::]') u.hostname = '[::1]';
  const root = u.toString().replace(/\/+$/, '').replace(/\/v1$/, '');
  return { root, endpoint: `${root}/v1`, apiKey, model };
}

/** `http://host:port` of a relay configured to listen on `host:port`. */
export function baseUrlOf(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return targetOf(`http://${h}:${port}`, '', 'x').root;
}

/** The model clients ask for by default: the first plain alias, else the first provider model. */
export function defaultModel(aliases: { name: string; pattern?: boolean }[], providerModels: string[]): string | undefined {
  return aliases.find((a) => !a.pattern && !a.name.includes('*'))?.name ?? providerModels[0];
}

/** A model name given from outside (request body, flag): a value in a file, never a path. */
export function checkModelName(model: unknown): string {
  if (typeof model !== 'string' || !/^[A-Za-z0-9_.:/@+*-]{1,128}$/.test(model)) {
    throw errors.invalid('model must be 1-128 letters, digits and . _ - : / @ + * (a relay alias or provider/model).', 'model');
  }
  return model;
}

export { applyClient, clientStatus, planClient, restoreClient, type ApplyResult, type ClientPlan, type ClientStatus, type RestoreResult } from './plan';
export type { ClientTarget, ClientWriter } from './types';
