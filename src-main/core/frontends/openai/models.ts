/**
 * `GET /v1/models` entries: every routable `provider/id` and every non-pattern alias, each with
 * what is known of it (contract field names): `context_length`, `max_output_tokens` and
 * `capabilities: {vision, tools, reasoning}` (`tools`: `native`, `emulated` (an alias hop with
 * `toolEmulation`) or `false`). An alias inherits from its first target.
 */
import type { ModelInfo, Provider } from '../../backends/types';
import type { Resolver, Target } from '../../routing/types';

export interface ModelCapabilities {
  vision?: boolean;
  tools: 'native' | 'emulated' | false;
  reasoning?: boolean;
}

export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  description?: string;
  context_length?: number;
  max_output_tokens?: number;
  capabilities?: ModelCapabilities;
}

type Meta = Pick<ModelEntry, 'context_length' | 'max_output_tokens' | 'capabilities'>;

function metaOf(p: Provider, m: ModelInfo | undefined, target?: Target): Meta {
  const out: Meta = {};
  if (m?.contextLength) out.context_length = m.contextLength;
  if (m?.maxOutputTokens) out.max_output_tokens = m.maxOutputTokens;
  if (m?.embedding) return out;
  const native = m?.tools ?? p.capabilities.tools;
  const caps: ModelCapabilities = { tools: native ? 'native' : target?.options?.toolEmulation === true ? 'emulated' : false };
  if (m?.vision !== undefined) caps.vision = m.vision;
  else if (!p.capabilities.images) caps.vision = false;
  if (m?.reasoning !== undefined) caps.reasoning = m.reasoning;
  out.capabilities = caps;
  return out;
}

/** Every routable `provider/id` plus non-pattern aliases, with their metadata. */
export function listModels(providers: readonly Provider[], resolver: Resolver | undefined): ModelEntry[] {
  const out: ModelEntry[] = [];
  const seen = new Set<string>();
  for (const p of providers) {
    for (const m of p.models()) {
      const id = `${p.name}/${m.id}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({ id, object: 'model', created: 0, owned_by: p.name, ...metaOf(p, m) });
    }
  }
  for (const a of resolver?.aliases() ?? []) {
    if (a.pattern || seen.has(a.name)) continue;
    seen.add(a.name);
    const e: ModelEntry = { id: a.name, object: 'model', created: 0, owned_by: 'relay-alias' };
    if (a.description) e.description = a.description;
    Object.assign(e, aliasMeta(providers, resolver!, a.name));
    out.push(e);
  }
  return out;
}

/** What an alias's first target is known to offer. */
function aliasMeta(providers: readonly Provider[], resolver: Resolver, name: string): Meta {
  let target: Target | undefined;
  try {
    target = resolver.resolve(name).targets[0];
  } catch {
    return {};
  }
  const p = target && providers.find((x) => x.name === target!.provider);
  if (!p || !target) return {};
  return metaOf(p, p.models().find((m) => m.id === target!.model), target);
}
