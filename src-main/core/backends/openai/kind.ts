/** The `openai` backend kind: one provider per `providers[]` entry of `type: openai`. */
import { Value } from '@sinclair/typebox/value';
import { ProviderSchema } from '../../config/schema';
import { defineKind } from '../types';
import { createOpenAIProvider } from './index';
import { OpenAIOptionsSchema } from './options';

export const openaiKind = defineKind({
  name: 'openai',
  configSchema: ProviderSchema,
  optionsSchema: OpenAIOptionsSchema,
  // `providers[]` may hold several kinds one day: an entry is this kind's when its schema accepts it.
  entries: (config) => config.providers.filter((p) => Value.Check(ProviderSchema, p)).map((entry) => ({ provider: entry.name, entry })),
  create: (entry, deps) => createOpenAIProvider(entry, { log: deps.log.child({ provider: entry.name }) }),
});
