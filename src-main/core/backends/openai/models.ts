/**
 * Model metadata of an OpenAI-compatible provider: from its `/models` answer where the upstream
 * says (OpenRouter: `context_length`, `top_provider.max_completion_tokens`,
 * `architecture.input_modalities`, `supported_parameters`; vLLM: `max_model_len`; LM Studio:
 * `max_context_length`; others: `context_window`, `max_output_tokens`, `capabilities`), or from the
 * config (`providers[].models` objects). Unknown stays undefined.
 */
import type { ModelSpec } from '../../config/schema';
import { positiveInt } from '../model-info';
import type { ModelInfo } from '../types';

const isEmbedding = (id: string): true | undefined => (/embed/i.test(id) ? true : undefined);

function clean(m: ModelInfo): ModelInfo {
  for (const k of Object.keys(m) as Array<keyof ModelInfo>) if (m[k] === undefined) delete m[k];
  return m;
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase()) : []);

/** One entry of an upstream `/models` list, or undefined when it names no model. */
export function modelFromUpstream(raw: unknown): ModelInfo | undefined {
  if (typeof raw === 'string') return raw ? clean({ id: raw, embedding: isEmbedding(raw) }) : undefined;
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as Record<string, any>;
  const id = String(r.id ?? r.name ?? r.model ?? '');
  if (!id) return undefined;
  const caps = r.capabilities && typeof r.capabilities === 'object' && !Array.isArray(r.capabilities) ? (r.capabilities as Record<string, unknown>) : {};
  const capList = list(Array.isArray(r.capabilities) ? r.capabilities : undefined);
  const inputs = list(r.architecture?.input_modalities ?? r.input_modalities ?? r.modalities);
  const params = list(r.supported_parameters);
  const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
  const m: ModelInfo = {
    id,
    embedding: isEmbedding(id),
    contextLength: positiveInt(r.context_length ?? r.context_window ?? r.max_context_length ?? r.max_model_len ?? r.top_provider?.context_length),
    maxOutputTokens: positiveInt(r.max_output_tokens ?? r.max_completion_tokens ?? r.top_provider?.max_completion_tokens),
    vision: bool(caps.vision) ?? (inputs.length ? inputs.includes('image') : capList.length ? capList.includes('vision') : undefined),
    tools: bool(caps.tools ?? caps.function_calling) ?? (params.length ? params.includes('tools') : capList.length ? capList.includes('tools') : undefined),
    reasoning: bool(caps.reasoning) ?? (params.length ? params.includes('reasoning') : capList.length ? capList.includes('thinking') || capList.includes('reasoning') : undefined),
  };
  return clean(m);
}

/** A `providers[].models` entry of the config. */
export function modelFromConfig(spec: string | ModelSpec): ModelInfo {
  if (typeof spec === 'string') return clean({ id: spec, embedding: isEmbedding(spec) });
  return clean({ ...spec, embedding: isEmbedding(spec.id) });
}
