/**
 * "Test this backend": one tiny chat on one named instance, through the pool (its slots are
 * respected: only that instance is eligible), under the first-byte deadline, answered in plain
 * words: time to first event, the answer, or what went wrong. Not counted as usage and not
 * recorded by health (a person is trying it). The health prober's `probe` stays the cheap check;
 * this one really asks the model.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { CallContext, Instance, Provider } from '../backends/types';
import { ChatFold } from '../chat/collect';
import { errors, toRelayError } from '../errors';
import type { Pool } from '../pool/pool';
import type { BackendTestResult } from '../inspector/types';
import { firstEvent, withDeadline } from './execution';
import { systemClock } from '../ports';

export const TEST_PROMPT = 'Reply with the single word: pong';

export interface BackendTestDeps {
  providers: () => readonly Provider[];
  pool: Pick<Pool, 'acquire'>;
  firstByteTimeoutMs: () => number;
  log: Logger;
  now?: () => number;
}

export interface BackendTestRequest {
  /** Upstream model id (default: the provider's first chat model). */
  model?: string;
  prompt?: string;
}

/** The instance named `name` and its provider, or a 404. */
function find(deps: BackendTestDeps, name: string): { provider: Provider; instance: Instance } {
  for (const provider of deps.providers()) for (const instance of provider.instances()) if (instance.name === name) return { provider, instance };
  throw errors.notFound(`No instance named '${name}'.`, 'instance_not_found');
}

export async function testBackend(deps: BackendTestDeps, instanceName: string, req: BackendTestRequest = {}): Promise<BackendTestResult> {
  const now = deps.now ?? Date.now;
  const { provider, instance } = find(deps, instanceName);
  const model = req.model ?? provider.models().find((m) => !m.embedding)?.id;
  const started = now();
  const result: BackendTestResult = { ok: false, instance: instance.name, model: model ?? '', totalMs: 0 };
  if (!model) {
    result.error = `${provider.name} lists no chat model to test with; pick one.`;
    result.errorCode = 'no_model';
    return result;
  }
  const ms = deps.firstByteTimeoutMs();
  const signal = AbortSignal.timeout(ms * 2);
  const callCtx: CallContext = { requestId: `test-${randomUUID()}`, apiKeyId: 'admin-test', signal, log: deps.log, meta: {} };
  const others = new Set(provider.instances().filter((i) => i !== instance).map((i) => i.name));
  const target = { provider: provider.name, model, label: `${provider.name}/${model}` };
  const chat = { model, messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: req.prompt ?? TEST_PROMPT }] }], stream: true, maxTokens: 64 };
  let lease;
  try {
    lease = await deps.pool.acquire({ provider, target, request: chat }, { exclude: others, signal, waitMs: ms, readyWaitMs: ms, callCtx });
    if (instance.state() !== 'ready') await withDeadline(instance.ensureReady(signal), instance.name, ms, signal, systemClock);
    const first = await firstEvent(instance.chat(chat, callCtx), target.label, ms, signal, systemClock);
    result.ttftMs = now() - started;
    const fold = new ChatFold();
    fold.push(first.first);
    for (;;) {
      const r = await first.iter.next();
      if (r.done) break;
      fold.push(r.value);
    }
    const answer = fold.result();
    result.answer = (answer.text || answer.reasoning).slice(0, 2000);
    result.ok = true;
  } catch (e) {
    const err = toRelayError(e);
    result.error = err.message;
    result.errorCode = err.code;
  } finally {
    lease?.release();
    result.totalMs = now() - started;
  }
  return result;
}
