/**
 * `config/queryModels` (spec §4 Models + verified values): an object keyed by scene, each a list of
 * `{key, displayName, isReasoning, isVl, ...}`. Parsed tolerantly; each model keeps its scenes;
 * models only offered for `inline` completion are not chat models.
 */
import { errors, RelayError } from '../../errors';
import { positiveInt } from '../model-info';
import type { ModelInfo } from '../types';

export interface LingmaModel extends ModelInfo {
  scenes: string[];
}

export function parseModels(r: unknown): LingmaModel[] {
  const out = new Map<string, LingmaModel>();
  if (!r || typeof r !== 'object') return [];
  for (const [scene, list] of Object.entries(r as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    for (const m of list) {
      if (!m || typeof m !== 'object') continue;
      const rec = m as Record<string, unknown>;
      const key = typeof rec.key === 'string' ? rec.key.trim() : '';
      if (!key) continue;
      const known = out.get(key);
      if (known) {
        if (!known.scenes.includes(scene)) known.scenes.push(scene);
        continue;
      }
      const displayName = typeof rec.displayName === 'string' && rec.displayName.trim() ? rec.displayName.trim() : undefined;
      out.set(key, {
        id: key,
        displayName,
        aliases: displayName && displayName.toLowerCase() !== key.toLowerCase() ? [displayName] : undefined,
        reasoning: typeof rec.isReasoning === 'boolean' ? rec.isReasoning : undefined,
        vision: typeof rec.isVl === 'boolean' ? rec.isVl : undefined,
        contextLength: positiveInt(rec.contextLength ?? rec.maxInputTokens ?? rec.maxContextTokens),
        maxOutputTokens: positiveInt(rec.maxOutputTokens ?? rec.maxTokens),
        scenes: [scene],
      });
    }
  }
  return [...out.values()];
}

/** The chat models: every model except those listed only for `inline` completion. */
export function chatModels(models: LingmaModel[]): LingmaModel[] {
  return models.filter((m) => m.scenes.some((s) => s !== 'inline'));
}

/** `config/queryModels` → flat, de-duplicated ModelInfo list for chat (scenes in order). */
export function flattenModels(r: unknown): ModelInfo[] {
  return chatModels(parseModels(r)).map(({ scenes: _scenes, ...m }) => m);
}

/** The live list's "Auto" entry (`dashscope_qwen3_coder_default` on 2.11.1, `auto` on Qoder CN). */
export function autoModel(models: ModelInfo[]): ModelInfo | undefined {
  return models.find((m) => m.displayName?.toLowerCase() === 'auto') ?? models.find((m) => m.id.toLowerCase() === 'auto');
}

/**
 * The runtime key for a requested model name: the key itself, or the live entry whose display name
 * matches (so "auto" finds the Auto entry whatever its key). Unknown names pass through.
 */
export function modelKey(models: ModelInfo[], name: string): string {
  const lower = name.toLowerCase();
  const byId = models.find((m) => m.id.toLowerCase() === lower);
  if (byId) return byId.id;
  if (lower === 'auto') {
    const auto = autoModel(models);
    if (auto) return auto.id;
  }
  const byName = models.filter((m) => m.displayName?.toLowerCase() === lower || m.aliases?.some((a) => a.toLowerCase() === lower));
  return byName.length === 1 ? byName[0].id : name;
}

/** 400 for images sent to a model that cannot read them, naming one that can. */
export function notVisionError(model: string, models: ModelInfo[], why?: string): RelayError {
  const vl = models.find((m) => m.vision);
  const suggestion = vl ? ` Use a vision-capable model such as ${vl.id}${vl.displayName ? ` (${vl.displayName})` : ''}.` : ' No vision-capable model is listed for this Lingma account.';
  return errors.invalid(`${why ?? `The Lingma model ${model} does not accept images.`}${suggestion}`, 'messages', 'unsupported_content');
}
