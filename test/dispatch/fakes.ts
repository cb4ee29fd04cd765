/** In-process fake providers and instances for routing, pool and dispatch unit tests. */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { Capabilities, CallContext, Instance, InstanceEvents, InstanceSnapshot, InstanceState, LoginState, ModelInfo, Provider, ProviderEvents, QuotaState } from '../../src-main/core/backends/types';
import type { ChatEvent, ChatRequest, EmbeddingsRequest, EmbeddingsResult } from '../../src-main/core/chat/model';
import { errors } from '../../src-main/core/errors';

export const silentLog = pino({ level: 'silent' });

export type Behaviour = (req: ChatRequest, ctx: CallContext) => AsyncIterable<ChatEvent>;

export interface FakeInstance extends Instance {
  behaviour: Behaviour;
  calls: Array<{ req: ChatRequest; ctx: CallContext }>;
  /** Calls whose signal got aborted. */
  aborted: number;
  /** Calls currently inside `chat` (started, not finished). */
  active: number;
  /** Changes the state and emits `state` (as real instances do). */
  setState(s: InstanceState): void;
  /** Changes the login state and emits `login`. */
  setLogin(l: LoginState): void;
  /** Sets what the snapshot says about the account's limits and emits `login`. */
  setQuota(q: QuotaState | undefined): void;
  probeResult: 'ok' | 'fail';
  probes: number;
  readyCalls: number;
}

export function answer(text = 'hello', usage?: { promptTokens: number; completionTokens: number }): Behaviour {
  return async function* () {
    yield { type: 'text', text };
    if (usage) yield { type: 'usage', usage: { ...usage, estimated: false } };
    yield { type: 'finish', reason: 'stop' };
  };
}

export function fail(status: number, retryAfter?: number, message = `upstream said ${status}`): Behaviour {
  return async function* () {
    if (status === 429) throw errors.rateLimited(message, retryAfter ?? 1);
    if (status >= 500) throw errors.upstream(message, { upstreamStatus: status, status: 502 });
    throw errors.invalid(message);
  };
}

/** Never yields until aborted; then throws. */
export function hang(): Behaviour {
  return async function* (_req, ctx) {
    await new Promise<void>((_, reject) => {
      if (ctx.signal.aborted) reject(errors.cancelled());
      ctx.signal.addEventListener('abort', () => reject(errors.cancelled()), { once: true });
    });
  };
}

/** Yields a first text event, then throws. */
export function breakAfterFirst(): Behaviour {
  return async function* () {
    yield { type: 'text', text: 'partial' };
    await new Promise((r) => setTimeout(r, 5));
    throw errors.upstream('connection dropped mid-stream', { upstreamStatus: 502 });
  };
}

/** Yields the first event, then waits for the abort signal (a long stream the client leaves). */
export function slowStream(): Behaviour {
  return async function* (_req, ctx) {
    yield { type: 'text', text: 'first' };
    await new Promise<void>((_, reject) => {
      if (ctx.signal.aborted) reject(errors.cancelled());
      ctx.signal.addEventListener('abort', () => reject(errors.cancelled()), { once: true });
    });
  };
}

export function fakeInstance(
  name: string,
  provider: string,
  opts: { maxConcurrency?: number; state?: InstanceState; login?: LoginState; behaviour?: Behaviour; embed?: boolean } = {},
): FakeInstance {
  let state: InstanceState = opts.state ?? 'ready';
  let login: LoginState = opts.login ?? { state: 'not_applicable' };
  let quota: QuotaState | undefined;
  const events = new EventEmitter<InstanceEvents>();
  const snapshot = (): InstanceSnapshot => ({ name, provider, kind: 'fake', state, login, restarts: 0, ...(quota ? { quota } : {}) });
  const inst: FakeInstance = {
    name,
    provider,
    kind: 'fake',
    maxConcurrency: opts.maxConcurrency ?? 4,
    events,
    behaviour: opts.behaviour ?? answer(),
    calls: [],
    aborted: 0,
    active: 0,
    probeResult: 'ok',
    probes: 0,
    readyCalls: 0,
    state: () => state,
    setState(s) {
      const prev = state;
      state = s;
      events.emit('state', snapshot(), prev);
    },
    setLogin(l) {
      login = l;
      events.emit('login', snapshot());
    },
    setQuota(q) {
      quota = q;
      events.emit('login', snapshot());
    },
    snapshot,
    async ensureReady() {
      inst.readyCalls++;
      if (state === 'failed') throw errors.unavailable(`${name} is not ready`);
      state = 'ready';
    },
    chat(req, ctx) {
      inst.calls.push({ req, ctx });
      ctx.signal.addEventListener('abort', () => inst.aborted++, { once: true });
      const self = inst;
      const inner = inst.behaviour(req, ctx);
      return {
        async *[Symbol.asyncIterator]() {
          self.active++;
          try {
            yield* inner;
          } finally {
            self.active--;
          }
        },
      };
    },
    async probe() {
      inst.probes++;
      if (inst.probeResult === 'fail') throw errors.unavailable('probe failed');
    },
    async start() {},
    async stop() {},
  };
  if (opts.embed) {
    inst.embed = async (req: EmbeddingsRequest): Promise<EmbeddingsResult> => {
      inst.calls.push({ req: { model: req.model, messages: [], stream: false }, ctx: undefined as unknown as CallContext });
      return { data: (req.input as string[]).map(() => [0.1, 0.2]), usage: { promptTokens: 3, totalTokens: 3 } };
    };
  }
  return inst;
}

export interface FakeProvider extends Provider {
  list: FakeInstance[];
  modelList: ModelInfo[];
  preferred?: string;
}

export function fakeProvider(
  name: string,
  opts: { models?: Array<string | ModelInfo>; instances?: FakeInstance[]; capabilities?: Partial<Capabilities> } = {},
): FakeProvider {
  const modelList: ModelInfo[] = (opts.models ?? []).map((m) => (typeof m === 'string' ? { id: m } : m));
  const p: FakeProvider = {
    name,
    kind: 'fake',
    capabilities: { tools: true, images: true, embeddings: true, ...opts.capabilities },
    events: new EventEmitter<ProviderEvents>(),
    list: opts.instances ?? [fakeInstance(`${name}-1`, name)],
    modelList,
    instances: () => p.list,
    models: () => p.modelList,
    resolveModel(n: string) {
      const q = n.toLowerCase();
      for (const m of p.modelList) {
        if (m.id.toLowerCase() === q) return m.id;
        if (m.aliases?.some((a) => a.toLowerCase() === q)) return m.id;
        if (m.displayName?.toLowerCase() === q) return m.id;
      }
      return undefined;
    },
    preferredInstance: () => p.preferred,
    async start() {},
    async stop() {},
  };
  return p;
}
