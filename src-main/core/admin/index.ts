/**
 * The admin API for the dashboard: `adminPlugin(deps)` is a plain fastify plugin of the gateway
 * (`buildGateway` registers it through `extraPlugins`; it needs the gateway's auth decorators and
 * uses its one error mapping and its Host/Origin guard, so it cannot run on a bare fastify).
 * SECURITY: every admin route, HTTP and WebSocket, is registered in ONE scope (`adminScope`
 * below) guarded by `guardScope(app, 'admin')`: the gateway's `requireAdmin` is the `onRequest`
 * hook of each matched route, however its path was spelled. More admin route files go in
 * `AdminOptions.routes` or are registered inside that scope. Request bodies are checked by the
 * TypeBox route schemas of `schemas.ts` (400 naming the field), shared with the dashboard.
 * Routes:
 *   GET  /admin/state                      full snapshot (AdminSnapshot)
 *   GET  /admin/events                     WebSocket of AdminEvent (first message: a fresh snapshot)
 *   POST /admin/instances/:name/{login,logout,restart}, POST /admin/instances/login-all
 *   GET/POST /admin/accounts, PATCH/DELETE /admin/accounts/:name
 *   GET/PUT /admin/aliases, POST /admin/aliases/test (alias-routes.ts)
 *   GET/POST /admin/keys, PATCH/DELETE /admin/keys/:id, POST /admin/keys/:id/replace (key-routes.ts)
 *   GET/PATCH /admin/settings
 *   GET/POST /admin/providers, PATCH/DELETE /admin/providers/:name (provider-routes.ts)
 *   GET /admin/clients, POST /admin/clients/:id/{plan,apply,restore}   (client-routes.ts)
 *   GET /admin/discovery, POST /admin/discovery/scan, POST /admin/discovery/:id/use (discovery-routes.ts)
 *   GET /admin/requests[/:id], POST /admin/requests/:id/replay, POST /admin/{instances,providers}/:name/test (inspector-routes.ts)
 *   + AdminOptions.routes (the relay adds the usage routes, /admin/usage/...)
 *   GET  /ui/...                           the built dashboard (no auth; outside the admin scope)
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { attachedRefusal } from '../backends/lingma/accounts-api';
import { AttachedInstance } from '../backends/lingma/attach/attached';
import type { InstanceSnapshot } from '../backends/types';
import { errors, toRelayError } from '../errors';
import type { GatewayPlugin } from '../gateway/build';
import type { HealthSnapshot, ReloadOutcome } from '../routing/types';
import type { LiveRequest, LogLine } from '../events';
import type { AdminEvent } from './api-types';
import { guardScope, selectWsSubprotocol } from '../gateway/plugins/auth';
import { findInstance, type AdminDeps } from './deps';
import { LiveTracker, toAdminLog, toAdminRequest } from './live';
import { accountsView, aliasesView, buildSnapshot, instanceView, settingsView, type StateContext } from './state';
import { availabilityRoutes } from './availability-routes';
import { registerDashboard } from './static';
import { AccountAddBody, AccountEditBody, SettingsBody } from './schemas';
import { checkBody } from './validate';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { TSchema } from '@sinclair/typebox';
import type { FastifySchemaCompiler } from 'fastify';
import { clientRoutes } from './client-routes';
import { discoveryRoutes } from './discovery-routes';
import { inspectorRoutes } from './inspector-routes';
import { aliasRoutes } from './alias-routes';
import { keyRoutes } from './key-routes';
import { providerRoutes } from './provider-routes';

export type { AdminDeps } from './deps';

export interface AdminOptions {
  /** Bytes a client may have unsent before it is dropped. */
  maxBufferedBytes?: number;
  /** Per-second tick (tests may shorten it). */
  tickMs?: number;
  /** More admin route plugins (e.g. the ledger's usage routes), registered inside the admin scope. */
  routes?: GatewayPlugin[];
  /** Home folder whose client settings "Connect a client" edits (tests: a fake home). Default: the user's. */
  clientsHome?: string;
}

