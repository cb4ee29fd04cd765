/**
 * The request inspector's admin routes (registered in the admin scope: admin token required):
 *   GET  /admin/requests                     recent captures, newest first (filters below)
 *   GET  /admin/requests/:id                 one capture, by x-request-id (or the unique id)
 *   POST /admin/requests/:id/replay          the captured request again, through the gateway
 *   POST /admin/instances/:name/test         one tiny chat on that instance
 *   POST /admin/providers/:name/test         the same on the provider's first serving instance
 * List filters (query): status (a number, `ok` or `error`), model (requested, alias or resolved,
 * part of the name), instance, key (API key id), q (text in the prompts), before (ms), limit (1-500).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../errors';
import { DEFAULT_LIST_LIMIT, type CaptureQuery } from '../inspector/index';
import type { Capture, CaptureList, ReplayResult } from '../inspector/types';
import type { AdminDeps } from './deps';
import { BackendTestBody, ReplayBody } from './schemas';
import { checkBody } from './validate';
import { postToGateway } from './self-request';

const QUERY_KEYS = ['status', 'model', 'instance', 'key', 'q', 'before', 'limit'];

function text(v: unknown, name: string, max = 256): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !v.length || v.length > max) throw errors.invalid(`Query parameter '${name}' must be 1 to ${max} characters.`, name);
  return v;
}

/** The list query, checked: a 400 names the parameter. */
export function parseCaptureQuery(raw: Record<string, unknown>): CaptureQuery {
  for (const k of Object.keys(raw)) {
    if (!QUERY_KEYS.includes(k)) throw errors.invalid(`Unknown query parameter '${k.slice(0, 64)}' (use ${QUERY_KEYS.join(', ')}).`, k);
  }
  const q: CaptureQuery = { limit: DEFAULT_LIST_LIMIT };
  const status = text(raw.status, 'status', 5);
  if (status !== undefined) {
    if (status === 'ok' || status === 'error') q.status = status;
    else if (/^[1-5]\d\d$/.test(status)) q.status = Number(status);
    else throw errors.invalid(`Query parameter 'status' must be an HTTP status (e.g. 429), 'ok' or 'error'.`, 'status');
  }
  const limit = text(raw.limit, 'limit', 4);
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > 500) throw errors.invalid(`Query parameter 'limit' must be a whole number from 1 to 500.`, 'limit');
    q.limit = Number(limit);
  }
  const before = text(raw.before, 'before', 16);
  if (before !== undefined) {
    if (!/^\d{1,15}$/.test(before)) throw errors.invalid(`Query parameter 'before' must be a time in ms since 1970.`, 'before');
    q.before = Number(before);
  }
  const model = text(raw.model, 'model');
  if (model) q.model = model;
  const instance = text(raw.instance, 'instance');
  if (instance) q.instance = instance;
  const key = text(raw.key, 'key', 64);
  if (key) q.key = key;
  const search = text(raw.q, 'q', 500);
  if (search) q.q = search;
  return q;
}

/** The endpoint a replay posts to (the Responses WebSocket's turns replay over HTTP). */
function replayEndpoint(c: Capture): string {
  if (c.protocol === 'responses-ws') return '/v1/responses';
  return c.endpoint;
}

export async function inspectorRoutes(app: FastifyInstance, opts: { deps: AdminDeps }): Promise<void> {
  const { deps } = opts;
  const inspector = deps.inspector;

  const captured = (id: string): Capture => {
    const c = inspector.get(id);
    if (!c) {
      const why = inspector.capturing() ? 'it is older than what the inspector keeps, or never reached a backend' : 'the inspector is off (inspector.enabled: false)';
      throw errors.notFound(`No captured request '${id.slice(0, 128)}': ${why}.`, 'request_not_found');
    }
    return c;
  };

  app.get('/admin/requests', async (req): Promise<CaptureList> => {
    const q = parseCaptureQuery((req.query ?? {}) as Record<string, unknown>);
    return { requests: inspector.list(q), enabled: inspector.capturing(), persisted: inspector.persisted() };
  });

  app.get<{ Params: { id: string } }>('/admin/requests/:id', async (req, reply) => {
    // Captures are redacted, but still what people typed: never cached.
    reply.header('cache-control', 'no-store');
    return captured(req.params.id);
  });

  app.post<{ Params: { id: string } }>('/admin/requests/:id/replay', async (req: FastifyRequest<{ Params: { id: string } }>, reply): Promise<ReplayResult> => {
    const change = checkBody(ReplayBody, req.body ?? {});
    const original = captured(req.params.id);
    let body: Record<string, unknown>;
    if (change.body) body = { ...change.body };
    else {
      if (original.truncated) throw errors.invalid('The captured request was cut by the inspector (inspector.maxBodyBytes); send the whole body to replay it.', 'body');
      const r = original.request;
      if (!r || typeof r !== 'object' || Array.isArray(r)) throw errors.invalid('The captured request has no JSON body to replay; send one.', 'body');
      body = { ...(r as Record<string, unknown>) };
    }
    if (change.model) body.model = change.model;
    // SECURITY: the replay runs as the original request's API key (its limits and budget), through
    // a single-use in-process ticket (postToGateway); no stored key or admin token is sent.
    const requestId = `replay-${randomUUID()}`;
    if (!deps.url()) throw errors.unavailable('The gateway is not listening yet; replay once it is.');
    inspector.linkReplay(requestId, original.requestId);
    const res = await postToGateway(deps, replayEndpoint(original), original.apiKeyId, requestId, body);
    reply.header('cache-control', 'no-store');
    const result: ReplayResult = { requestId, replayOf: original.requestId, status: res.status };
    const capture = inspector.get(requestId);
    if (capture) result.capture = capture;
    return result;
  });

  app.post<{ Params: { name: string } }>('/admin/instances/:name/test', async (req) => {
    const body = checkBody(BackendTestBody, req.body ?? {});
    return deps.testBackend(req.params.name, body);
  });

  app.post<{ Params: { name: string } }>('/admin/providers/:name/test', async (req) => {
    const body = checkBody(BackendTestBody, req.body ?? {});
    const provider = deps.providers().find((p) => p.name === req.params.name);
    if (!provider) throw errors.notFound(`No provider named '${req.params.name.slice(0, 64)}'.`, 'provider_not_found');
    const instances = provider.instances();
    if (!instances.length) throw errors.invalid(`Provider '${provider.name}' has no instance to test.`, 'name', 'no_instance');
    const serving = instances.find((i) => deps.availability.of(i).serving) ?? instances[0];
    return deps.testBackend(serving.name, body);
  });
}
