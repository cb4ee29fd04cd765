/**
 * Admin routes of discovery (`core/backends/discovery.ts`), registered inside the admin plugin's
 * scope, so its admin-token check and error handler apply:
 *   GET  /admin/discovery            what was found (local servers on 127.0.0.1, an installed Lingma)
 *   POST /admin/discovery/scan       probe again now
 *   POST /admin/discovery/:id/use    a person confirms: the server `id` becomes provider `id`
 * Nothing found is used before that confirmation.
 */
import type { FastifyPluginAsync } from 'fastify';
import { errors } from '../errors';
import type { DiscoveredServer, DiscoveryView } from '../state-types';
import type { AdminDeps } from './deps';

export interface UseDiscoveredResult {
  ok: true;
  message: string;
  server: DiscoveredServer;
  discovery: DiscoveryView;
}

export const discoveryRoutes: FastifyPluginAsync<{ deps: AdminDeps }> = async (app, { deps }) => {
  const need = () => deps.discovery;
  app.get('/admin/discovery', async (): Promise<DiscoveryView> => need().view());
  app.post('/admin/discovery/scan', async (req): Promise<DiscoveryView> => {
    const view = await need().scan();
    req.log.info({ found: view.servers.map((s) => s.id) }, 'admin: discovery scan');
    return view;
  });
  app.post<{ Params: { id: string } }>('/admin/discovery/:id/use', async (req): Promise<UseDiscoveredResult> => {
    const d = need();
    const server = await d.use(req.params.id);
    req.log.info({ provider: server.id }, 'admin: discovered server put to use');
    return { ok: true, message: `${server.label} on :${server.port} serves as provider '${server.id}'`, server, discovery: d.view() };
  });
};
