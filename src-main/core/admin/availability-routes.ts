/**
 * Admin routes of the availability model (registered inside the admin plugin's scope, so its
 * admin-token check and error handler apply):
 *   POST /admin/instances/:name/clear-cooldown   a person clears a credit cool-down or a health
 *                                                backoff by hand: every trace of it goes (cool-down,
 *                                                strikes, health backoff, the metrics).
 *   POST /admin/instances/:name/test             the dashboard's "Test": the instance's own cheap
 *                                                check (`probe`: model listing, sign-in status) now,
 *                                                bounded; reports whether it answered and how fast.
 */
import type { FastifyPluginAsync } from 'fastify';
import { errors, toRelayError } from '../errors';
import type { AvailabilityView, TestInstanceResult } from './api-types';
import { findInstance, type AdminDeps } from './deps';

export interface ClearCooldownResult {
  ok: true;
  message: string;
  availability: AvailabilityView;
}

/** How long "Test" waits for an instance's check. */
export const TEST_TIMEOUT_MS = 15_000;

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

  app.post<{ Params: { name: string } }>('/admin/instances/:name/test', async (req): Promise<TestInstanceResult> => {
    const { name } = req.params;
    const found = findInstance(deps, name);
    if (!found) throw errors.notFound(`No instance named '${name}'.`, 'instance_not_found');
    const started = Date.now();
    let ok = true;
    let message: string;
    try {
      await found.instance.probe(AbortSignal.timeout(TEST_TIMEOUT_MS));
      message = `${name} answered`;
    } catch (e) {
      ok = false;
      const re = toRelayError(e);
      message = `${name} did not answer: ${re.message}`;
    }
    const ms = Date.now() - started;
    req.log.info({ instance: name, ok, ms }, 'admin: instance tested');
    const { wait: _wait, ...availability } = deps.availability.of(found.instance) as AvailabilityView & { wait?: unknown };
    return { ok, message, ms, availability };
  });
};
