/**
 * qwen-code: `~/.qwen/settings.json` (JSON with comments). An OpenAI-compatible entry in
 * `modelProviders.openai` (id = the relay alias, `baseUrl` = the relay, `envKey` names the key's
 * variable), the key itself in the settings' `env` block (which qwen-code loads, below the shell's
 * variables), `security.auth.selectedType: "openai"` and `model.name` so it starts on the relay.
 * An entry already pointing at this relay (same `baseUrl`) is replaced, others are kept.
 */
import { editJsonc, parseJsonc, type JsonEdit } from './jsonc';
import type { ClientWriter } from './types';

export const QWEN_ENV_KEY = 'LINGMA_RELAY_API_KEY';

export const qwenCode: ClientWriter = {
  id: 'qwen',
  title: 'qwen-code',
  file: ['.qwen', 'settings.json'],
  format: 'json',
  render(current, t) {
    const file = '~/.qwen/settings.json';
    const doc = (current && current.trim() ? parseJsonc(current, file) : undefined) as Record<string, any> | undefined;
    const entry = { id: t.model, name: `Lingma Relay (${t.model})`, baseUrl: t.endpoint, envKey: QWEN_ENV_KEY };
    const edits: JsonEdit[] = [];
    const obj = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (doc?.env !== undefined && !obj(doc.env)) edits.push({ path: ['env'], value: {} });
    edits.push({ path: ['env', QWEN_ENV_KEY], value: t.apiKey });
    const list = doc?.modelProviders?.openai;
    if (Array.isArray(list)) {
      const at = list.findIndex((m: any) => m && typeof m === 'object' && m.baseUrl === t.endpoint);
      edits.push(at >= 0 ? { path: ['modelProviders', 'openai', at], value: entry } : { path: ['modelProviders', 'openai', -1], value: entry, insert: true });
    } else {
      edits.push({ path: ['modelProviders', 'openai'], value: [entry] });
    }
    edits.push({ path: ['security', 'auth', 'selectedType'], value: 'openai' }, { path: ['model', 'name'], value: t.model });
    return editJsonc(current, edits, file);
  },
};
