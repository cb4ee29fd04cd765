/** The options an alias hop targeting the Lingma provider may carry (checked when aliases load). */
import { Type, type Static } from '@sinclair/typebox';
import type { ChatRequest } from '../../chat/model';
import { HopOptionsSchema } from '../../config/schema';

export const LingmaOptionsSchema = Type.Object(
  {
    ...HopOptionsSchema.properties,
    /** `agent`: the agent mode whatever the model name; `chat`: plain chat even for an agent model name. */
    lingmaMode: Type.Optional(Type.Union([Type.Literal('agent'), Type.Literal('chat')])),
    /** The Lingma model an agent model name (`lingma.agentModels`) runs on; default the live Auto entry. */
    lingmaModel: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export type LingmaOptions = Static<typeof LingmaOptionsSchema>;

/**
 * The request's hop options, typed. They were checked against this schema when the aliases
 * loaded (keys of other kinds, from a hop any kind may serve, are not read here).
 */
export function lingmaOptions(req: ChatRequest): LingmaOptions {
  return (req.options ?? {}) as LingmaOptions;
}
