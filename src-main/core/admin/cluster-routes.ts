/**
 * Team mode, admin API: `GET /admin/cluster` (admin token, registered in the admin scope through
 * `AdminOptions.routes` only when the node is in a team) answers the nodes alive, each with its
 * address, when it last reported, the accounts it runs and its requests in flight, and the totals
 * over the team (`ClusterView`, `core/cluster/view.ts`). Without team mode the route does not
 * exist (404), which is how the dashboard knows to hide its Nodes view.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ClusterView } from '../cluster/view';
import { errors } from '../errors';

export interface ClusterAdminOptions {
  view(): Promise<ClusterView>;
}

export const clusterAdminRoutes: FastifyPluginAsync<ClusterAdminOptions> = async (app, opts) => {
  app.get('/admin/cluster', async (_req, reply) => {
    try {
      return reply.header('cache-control', 'no-store').send(await opts.view());
    } catch {
      throw errors.unavailable('The team state in Redis cannot be read now.', { code: 'cluster_unavailable', retryable: true });
    }
  });
};
