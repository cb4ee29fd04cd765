/**
 * `ChatForwarder` over HTTP: a call for an account another node runs goes to that node's
 * `POST /cluster/v1/chat` (its address from Redis, `relay:node-url:<name>`, kept fresh by the
 * node's heartbeat), signed with the cluster secret (`node-auth.ts`). The answer streams back as
 * JSON lines: `{"event":…}` per chat event, `{"meta":…}`, and `{"end":true}` or `{"error":…}`.
 * Failures before the first event are the same RelayErrors a local instance throws (retryable
 * when the node cannot be reached), so the dispatcher's failover rules apply unchanged.
 */
import type { ChatEvent, ChatRequest } from '../chat/model';
import { errors, QuotaError, RelayError, type ErrorType } from '../errors';
import type { ClusterCrypto } from './crypto';
import { FORWARD_CONTENT_TYPE, signNodeRequest } from './node-auth';
import type { ChatForwarder, ForwardCall } from './ports';
import { PREFIX, type RedisClient } from './redis';

export const FORWARD_PATH = '/cluster/v1/chat';
export const nodeUrlKey = (node: string): string => `${PREFIX}node-url:${node}`;

/** The wire shape of an error between nodes (`RelayError` fields the dispatcher decides on). */
export interface WireError {
  status: number;
  type: string;
  code: string;
  message: string;
  retryable: boolean;
  retryAfter?: number;
  resetsAt?: number;
}

export function toWireError(e: unknown): WireError {
  const r = e instanceof RelayError ? e : errors.upstream('The serving node failed.');
  const w: WireError = { status: r.status, type: r.type, code: r.code, message: r.message, retryable: r.retryable };
  if (r.retryAfter !== undefined) w.retryAfter = r.retryAfter;
  if (r instanceof QuotaError && r.resetsAt !== undefined) w.resetsAt = r.resetsAt;
  return w;
}

export function fromWireError(w: Partial<WireError> | undefined, status: number): RelayError {
  const init = {
    status: typeof w?.status === 'number' ? w.status : status,
    type: (typeof w?.type === 'string' ? w.type : 'upstream_error') as ErrorType,
    code: typeof w?.code === 'string' ? w.code : 'upstream_error',
    message: typeof w?.message === 'string' ? w.message : `The serving node answered ${status}.`,
    retryable: typeof w?.retryable === 'boolean' ? w.retryable : undefined,
    retryAfter: typeof w?.retryAfter === 'number' ? w.retryAfter : undefined,
  };
  return typeof w?.resetsAt === 'number' ? new QuotaError({ ...init, resetsAt: w.resetsAt }) : new RelayError(init);
}

export interface HttpForwarderOptions {
  redis: RedisClient;
  crypto: ClusterCrypto;
  nodeName: string;
}

export class HttpForwarder implements ChatForwarder {
  constructor(private readonly opts: HttpForwarderOptions) {}

  async *chat(node: string, instance: string, req: ChatRequest, call: ForwardCall): AsyncIterable<ChatEvent> {
    const unreachable = (why: string) => errors.unavailable(`Node ${node}, which runs account ${instance}, ${why}.`, { code: 'node_unreachable', retryable: true });
    const base = await this.opts.redis.get(nodeUrlKey(node)).catch(() => null);
    if (!base) throw unreachable('has no address registered (is it running?)');
    const body = JSON.stringify({ instance, request: req, apiKeyId: call.apiKeyId, requestId: call.requestId });
    let res: Response;
    try {
      res = await fetch(new URL(FORWARD_PATH, base), {
        method: 'POST',
        headers: { 'content-type': FORWARD_CONTENT_TYPE, ...signNodeRequest(this.opts.crypto, this.opts.nodeName, 'POST', FORWARD_PATH, body) },
        body,
        signal: call.signal,
      });
    } catch {
      if (call.signal.aborted) throw errors.cancelled();
      throw unreachable('cannot be reached');
    }
    if (!res.ok || !res.body) {
      const j = (await res.json().catch(() => undefined)) as { error?: Partial<WireError> } | undefined;
      throw fromWireError(j?.error, res.status);
    }
    const decoder = new TextDecoder();
    let buf = '';
    let ended = false;
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const msg = JSON.parse(line) as { event?: ChatEvent; meta?: ForwardCall['meta']; error?: WireError; end?: boolean };
          if (msg.event) yield msg.event;
          else if (msg.meta) Object.assign(call.meta, msg.meta);
          else if (msg.error) throw fromWireError(msg.error, 502);
          else if (msg.end) ended = true;
        }
      }
    } catch (e) {
      if (e instanceof RelayError) throw e;
      if (call.signal.aborted) throw errors.cancelled();
      throw errors.upstream(`Node ${node} broke off the answer.`);
    }
    if (!ended) throw errors.upstream(`Node ${node} closed the answer early.`);
  }
}
