/**
 * The whole `chat.completion` body (`completionBody` in ./translate.ts) as a precompiled
 * serializer (fast-json-stringify): the non-streamed answer's JSON without a generic
 * `JSON.stringify` walk. The schema follows `completionBody` key for key, in its order, so the
 * text is the same as `JSON.stringify` gives (test/frontends/openai-serialize.test.ts holds them
 * equal); nothing is required, so a field the body leaves out is left out here too. Streamed
 * chunks need none: `ChunkRenderer` writes them from templates.
 */
import fastJson from 'fast-json-stringify';

const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;

const usage = {
  type: 'object',
  properties: {
    prompt_tokens: int,
    completion_tokens: int,
    total_tokens: int,
    prompt_tokens_details: { type: 'object', properties: { cached_tokens: int } },
    completion_tokens_details: { type: 'object', properties: { reasoning_tokens: int } },
  },
} as const;

const message = {
  type: 'object',
  properties: {
    role: str,
    content: { type: ['string', 'null'] },
    reasoning_content: str,
    tool_calls: {
      type: 'array',
      items: {
        type: 'object',
        properties: { id: str, type: str, function: { type: 'object', properties: { name: str, arguments: str } } },
      },
    },
  },
} as const;

/** Serializes what `completionBody` returns. */
export const serializeCompletion: (body: unknown) => string = fastJson({
  type: 'object',
  properties: {
    id: str,
    object: str,
    created: int,
    model: str,
    choices: {
      type: 'array',
      items: {
        type: 'object',
        properties: { index: int, message, logprobs: { type: 'null' }, finish_reason: { type: ['string', 'null'] } },
      },
    },
    usage,
    system_fingerprint: { type: 'null' },
  },
}) as (body: unknown) => string;
