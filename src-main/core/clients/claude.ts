/**
 * Claude Code: `~/.claude/settings.json`, its `env` block (JSON with comments).
 * - ANTHROPIC_BASE_URL: the relay root (Claude Code appends `/v1/messages`).
 * - ANTHROPIC_AUTH_TOKEN: the relay key, sent as `Authorization: Bearer` (no "use this API key?"
 *   prompt, unlike ANTHROPIC_API_KEY). An ANTHROPIC_API_KEY in the same block is removed: Claude
 *   Code would send both headers and the real key would go to the relay (the diff shows it; restore
 *   puts it back).
 * - Model mapping through the relay alias: ANTHROPIC_MODEL and ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL
 *   (the tiers `/model` and background tasks use) all name it.
 */
import { editJsonc, parseJsonc, type JsonEdit } from './jsonc';
import type { ClientWriter } from './types';

export const CLAUDE_MODEL_VARS = ['ANTHROPIC_MODEL', 'ANTHROPIC_DEFAULT_OPUS_MODEL', 'ANTHROPIC_DEFAULT_SONNET_MODEL', 'ANTHROPIC_DEFAULT_HAIKU_MODEL'] as const;

export const claudeCode: ClientWriter = {
  id: 'claude',
  title: 'Claude Code',
  file: ['.claude', 'settings.json'],
  format: 'json',
  render(current, t) {
    const file = '~/.claude/settings.json';
    const env = current && current.trim() ? (parseJsonc(current, file) as { env?: unknown } | undefined)?.env : undefined;
    const edits: JsonEdit[] = [];
    if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env))) edits.push({ path: ['env'], value: {} });
    edits.push({ path: ['env', 'ANTHROPIC_BASE_URL'], value: t.root }, { path: ['env', 'ANTHROPIC_AUTH_TOKEN'], value: t.apiKey });
    if (env && typeof env === 'object' && 'ANTHROPIC_API_KEY' in env) edits.push({ path: ['env', 'ANTHROPIC_API_KEY'], value: undefined });
    for (const v of CLAUDE_MODEL_VARS) edits.push({ path: ['env', v], value: t.model });
    return editJsonc(current, edits, file);
  },
};
