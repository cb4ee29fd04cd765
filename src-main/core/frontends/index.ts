/**
 * The front ends, registered the one way: `frontendPlugins(opts)` gives the three protocol plugins
 * (OpenAI, Anthropic, Responses) with the same options, each for its own fastify scope. The relay
 * passes them to `buildGateway` in `extraPlugins` (and so do the tests that build a gateway).
 */
import type { FastifyPluginAsync } from 'fastify';
import { anthropicRoutes } from './anthropic/routes';
import { openaiRoutes } from './openai/routes';
import { responsesRoutes } from './responses/routes';
import type { FrontendOptions } from './shared/options';

export type { FrontendOptions } from './shared/options';

export interface FrontendPlugin {
  plugin: FastifyPluginAsync<FrontendOptions>;
  opts: FrontendOptions;
}

export function frontendPlugins(opts: FrontendOptions): FrontendPlugin[] {
  return [openaiRoutes, anthropicRoutes, responsesRoutes].map((plugin) => ({ plugin, opts }));
}
