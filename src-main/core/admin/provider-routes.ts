/**
 * OpenAI-compatible provider admin routes (registered inside the admin scope: admin token required):
 *   GET    /admin/providers          every OpenAI-compatible provider; keys only as "set" (hasApiKey)
 *   POST   /admin/providers          add one (applied at once, saved in settings.json; key in the secret store)
 *   PATCH  /admin/providers/:name    change one added here; an omitted key is kept, `clearApiKey` removes it
 *   DELETE /admin/providers/:name    remove one added here
 *   (POST /admin/providers/:name/test, one tiny chat, is in inspector-routes.ts)
 * SECURITY: a key is write-only: no response and no log line carries it.
 */
import type { FastifyInstance } from 'fastify';
import type { AdminProviderView } from './api-types';
import type { AdminDeps } from './deps';
import { ProviderAddBody, ProviderEditBody } from './schemas';

export async function providerRoutes(app: FastifyInstance, opts: { deps: AdminDeps }): Promise<void> {
  const { deps } = opts;
  const view = (): { ok: true; providers: AdminProviderView[] } => ({ ok: true, providers: deps.providerAdmin.list() });

  app.get('/admin/providers', async () => deps.providerAdmin.list());

  app.post('/admin/providers', { schema: { body: ProviderAddBody } }, async (req, reply) => {
    const body = req.body as ProviderAddBody;
    await deps.providerAdmin.add(body);
    req.log.info({ provider: body.name }, 'admin: provider added');
    return reply.code(201).send(view());
  });

  app.patch<{ Params: { name: string } }>('/admin/providers/:name', { schema: { body: ProviderEditBody } }, async (req) => {
    const body = req.body as ProviderEditBody;
    await deps.providerAdmin.edit(req.params.name, body);
    req.log.info({ provider: req.params.name, fields: Object.keys(body) }, 'admin: provider changed');
    return view();
  });

  app.delete<{ Params: { name: string } }>('/admin/providers/:name', async (req) => {
    await deps.providerAdmin.remove(req.params.name);
    req.log.info({ provider: req.params.name }, 'admin: provider removed');
    return view();
  });
}