export const SLOW_CLIENT_CLOSE_CODE = 4001;

/**
 * The admin scope's validator for TypeBox route schemas: a body is tidied (empty optional fields
 * absent, text trimmed) and checked; a problem is a 400 RelayError naming the field, which the
 * gateway's one error handler sends. Never coerces types, never drops unknown fields silently.
 */
const adminValidator: FastifySchemaCompiler<TSchema> = ({ schema }) => (value: unknown) => {
  try {
    return { value: checkBody(schema, value) };
  } catch (e) {
    return { error: e as Error };
  }
};

export function adminPlugin(deps: AdminDeps, opts: AdminOptions = {}): FastifyPluginAsync {
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const tickMs = opts.tickMs ?? 1000;
  const { hub } = deps;

  // SECURITY: the admin scope. Every admin route (HTTP and WebSocket) is registered in here, after
  // guardScope, so requireAdmin runs for each of them on the matched route (never a test on the
  // path); buildGateway's route guard refuses an /admin route registered anywhere else, and
  // guardScope throws outside the gateway (no requireAdmin decorated).
  const adminScope = async function admin(scope: FastifyInstance) {
    guardScope(scope, 'admin');
    scope.setValidatorCompiler(adminValidator);
    const app = scope.withTypeProvider<TypeBoxTypeProvider>();
    const tracker = new LiveTracker(hub);
    const clients = new Set<WebSocket>();
    // Log lines are parsed for the hub's `log` event only while a dashboard listens (the tracker
    // keeps the unparsed text for snapshots): no JSON.parse per request line otherwise.
    const join = (ws: WebSocket): void => {
      clients.add(ws);
      if (clients.size === 1) hub.on('log', onLog);
    };
    const leave = (ws: WebSocket): void => {
      if (clients.delete(ws) && clients.size === 0) hub.off('log', onLog);
    };
    const ctx: StateContext = { deps, tracker, startedAt: Date.now() };

    // ---- live events ----
    const send = (ws: WebSocket, ev: AdminEvent): void => {
      if (ws.readyState !== ws.OPEN) return;
      // SECURITY/robustness: a client that does not read is dropped rather than buffered without bound.
      if (ws.bufferedAmount > maxBuffered) {
        leave(ws);
        try {
          ws.close(SLOW_CLIENT_CLOSE_CODE, 'client too slow: events were not read in time');
        } catch {
          // already closing
        }
        setTimeout(() => ws.terminate(), 1000).unref();
        return;
      }
      ws.send(JSON.stringify(ev));
    };
    const broadcast = (ev: AdminEvent | (() => AdminEvent)): void => {
      if (!clients.size) return;
      const e = typeof ev === 'function' ? ev() : ev;
      for (const ws of clients) send(ws, e);
    };

    const onInstance = (snap: InstanceSnapshot) => broadcast(() => {
      const found = findInstance(deps, snap.name);
      return {
        type: 'instance',
        instance: found ? instanceView(ctx, found.instance, snap) : {
          name: snap.name, provider: snap.provider, kind: snap.kind, state: snap.state, reason: snap.reason,
          login: snap.login, inFlight: 0, limit: 0, lastError: snap.lastError, startedAt: snap.startedAt,
          restarts: snap.restarts, actions: { login: false, logout: false, restart: false },
        },
      };
    });
    const onLog = (l: LogLine) => broadcast(() => ({ type: 'log', line: toAdminLog(l) }));
    const onStart = (r: LiveRequest) => broadcast(() => ({ type: 'request', phase: 'start', request: toAdminRequest(r) }));
    const onUpdate = (r: LiveRequest) => broadcast(() => ({ type: 'request', phase: 'update', request: toAdminRequest(r) }));
    const onEnd = (r: LiveRequest) => broadcast(() => ({ type: 'request', phase: 'end', request: toAdminRequest(r) }));
    const onHealth = (h: HealthSnapshot) => broadcast(() => ({ type: 'health', health: { ...h } }));
    const onAliases = (o: ReloadOutcome) => broadcast(() => ({ type: 'aliases', outcome: { ...o }, aliases: aliasesView(ctx) }));
    const onConfig = (what: string) => broadcast({ type: 'config', what });
    hub.on('instance', onInstance);
    hub.on('requestStart', onStart);
    hub.on('requestUpdate', onUpdate);
    hub.on('requestEnd', onEnd);
    hub.on('health', onHealth);
    hub.on('aliases', onAliases);
    hub.on('config', onConfig);

    const timer = setInterval(() => {
      const { inFlight, queued } = deps.admission.stats();
      const counters = tracker.tick(inFlight, queued);
      broadcast(() => {
        const perInstance: Record<string, number> = {};
        for (const p of deps.providers()) for (const i of p.instances()) perInstance[i.name] = deps.pool.inFlight(i.name);
        const s = deps.sessionCache?.();
        const sessionCache = s ? { hits: s.hits, misses: s.misses, entries: s.entries } : undefined;
        return { type: 'tick', counters, inFlight: perInstance, sessionCache };
      });
    }, tickMs);
    timer.unref();

    app.addHook('onClose', async () => {
      clearInterval(timer);
      for (const l of [
        ['instance', onInstance], ['log', onLog], ['requestStart', onStart], ['requestUpdate', onUpdate],
        ['requestEnd', onEnd], ['health', onHealth], ['aliases', onAliases], ['config', onConfig],
      ] as const) hub.off(l[0], l[1] as never);
      tracker.close();
      for (const ws of clients) ws.terminate();
      clients.clear();
    });

    const baseUrlOf = (req: FastifyRequest): string => `${req.protocol}://${req.headers.host ?? `127.0.0.1:${deps.config.server.port}`}`;

    // SECURITY: the gateway's guard refused foreign Origins before the upgrade (it also knows the
    // desktop app's origin), and requireAdmin checked the token (`bearer.<token>` subprotocol).
    app.get('/admin/events', { websocket: true }, (socket, req) => {
      join(socket);
      socket.on('close', () => leave(socket));
      socket.on('error', () => leave(socket));
      // Incoming messages are not part of the protocol; ignore them (a ping keeps proxies happy).
      socket.on('message', () => undefined);
      buildSnapshot({ ...ctx, baseUrl: baseUrlOf(req) })
        .then((snapshot) => send(socket, { type: 'snapshot', snapshot }))
        .catch((e) => {
          req.log.warn({ err: toRelayError(e).detail }, 'admin snapshot failed');
          socket.close(1011, 'snapshot failed');
        });
    });

    app.get('/admin/state', async (req) => buildSnapshot({ ...ctx, baseUrl: baseUrlOf(req) }));

    // ---- instances ----
    const run = (req: FastifyRequest, what: string, p: Promise<unknown>): void => {
      p.catch((e) => {
        const re = toRelayError(e);
        // Errors are client-safe RelayErrors; the detail field never carries a password.
        req.log.warn({ code: re.code }, `${what} failed: ${re.message}`);
      });
    };

    app.post<{ Params: { name: string; action: string } }>('/admin/instances/:name/:action', async (req, reply) => {
      const { name, action } = req.params;
      if (action !== 'login' && action !== 'logout' && action !== 'restart') {
        throw errors.notFound(`Unknown instance action '${action}' (use login, logout or restart).`);
      }
      const found = findInstance(deps, name);
      if (!found) throw errors.notFound(`No instance named '${name}'.`, 'instance_not_found');
      const { provider, instance } = found;
      // An app Relay attached to (spec §7) is not Relay's to sign in, out or restart.
      if (instance instanceof AttachedInstance) throw attachedRefusal(instance);
      const accounts = provider.kind === 'lingma' ? deps.accounts : null;
      if (accounts) {
        run(req, `${action} ${name}`, accounts[action](name));
      } else if (action === 'restart') {
        run(req, `restart ${name}`, instance.restart ? instance.restart() : instance.stop().then(() => instance.start()));
      } else {
        const op = instance[action];
        if (!op) throw errors.invalid(`Instance '${name}' has no ${action} (only Lingma accounts do).`);
        run(req, `${action} ${name}`, op.call(instance));
      }
      req.log.info({ instance: name }, `admin: ${action} requested`);
      return reply.code(202).send({ ok: true, message: `${action} started for ${name}` });
    });

    app.post('/admin/instances/login-all', async (req, reply) => {
      if (deps.accounts) run(req, 'login all', deps.accounts.loginAll());
      else {
        let n = 0;
        for (const p of deps.providers()) for (const i of p.instances()) if (i.login) { n++; run(req, `login ${i.name}`, i.login()); }
        if (!n) throw errors.invalid('No instance needs a login (only Lingma accounts do).');
      }
      return reply.code(202).send({ ok: true, message: 'login started for every account' });
    });

    await app.register(availabilityRoutes, { deps });
    await app.register(clientRoutes, { deps, home: opts.clientsHome });
    await app.register(discoveryRoutes, { deps });
    await app.register(inspectorRoutes, { deps });

    // ---- accounts (passwords are write-only) ----
    // The account API announces each change itself (one `config` event per change).
    const needAccounts = () => {
      if (!deps.accounts) throw errors.invalid('Accounts are not available: the Lingma backend is not set up (set lingma.binary or LINGMA_BIN).', undefined, 'accounts_unavailable');
      return deps.accounts;
    };
    app.get('/admin/accounts', async () => accountsView(deps));
    app.post('/admin/accounts', { schema: { body: AccountAddBody } }, async (req, reply) => {
      await needAccounts().add(req.body);
      return reply.code(201).send({ ok: true, accounts: await accountsView(deps) });
    });
    app.patch('/admin/accounts/:name', { schema: { body: AccountEditBody } }, async (req) => {
      await needAccounts().update((req.params as { name: string }).name, req.body);
      return { ok: true, accounts: await accountsView(deps) };
    });
    app.delete<{ Params: { name: string } }>('/admin/accounts/:name', async (req) => {
      await needAccounts().remove(req.params.name);
      return { ok: true, accounts: await accountsView(deps) };
    });

    // ---- aliases (alias-routes.ts) ----
    await app.register(aliasRoutes, { ctx });

    // ---- API keys (key-routes.ts) ----
    await app.register(keyRoutes, { deps });
    await app.register(providerRoutes, { deps });

    // ---- live settings ----
    app.get('/admin/settings', async () => settingsView(deps));
    app.patch('/admin/settings', { schema: { body: SettingsBody } }, async (req) => {
      const patch = req.body;
      // The relay applies it everywhere (config, loggers, admission) and saves it for the next start.
      deps.applySettings(patch);
      req.log.info({ settings: Object.keys(patch) }, 'admin: settings changed');
      hub.emit('config', 'settings');
      return { ok: true, settings: settingsView(deps) };
    });

    // More admin route files (usage, ...) share this scope and its token check.
    for (const r of opts.routes ?? []) {
      if (typeof r === 'function') await app.register(r);
      else await app.register(r.plugin, r.opts ?? {});
    }
  };

  return async function adminWithDashboard(app: FastifyInstance) {
    // Registered once per server: the gateway has normally done it already.
    if (!app.hasDecorator('websocketServer')) await app.register(websocket, { options: { handleProtocols: selectWsSubprotocol } });
    await app.register(adminScope);
    // The dashboard's files need no token (the page holds no data): outside the admin scope.
    await registerDashboard(app, deps.rendererDir);
  };
}
