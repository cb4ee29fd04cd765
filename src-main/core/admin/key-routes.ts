/**
 * API key admin routes (registered inside the admin scope: admin token required):
 *   GET    /admin/keys                 every key (prefix only), its limits, usage today, last use
 *   POST   /admin/keys                 create one; the whole key is in this response only
 *   PATCH  /admin/keys/:id             change a created key's limits (rpm, tokensPerDay, expiresAt, concurrency)
 *   DELETE /admin/keys/:id             revoke; the dashboard's own key (snippets, tray) is refused
 *                                      with 409 `key_in_use`: it needs a replacement
 *   POST   /admin/keys/:id/replace     revoke the dashboard's key for a new one or a picked one
 */
import type { FastifyInstance } from 'fastify';
import type { KeyLimits } from '../caller';
import { errors } from '../errors';
import type { CreateKeyResult, ReplaceKeyResult } from './api-types';
import type { AdminDeps } from './deps';
import { CreateKeyBody, KeyLimitsBody, ReplaceKeyBody } from './schemas';
import { keysUsageView } from './state';

export async function keyRoutes(app: FastifyInstance, opts: { deps: AdminDeps }): Promise<void> {
  const { deps } = opts;
  const known = (id: string) => {
    if (!deps.keys.list().some((k) => k.id === id)) throw errors.notFound(`No API key with id '${id.slice(0, 32)}'.`, 'key_not_found');
  };

  app.get('/admin/keys', async () => keysUsageView(deps));

  app.post('/admin/keys', { schema: { body: CreateKeyBody } }, async (req, reply) => {
    const { name, ...limits } = req.body as CreateKeyBody;
    const created = deps.keys.create(name, limits);
    deps.hub.emit('config', 'keys');
    const body: CreateKeyResult = { id: created.id, key: created.key };
    // SECURITY: the whole key is in this one response only; it is never logged or listed again.
    return reply.code(201).header('cache-control', 'no-store').send(body);
  });

  app.patch<{ Params: { id: string } }>('/admin/keys/:id', { schema: { body: KeyLimitsBody } }, async (req) => {
    known(req.params.id);
    const { clear, ...set } = req.body as KeyLimitsBody;
    const change: { [K in keyof KeyLimits]?: KeyLimits[K] | null } = { ...set };
    for (const k of clear ?? []) {
      if (k in set) throw errors.invalid(`clear: '${k}' is both set and cleared.`, 'clear');
      change[k] = null;
    }
    deps.keys.setLimits(req.params.id, change);
    req.log.info({ key: req.params.id, limits: Object.keys(change) }, 'admin: key limits changed');
    deps.hub.emit('config', 'keys');
    return { ok: true, keys: await keysUsageView(deps) };
  });

  app.delete<{ Params: { id: string } }>('/admin/keys/:id', async (req, reply) => {
    known(req.params.id);
    const info = deps.keys.list().find((k) => k.id === req.params.id)!;
    // A config key is not revocable at all (revoke says where to remove it); the others that the
    // dashboard and the tray use need a replacement first.
    if (info.revocable && deps.keys.primaryId() === req.params.id) {
      return reply.code(409).send({
        error: {
          message: `Key ${req.params.id} is the one the dashboard's snippets and the tray use. Pick another key or create a new one to take its place (POST /admin/keys/${req.params.id}/replace).`,
          type: 'invalid_request_error', code: 'key_in_use', param: 'id',
        },
      });
    }
    deps.keys.revoke(req.params.id);
    deps.hub.emit('config', 'keys');
    return { ok: true };
  });

  app.post<{ Params: { id: string } }>('/admin/keys/:id/replace', { schema: { body: ReplaceKeyBody } }, async (req, reply) => {
    known(req.params.id);
    const b = req.body as ReplaceKeyBody;
    if (b.create === true && (b.id || b.key)) throw errors.invalid('Send either create: true or the id and key of the replacement, not both.', 'create');
    if (b.create !== true && !b.id) throw errors.invalid('Choose a replacement: create: true, or id (and key) of another key.', 'id');
    if (b.create !== true && !b.key) throw errors.invalid('key: required: the whole key you picked (only its hash is kept).', 'key');
    const next = deps.keys.replacePrimary(req.params.id, b.create === true ? { create: true } : { id: b.id!, key: b.key! });
    req.log.info({ revoked: req.params.id, replacement: next.id }, 'admin: dashboard key replaced');
    deps.hub.emit('config', 'keys');
    const body: ReplaceKeyResult = { ok: true, revoked: req.params.id, id: next.id, key: next.key };
    // SECURITY: a new key is in this one response only.
    return reply.header('cache-control', 'no-store').send(body);
  });
}
