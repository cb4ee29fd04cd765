/**
 * `buildGateway(deps)`: the fastify instance (never listening; hosts and tests call `listen` or
 * `inject`). Core plugins in order: request id, guard (Host/Origin/CORS), auth decorators, the one
 * error handler, WebSocket support, then `/healthz`, `/metrics`, then `extraPlugins` (the front ends
 * from `frontendPlugins`, routing, ledger, admin), each in its own encapsulated scope
 * where `requireApiKey`/`requireAdmin`/`requireMetrics` are available. Before all of it, the route
 * guard: a route under `/admin` or `/v1` outside its `guardScope` makes this function throw.
 */
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync, type FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import type { Instance, InstanceSnapshot, Provider } from '../backends/types';
import { availabilityOf, type AvailabilityStatus, type AvailabilityView } from '../pool/availability';
import type { StatusDisplay } from '../pool/status';
import type { Config } from '../config/schema';
import { errors } from '../errors';
import type { EventHub } from '../events';
import type { HealthCache } from '../routing/types';
import { createLogger } from './logging';
import type { Metrics } from './metrics';
import { installAuth, selectWsSubprotocol, type AuthOptions } from './plugins/auth';
import { frameworkErrorHandler, installErrorHandling } from './plugins/errors';
import { installCors, installGuard } from './plugins/guard';
import { installRequestId, requestIdFor } from './plugins/request-id';
import { installRouteGuard } from './plugins/route-guard';
import type { Caller, ChatService } from '../dispatch/types';

export type GatewayPlugin =
  | FastifyPluginAsync<any>
  | FastifyPluginCallback<any>
  | { plugin: FastifyPluginAsync<any> | FastifyPluginCallback<any>; opts?: object };

export interface GatewayDeps {
  config: Config;
  keys: { verify(presented: string | undefined): Caller | undefined };
  /** The admin token (a getter so a rotated token applies at once). */
  adminToken: string | (() => string | undefined);
  metrics: Metrics;
  chat: ChatService;
  providers: () => readonly Provider[];
  /** The health cache, for /healthz (default: the chat service's `instanceHealth`). */
  health?: HealthCache;
  /** Calls in flight per instance (the pool), for /healthz. */
  inFlight?: (instance: string) => number;
  /** The pool's one availability answer, for /healthz. */
  availability?: (instance: Instance) => AvailabilityView;
  hub?: EventHub;
  /** A pino logger; default: JSON lines on stderr at `server.logLevel`, forwarded to `hub`. */
  logger?: Logger;
  /** Registered after the core routes, each in its own scope: the front ends (`frontendPlugins`) and the rest. */
  extraPlugins?: GatewayPlugin[];
  /** Origins the host allows besides `server.corsOrigins` (e.g. the desktop app's). */
  extraOrigins?: string[];
  version?: string;
  /** Team mode: checks a node-to-node request's signature (routes in the `cluster` scope). */
  clusterNode?: AuthOptions['clusterNode'];
}

export interface HealthzInstance {
  name: string;
  provider: string;
  state: string;
  /** `snapshot().login.state`: `logged_in`, `not_applicable`, `logged_out`, `needs_manual`... */
  login: string;
  /** The health cache's view (recent failures put an instance in backoff). */
  healthy: boolean;
  /** The one availability answer (core/pool/availability.ts): it can take a request now. */
  serving: boolean;
  /** `serving`, `starting`, `signing_in`, `needs_person`, `cooling_down`, `out_of_credits`, `failed`, `stopped`. */
  status: AvailabilityStatus;
  /** Why (client-safe), from the same answer. */
  reason: string;
  /** What a person reads (core/pool/status.ts): the same value the dashboard and the tray show. */
  display: StatusDisplay;
  inFlight: number;
  /** For accounts with a known limit. */
  quota?: { exceeded: boolean; resetsAt?: number };
  /** Served through a Lingma / Qoder CN app that was already running (never stopped or signed out by the relay). */
  attached?: true;
}

export interface HealthzBody {
  ok: boolean;
  reason?: string;
  version?: string;
  uptimeSec: number;
  instances: HealthzInstance[];
}

export interface HealthView {
  healthy: boolean;
  lastError?: string;
  lastErrorAt?: number;
  unhealthyUntil?: number;
}

/**
 * The `/healthz` body. `availability` is the pool's one answer; without it (tests) the same pure
 * function is fed from the instance snapshot and `health`.
 */
