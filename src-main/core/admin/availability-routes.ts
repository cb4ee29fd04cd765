/**
 * Admin routes of the availability model (registered inside the admin plugin's scope, so its
 * admin-token check and error handler apply):
 *   POST /admin/instances/:name/clear-cooldown   a person clears a credit cool-down or a health
 *                                                backoff by hand: every trace of it goes (cool-down,
 *                                                strikes, health backoff, the metrics).
 */
import type { FastifyPluginAsync } from 'fastify';
import { errors } from '../errors';
import type { AvailabilityView } from './api-types';
import { findInstance, type AdminDeps } from './deps';

export interface ClearCooldownResult {
  ok: true;
  message: string;
  availability: AvailabilityView;
}

export const availabilityRoutes: FastifyPluginAsync<{ deps: AdminDeps }> = async (app, { deps }) => {
  app.post<{ Params: { name: string } }>('/admin/instances/:name/clear-cooldown', async (req): Promise<ClearCooldownResult> => {
    const { name } = req.params;
    const found = findInstance(deps, name);
    if (!found) throw errors.notFound(`No instance named '${name}'.`, 'instance_not_found');
    const model = deps.availability;
    model.clear(name);
    req.log.info({ instance: name }, 'admin: cool-down cleared');
    const { wait: _wait, ...availability } = model.of(found.instance) as AvailabilityView & { wait?: unknown };
    return { ok: true, message: `cool-down cleared for ${name}`, availability };
  });
};
