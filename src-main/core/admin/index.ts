/**
 * The admin API for the dashboard: `adminPlugin(relay)` is a fastify plugin that `buildGateway`
 * registers through `extraPlugins`. SECURITY: every admin route, HTTP and WebSocket, is registered
 * in ONE scope (`adminScope` below) guarded by `guardScope(app, 'admin')`: the gateway's
 * `requireAdmin` is the `onRequest` hook of each matched route, however its path was spelled.
 * More admin route files go in `AdminOptions.routes` or are registered inside that scope.
 * Routes:
 *   GET  /admin/state                      full snapshot (AdminSnapshot)
 *   GET  /admin/events                     WebSocket of AdminEvent (first message: a fresh snapshot)
 *   POST /admin/instances/:name/{login,logout,restart}, POST /admin/instances/login-all
 *   GET/POST /admin/accounts, PATCH/DELETE /admin/accounts/:name
 *   GET/PUT /admin/aliases
 *   GET/POST /admin/keys, DELETE /admin/keys/:id
 *   GET/PATCH /admin/settings
 *   GET /admin/clients, POST /admin/clients/:id/{plan,apply,restore}   (client-routes.ts)
 *   GET /admin/discovery, POST /admin/discovery/scan, POST /admin/discovery/:id/use (discovery-routes.ts)
 *   + AdminOptions.routes (the relay adds the usage routes, /admin/usage/...)
 *   GET  /ui/...                           the built dashboard (no auth; outside the admin scope)
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import YAML from 'yaml';
import type { InstanceSnapshot } from '../backends/types';
import type { AliasConfig } from '../config/schema';
import { errors, isRelayError, toRelayError } from '../errors';
import type { GatewayPlugin } from '../gateway/build';
import type { HealthSnapshot, ReloadOutcome } from '../routing/types';
import type { LiveRequest, LogLine } from '../events';
import type { AdminEvent, CreateKeyResult } from './api-types';
import { adminTokenHook, guardScope, selectWsSubprotocol } from '../gateway/plugins/auth';
import { normalizeError, sendRelayError } from '../gateway/plugins/errors';
import { accountsProvider, adminTokenOf, providersOf, type RelayLike } from './deps';
import { LiveTracker, toAdminLog, toAdminRequest } from './live';
import {
  accountsView, aliasesView, buildSnapshot, findInstance, instanceView, keysView, settingsView, type StateContext,
} from './state';
import { availabilityRoutes } from './availability-routes';
import { clientRoutes } from './client-routes';
import { discoveryRoutes } from './discovery-routes';
import { defaultRendererDir, registerDashboard } from './static';
import { parseAccount, parseAliasesBody, parseCreateKey, parseSettings } from './validate';
import { applyLiveSettings } from '../config/live-settings';

export type { RelayLike } from './deps';

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

function aliasesPathOf(relay: RelayLike): string | undefined {
  if (relay.config.aliasesFile) return resolve(relay.config.aliasesFile);
  if (relay.dataDir) return join(relay.dataDir, 'aliases.yaml');
  return undefined;
}

function readAliasesRaw(relay: RelayLike, path: string | undefined): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...(relay.config.aliases ?? {}) };
  if (path && existsSync(path)) {
    try {
      const parsed = YAML.parse(readFileSync(path, 'utf8')) as unknown;
      const fromFile = parsed && typeof parsed === 'object' && 'aliases' in (parsed as object) ? (parsed as { aliases: unknown }).aliases : parsed;
      if (fromFile && typeof fromFile === 'object') Object.assign(merged, fromFile);
    } catch {
      // An unreadable file is reported by the resolver's reload outcome; show what we have.
    }
  }
  return merged;
}

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

export function adminPlugin(relay: RelayLike, opts: AdminOptions = {}): FastifyPluginAsync {
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const tickMs = opts.tickMs ?? 1000;

  // buildGateway's auth plugin decorates requireAdmin next to its Host/Origin guard.
  let guarded = false;

  // SECURITY: the admin scope. Every admin route (HTTP and WebSocket) is registered in here, after
  // guardScope, so requireAdmin runs for each of them on the matched route (never a test on the
  // path); buildGateway's route guard refuses an /admin route registered anywhere else.
  const adminScope = async function admin(app: FastifyInstance) {
    guardScope(app, 'admin');
    const tracker = new LiveTracker(relay.hub);
    const clients = new Set<WebSocket>();
    const aliasesPath = aliasesPathOf(relay);
    const ctx: StateContext = {
      relay, tracker, startedAt: Date.now(), aliasesPath,
      aliasesRaw: () => readAliasesRaw(relay, aliasesPath),
    };

    // ---- live events ----
    const send = (ws: WebSocket, ev: AdminEvent): void => {
      if (ws.readyState !== ws.OPEN) return;
      // SECURITY/robustness: a client that does not read is dropped rather than buffered without bound.
      if (ws.bufferedAmount > maxBuffered) {
        clients.delete(ws);
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
      const found = findInstance(relay, snap.name);
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
    const hub = relay.hub;
    hub.on('instance', onInstance);
    hub.on('log', onLog);
    hub.on('requestStart', onStart);
    hub.on('requestUpdate', onUpdate);
    hub.on('requestEnd', onEnd);
    hub.on('health', onHealth);
    hub.on('aliases', onAliases);
    hub.on('config', onConfig);

    const timer = setInterval(() => {
      let inFlight = tracker.live.size;
      let queued = 0;
      try {
        const s = relay.admission?.stats();
        if (s) ({ inFlight, queued } = s);
      } catch {
        // keep the tracker's numbers
      }
      const counters = tracker.tick(inFlight, queued);
      broadcast(() => {
        const perInstance: Record<string, number> = {};
        for (const p of providersOf(relay)) {
          for (const i of p.instances()) {
            const n = relay.pool?.inFlight?.(i.name);
            perInstance[i.name] = typeof n === 'number' ? n : tracker.inFlightOf(i.name);
          }
        }
        let sessionCache: { hits: number; misses: number; entries: number } | undefined;
        try {
          const s = accountsProvider(relay)?.sessionCacheStats?.();
          if (s) sessionCache = { hits: s.hits ?? 0, misses: s.misses ?? 0, entries: s.entries ?? 0 };
        } catch {
          sessionCache = undefined;
        }
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

    const baseUrlOf = (req: FastifyRequest): string => `${req.protocol}://${req.headers.host ?? `127.0.0.1:${relay.config.server.port}`}`;

    app.get('/admin/events', { websocket: true }, (socket, req) => {
      // SECURITY: inside buildGateway the guard plugin already refused foreign Origins (it also
      // knows the desktop app's origin). Registered on its own, apply the same rule here, so a
      // page from another origin cannot open this socket even if it somehow had the token.
      const origin = req.headers.origin;
      if (!guarded && origin && origin !== baseUrlOf(req) && !relay.config.server.corsOrigins.includes(origin)) {
        socket.close(1008, 'origin not allowed');
        return;
      }
      clients.add(socket);
      socket.on('close', () => clients.delete(socket));
      socket.on('error', () => clients.delete(socket));
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
    const run = (req: FastifyRequest, what: string, p: unknown): void => {
      Promise.resolve(p).catch((e) => {
        const re = toRelayError(e);
        // Errors are client-safe RelayErrors; the detail field never carries a password.
        req.log.warn({ code: re.code }, `${what} failed: ${re.message}`);
      });
    };

    app.post<{ Params: { name: string; action: string } }>('/admin/instances/:name/:action', async (req, reply) => {
      const { name, action } = req.params;
      if (!['login', 'logout', 'restart'].includes(action)) {
        throw errors.notFound(`Unknown instance action '${action}' (use login, logout or restart).`);
      }
      const found = findInstance(relay, name);
      if (!found) throw errors.notFound(`No instance named '${name}'.`, 'instance_not_found');
      const { provider, instance } = found;
      // An app Relay attached to (spec §7) is not Relay's to sign in, out or restart.
      if ((instance as { attached?: unknown }).attached === true) throw errors.invalid(`${name} is a running app Relay serves through but does not own: ${action === 'restart' ? 'restart' : action === 'login' ? 'sign in' : 'sign out'} inside the app.`, 'name', 'attached_instance');
      const p = provider as unknown as Record<string, unknown>;
      const viaProvider = typeof p[action] === 'function' && accountsProvider(relay) === (provider as unknown);
      if (action === 'login') {
        if (viaProvider) run(req, `login ${name}`, (p.login as (n: string) => unknown).call(provider, name));
        else if (instance.login) run(req, `login ${name}`, instance.login());
        else throw errors.invalid(`Instance '${name}' has no login (only Lingma accounts do).`);
      } else if (action === 'logout') {
        if (viaProvider) run(req, `logout ${name}`, (p.logout as (n: string) => unknown).call(provider, name));
        else if (instance.logout) run(req, `logout ${name}`, instance.logout());
        else throw errors.invalid(`Instance '${name}' has no logout (only Lingma accounts do).`);
      } else {
        if (viaProvider) run(req, `restart ${name}`, (p.restart as (n: string) => unknown).call(provider, name));
        else if (instance.restart) run(req, `restart ${name}`, instance.restart());
        else run(req, `restart ${name}`, instance.stop().then(() => instance.start()));
      }
      req.log.info({ instance: name }, `admin: ${action} requested`);
      return reply.code(202).send({ ok: true, message: `${action} started for ${name}` });
    });

    app.post('/admin/instances/login-all', async (req, reply) => {
      const ap = accountsProvider(relay);
      if (ap?.loginAll) run(req, 'login all', ap.loginAll());
      else {
        let n = 0;
        for (const p of providersOf(relay)) for (const i of p.instances()) if (i.login) { n++; run(req, `login ${i.name}`, i.login()); }
        if (!n) throw errors.invalid('No instance needs a login (only Lingma accounts do).');
      }
      return reply.code(202).send({ ok: true, message: 'login started for every account' });
    });

    await app.register(availabilityRoutes, { relay });
    await app.register(clientRoutes, { relay, home: opts.clientsHome });
    await app.register(discoveryRoutes, { relay });

    // ---- accounts (passwords are write-only) ----
    const needAccounts = () => {
      const ap = accountsProvider(relay);
      if (!ap) throw errors.invalid('Accounts are not available: the Lingma backend is not set up (set lingma.binary or LINGMA_BIN).', undefined, 'accounts_unavailable');
      return ap;
    };
    app.get('/admin/accounts', async () => accountsView(relay));
    app.post('/admin/accounts', async (req, reply) => {
      const input = parseAccount(req.body, false);
      await needAccounts().addAccount(input);
      relay.hub.emit('config', 'accounts');
      return reply.code(201).send({ ok: true, accounts: await accountsView(relay) });
    });
    app.patch<{ Params: { name: string } }>('/admin/accounts/:name', async (req) => {
      const patch = parseAccount(req.body, true);
      await needAccounts().updateAccount(req.params.name, patch);
      relay.hub.emit('config', 'accounts');
      return { ok: true, accounts: await accountsView(relay) };
    });
    app.delete<{ Params: { name: string } }>('/admin/accounts/:name', async (req) => {
      await needAccounts().removeAccount(req.params.name);
      relay.hub.emit('config', 'accounts');
      return { ok: true, accounts: await accountsView(relay) };
    });

    // ---- aliases ----
    app.get('/admin/aliases', async () => ({
      aliases: aliasesView(ctx),
      raw: readAliasesRaw(relay, aliasesPath),
      path: aliasesPath,
      lastReload: relay.resolver?.lastReload(),
    }));
    app.put('/admin/aliases', async (req) => {
      const parsed = parseAliasesBody(req.body, providersOf(relay).map((p) => p.name));
      try {
        relay.validateAliases?.(parsed);
      } catch (e) {
        throw isRelayError(e) && e.status === 400 ? e : errors.invalid(e instanceof Error ? e.message : String(e), 'aliases');
      }
      if (!aliasesPath) throw errors.invalid('Aliases cannot be saved: no aliasesFile is configured and no data folder is known.');
      const previous = existsSync(aliasesPath) ? readFileSync(aliasesPath, 'utf8') : undefined;
      writeAtomic(aliasesPath, `# Written by the Lingma Relay dashboard.\n${YAML.stringify(parsed as Record<string, AliasConfig>)}`);
      let outcome: ReloadOutcome | undefined;
      if (relay.reloadAliases) outcome = (await relay.reloadAliases()) ?? relay.resolver?.lastReload();
      if (outcome && !outcome.ok) {
        // The resolver refused it: put the previous file back so the file matches what runs.
        if (previous === undefined) unlinkSync(aliasesPath);
        else writeAtomic(aliasesPath, previous);
        await relay.reloadAliases?.();
        throw errors.invalid(`Aliases rejected: ${outcome.error ?? 'invalid aliases'}`, 'aliases');
      }
      relay.hub.emit('config', 'aliases');
      return { ok: true, path: aliasesPath, aliases: aliasesView(ctx), lastReload: outcome };
    });

    // ---- API keys ----
    const needKeys = () => {
      if (!relay.keys) throw errors.invalid('API keys cannot be managed here: the key store is not available.');
      return relay.keys;
    };
    app.get('/admin/keys', async () => keysView(relay));
    app.post('/admin/keys', async (req, reply) => {
      const input = parseCreateKey(req.body);
      const { name, ...limits } = input;
      const created = await needKeys().create(name, limits);
      relay.hub.emit('config', 'keys');
      const body: CreateKeyResult = { id: created.id, key: created.key };
      // SECURITY: the whole key is in this one response only; it is never logged or listed again.
      return reply.code(201).header('cache-control', 'no-store').send(body);
    });
    app.delete<{ Params: { id: string } }>('/admin/keys/:id', async (req) => {
      const keys = needKeys();
      const known = (await keys.list()).some((k) => String(k.id) === req.params.id);
      if (!known) throw errors.notFound(`No API key with id '${req.params.id}'.`, 'key_not_found');
      await keys.revoke(req.params.id);
      relay.hub.emit('config', 'keys');
      return { ok: true };
    });

    // ---- live settings ----
    app.get('/admin/settings', async () => settingsView(relay));
    app.patch('/admin/settings', async (req) => {
      const patch = parseSettings(req.body);
      if (relay.applySettings) {
        // The relay applies it everywhere (config, loggers, admission) and saves it for the next start.
        await relay.applySettings(patch);
      } else {
        applyLiveSettings(relay.config, patch);
        // Request loggers are children made per request, so new requests pick the level up.
        if (patch.logLevel !== undefined) app.log.level = patch.logLevel;
      }
      req.log.info({ settings: Object.keys(patch) }, 'admin: settings changed');
      relay.hub.emit('config', 'settings');
      return { ok: true, settings: settingsView(relay) };
    });

    // More admin route files (usage, ...) share this scope and its token check.
    for (const r of opts.routes ?? []) {
      if (typeof r === 'function') await app.register(r);
      else await app.register(r.plugin, r.opts ?? {});
    }
  };

  return async function adminWithDashboard(app: FastifyInstance) {
    // Registered once per server: the gateway may have done it already (Responses WebSocket).
    // Before our hooks, so a refused upgrade still has its socket cleaned up by the plugin.
    if (!app.hasDecorator('websocketServer')) await app.register(websocket, { options: { handleProtocols: selectWsSubprotocol } });
    guarded = app.hasDecorator('requireAdmin');
    if (!guarded) {
      // Registered on its own (tests, a bare fastify): the gateway's one token check and its one
      // error mapping (OpenAI shape). Inside buildGateway both come from the gateway.
      app.decorate('requireAdmin', adminTokenHook(() => adminTokenOf(relay)));
      app.setErrorHandler((err, req, reply) => sendRelayError(req, reply, normalizeError(err, relay.config.limits.maxBodyBytes)));
    }
    await app.register(adminScope);
    // The dashboard's files need no token (the page holds no data): outside the admin scope.
    await registerDashboard(app, relay.rendererDir ?? defaultRendererDir());
  };
}