export function healthzBody(
  providers: readonly Provider[],
  inFlight: ((n: string) => number) | undefined,
  startedAt: number,
  version?: string,
  health?: (instance: string) => HealthView | undefined,
  availability?: (instance: Instance) => AvailabilityView,
): HealthzBody {
  const why: string[] = [];
  const instances = providers.flatMap((p) =>
    p.instances().map((inst): HealthzInstance => {
      const state = inst.state();
      let snap: InstanceSnapshot | undefined;
      try {
        snap = inst.snapshot();
      } catch {
        snap = undefined;
      }
      const h = health?.(inst.name);
      const a = availability
        ? availability(inst)
        : availabilityOf({
          name: inst.name, state, stateReason: snap?.reason, login: snap?.login ?? { state: 'not_applicable' }, quota: snap?.quota,
          health: h, now: Date.now(),
        });
      const row: HealthzInstance = {
        name: inst.name, provider: p.name, state, login: snap ? (snap.login?.state ?? 'not_applicable') : 'unknown',
        healthy: h ? h.healthy : true, serving: a.serving, status: a.status, reason: a.reason, display: a.display, inFlight: inFlight?.(inst.name) ?? 0,
      };
      if (a.quota) row.quota = a.quota;
      if (snap?.extra?.attached === true) row.attached = true;
      if (!a.serving) why.push(a.reason);
      return row;
    }),
  );
  const ok = instances.some((i) => i.serving);
  const body: HealthzBody = { ok, uptimeSec: Math.round((Date.now() - startedAt) / 1000), instances };
  if (version) body.version = version;
  if (!ok) {
    body.reason = instances.length
      ? `no backend can serve: ${why.join('; ')}`
      : 'no backends configured: add a provider or a Lingma account';
  }
  return body;
}

/**
 * fastify's own JSON parser (secure-json-parse: `__proto__` / `constructor.prototype` refused), with
 * a clear message for those keys: fastify reports them as "Body is not valid JSON". Only a failed
 * parse costs a second look at the body.
 */
// SECURITY: prototype-poisoning keys stay refused; this only names them.
function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    parse(req, body as string, (err, value) => {
      if (err && (err as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
        let valid = false;
        try {
          JSON.parse(body as string);
          valid = true;
        } catch {
          // really malformed
        }
        if (valid) {
          done(errors.invalid('JSON keys __proto__ and constructor.prototype are not allowed in the body.', undefined, 'invalid_json'), undefined);
          return;
        }
      }
      done(err as Error | null, value);
    });
  });
}

export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const logger = deps.logger ?? createLogger({ level: config.server.logLevel, hub: deps.hub });
  const app = Fastify({
    loggerInstance: logger,
    // Our own one line per request (onResponse below) replaces fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    requestIdHeader: false,
    genReqId: requestIdFor,
    bodyLimit: config.limits.maxBodyBytes,
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    // Router errors (bad %-escapes) skip every hook: same error shape and x-request-id anyway.
    frameworkErrors: frameworkErrorHandler(config.limits.maxBodyBytes),
  }) as unknown as FastifyInstance;
  const startedAt = Date.now();

  // SECURITY: first, so it sees every route of every scope.
  installRouteGuard(app);
  installRequestId(app);
  // Before the guard and auth hooks: @fastify/websocket's own onRequest hook must see every upgrade,
  // so that an upgrade those hooks refuse (403/401) has its socket closed, not left open for ever
  // (which would also keep app.close() from finishing).
  await app.register(websocket, { options: { maxPayload: config.limits.maxBodyBytes, handleProtocols: selectWsSubprotocol } });
  const guard = { allowedHosts: config.server.allowedHosts, corsOrigins: config.server.corsOrigins, extraOrigins: deps.extraOrigins };
  installGuard(app, guard);
  await installCors(app, guard);
  const admin = deps.adminToken;
  installAuth(app, {
    keys: deps.keys,
    adminToken: typeof admin === 'function' ? admin : () => admin,
    metricsToken: () => config.server.metricsToken,
    clusterNode: deps.clusterNode,
  });
  installErrorHandling(app, config.limits.maxBodyBytes);
  installJsonParser(app);

  // One line per request, at its end (no per-chunk logging anywhere).
  app.addHook('onResponse', (req, reply, done) => {
    const q = req.url.indexOf('?');
    const line: Record<string, unknown> = { method: req.method, url: q < 0 ? req.url : req.url.slice(0, q), status: reply.raw.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    // The model the client asked for, so a request's line can be found by it (capped; the line is redacted).
    const model = (req.body as { model?: unknown } | undefined)?.model;
    if (typeof model === 'string' && model) line.model = model.slice(0, 128);
    req.log.info(line, 'request');
    done();
  });

  app.get('/healthz', async (_req, reply) => {
    const health = deps.health ? (n: string) => deps.health!.snapshot(n) : deps.chat.instanceHealth?.bind(deps.chat);
    const body = healthzBody(deps.providers(), deps.inFlight, startedAt, deps.version, health, deps.availability);
    reply.code(body.ok ? 200 : 503);
    return body;
  });

  app.get('/metrics', { onRequest: app.requireMetrics }, async (_req, reply) => {
    reply.type(deps.metrics.contentType);
    return deps.metrics.text();
  });

  for (const p of deps.extraPlugins ?? []) {
    if (typeof p === 'function') await app.register(p);
    else await app.register(p.plugin, p.opts ?? {});
  }
  return app;
}
