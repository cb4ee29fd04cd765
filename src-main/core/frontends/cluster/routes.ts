/**
 * Team mode, node to node: `POST /cluster/v1/chat` runs a chat on an account this node runs, for
 * another node that received the request (`cluster/forward.ts` is the other end). The route sits
 * in the `cluster` scope: the cluster secret's signature is checked before anything is parsed
 * (`guardScope(scope, 'cluster')`), then the body against the signed digest. The answer streams
 * as JSON lines as the events arrive; a failure before the first event is an HTTP error the
 * sending node turns back into the same RelayError (so its failover rules apply), a failure after
 * it one `{"error":…}` line. A sender that goes away aborts the call here. A forwarded call takes
 * a slot of the account's instance in this node's pool, like a call received here: the account's
 * `maxConcurrency` holds across every node sending to it.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { ChatRequest } from '../../chat/model';
import type { Lease } from '../../pool/pool';
import { bodyDigest, FORWARD_CONTENT_TYPE, H } from '../../cluster/node-auth';
import { FORWARD_PATH, toWireError } from '../../cluster/forward';
import { errors } from '../../errors';
import { guardScope } from '../../gateway/plugins/auth';

export interface ClusterRoutesOptions {
  /**
   * A slot on the instance of an account this node runs now, waiting like a local call would;
   * undefined when this node does not run the account.
   */
  acquire(name: string, signal: AbortSignal): Promise<Lease> | undefined;
}

interface ForwardBody {
  instance?: unknown;
  request?: unknown;
  apiKeyId?: unknown;
  requestId?: unknown;
}

export const clusterRoutes: FastifyPluginAsync<ClusterRoutesOptions> = async (scope, opts) => {
  // SECURITY: signed by a node of the cluster, or 401 before the body is read.
  guardScope(scope, 'cluster');
  scope.addContentTypeParser(FORWARD_CONTENT_TYPE, { parseAs: 'string' }, (_req, body, done) => done(null, body));

  scope.post(FORWARD_PATH, async (req, reply) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    // SECURITY: the body is the one the signature covers.
    if (bodyDigest(raw) !== req.headers[H.body]) throw errors.unauthorized('Node-to-node request refused: the body does not match its signature.');
    let body: ForwardBody;
    try {
      body = JSON.parse(raw) as ForwardBody;
    } catch {
      throw errors.invalid('The forwarded call is not JSON.');
    }
    if (typeof body.instance !== 'string' || typeof body.apiKeyId !== 'string' || typeof body.requestId !== 'string' || !body.request || typeof body.request !== 'object') {
      throw errors.invalid('A forwarded call needs instance, request, apiKeyId and requestId.');
    }
    const fail = (e: unknown) => {
      const w = toWireError(e);
      return reply.code(w.status).header('content-type', 'application/json').send({ error: w });
    };
    const ac = new AbortController();
    let finished = false;
    reply.raw.on('close', () => {
      if (!finished) ac.abort();
    });
    const leasing = opts.acquire(body.instance, ac.signal);
    if (!leasing) return fail(errors.unavailable(`Lingma account ${body.instance.slice(0, 64)} does not run on this node now.`, { code: 'account_elsewhere' }));
    let lease: Lease;
    try {
      lease = await leasing;
    } catch (e) {
      finished = true;
      return fail(e);
    }
    const inst = lease.instance;
    const meta: { sessionReuse?: boolean; promptBytes?: number } = {};
    const ctx = { requestId: body.requestId, apiKeyId: body.apiKeyId, signal: ac.signal, log: req.log as unknown as Logger, meta };
    let it: AsyncIterator<unknown>;
    let first: IteratorResult<unknown>;
    try {
      if (inst.state() !== 'ready') await inst.ensureReady(ac.signal);
      it = inst.chat(body.request as ChatRequest, ctx)[Symbol.asyncIterator]();
      first = await it.next();
    } catch (e) {
      finished = true;
      lease.release();
      return fail(e);
    }
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    const line = (v: unknown) => out.write(`${JSON.stringify(v)}\n`);
    try {
      let r = first;
      while (!r.done) {
        line({ event: r.value });
        r = await it.next();
      }
      line({ meta });
      line({ end: true });
    } catch (e) {
      line({ meta });
      line({ error: toWireError(e) });
    } finally {
      finished = true;
      lease.release();
      out.end();
    }
  });
};
