/**
 * "Connect a client" (registered inside the admin plugin's scope: its admin-token check and error
 * handler apply). The client id only picks an entry of a fixed list (`core/clients`); file paths
 * are the home folder plus that client's fixed names; backups go to the data folder.
 *   GET  /admin/clients                 every writable client with its status
 *   POST /admin/clients/:id/plan        { model? } → the diff writing would make (nothing written)
 *   POST /admin/clients/:id/apply       { model? } → back up the original, write, return the diff
 *   POST /admin/clients/:id/restore     the original bytes back (or the created file removed)
 */
import { homedir } from 'node:os';
import type { FastifyPluginAsync } from 'fastify';
import {
  applyClient, checkModelName, CLIENTS, clientById, clientStatus, defaultModel, planClient, restoreClient, targetOf,
  type ClientTarget,
} from '../clients/index';
import { errors } from '../errors';
import type { AdminDeps } from './deps';
import type { ClientsView } from './api-types';

export interface ClientRoutesOptions {
  deps: AdminDeps;
  /** The home folder whose client files are edited (tests: a fake home). Default: the user's. */
  home?: string;
}

export const clientRoutes: FastifyPluginAsync<ClientRoutesOptions> = async (app, { deps, home: homeOpt }) => {
  const home = () => homeOpt ?? homedir();

  const baseUrl = (): string => {
    try {
      const u = deps.url();
      if (u) return u;
    } catch {
      // not listening yet
    }
    return `http://127.0.0.1:${deps.config.server.port}`;
  };

  const modelFor = (body: unknown): string => {
    const m = body && typeof body === 'object' ? (body as { model?: unknown }).model : undefined;
    if (m !== undefined && m !== null && m !== '') return checkModelName(m);
    let aliases: { name: string; pattern?: boolean }[] = [];
    try {
      aliases = deps.resolver.aliases();
    } catch {
      aliases = [];
    }
    const models = deps.providers().flatMap((p) => {
      try {
        return p.models().map((x) => `${p.name}/${x.id}`);
      } catch {
        return [];
      }
    });
    const found = defaultModel(aliases, models);
    if (!found) throw errors.invalid('No model to point the client at: add an alias or a provider first, or pass "model".', 'model', 'client_no_model');
    return found;
  };

  const target = (body?: unknown): ClientTarget => {
    const key = deps.keys.primaryKey();
    if (!key) throw errors.invalid('No API key can be written: create one in Settings first.', undefined, 'client_no_key');
    return targetOf(baseUrl(), key, modelFor(body));
  };

  app.get('/admin/clients', async (): Promise<ClientsView> => {
    let t: ClientTarget | undefined;
    let problem: string | undefined;
    try {
      t = target();
    } catch (e) {
      problem = e instanceof Error ? e.message : String(e);
    }
    return {
      model: t?.model,
      problem,
      clients: CLIENTS.map((c) =>
        t
          ? clientStatus(c, { home: home(), dataDir: deps.dataDir, target: t })
          : { ...clientStatus(c, { home: home(), dataDir: deps.dataDir, target: { endpoint: '', root: '', apiKey: '', model: '' } }), configured: false },
      ),
    };
  });

  app.post<{ Params: { id: string } }>('/admin/clients/:id/plan', async (req) => {
    const writer = clientById(req.params.id);
    return planClient(writer, { home: home(), dataDir: deps.dataDir, target: target(req.body) });
  });

  app.post<{ Params: { id: string } }>('/admin/clients/:id/apply', async (req) => {
    const writer = clientById(req.params.id);
    const result = applyClient(writer, { home: home(), dataDir: deps.dataDir, target: target(req.body) });
    req.log.info({ client: writer.id, written: result.written }, 'admin: client configured');
    return result;
  });

  app.post<{ Params: { id: string } }>('/admin/clients/:id/restore', async (req) => {
    const writer = clientById(req.params.id);
    const result = restoreClient(writer, { home: home(), dataDir: deps.dataDir });
    req.log.info({ client: writer.id, action: result.action }, 'admin: client settings restored');
    return result;
  });
};
