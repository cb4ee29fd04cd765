/** The options an alias hop targeting an OpenAI-compatible provider may carry (checked when aliases load). */
import { Type, type Static } from '@sinclair/typebox';
import type { ChatRequest } from '../../chat/model';
import { HopOptionsSchema } from '../../config/schema';

export const OpenAIOptionsSchema = Type.Object(
  {
    ...HopOptionsSchema.properties,
    /** Extra fields merged into the upstream request body (non-standard knobs of Ollama, vLLM, OpenRouter ...). */
    openaiExtraBody: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Send the request's `top_k` upstream (OpenAI itself refuses it). */
    sendTopK: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export type OpenAIOptions = Static<typeof OpenAIOptionsSchema>;

/**
 * The request's hop options, typed. They were checked against this schema when the aliases
 * loaded (keys of other kinds, from a hop any kind may serve, are not read here).
 */
export function openaiOptions(req: ChatRequest): OpenAIOptions {
  return (req.options ?? {}) as OpenAIOptions;
}
