/**
 * A scripted ChatService and Provider for gateway tests that do not need the real dispatcher.
 * Models (all under provider `fake`):
 *   echo      answers "echo: <last user text>" in 3 text events, usage, finish
 *   tools     one tool call in two fragments, finish tool_calls
 *   reason    a reasoning event then text
 *   slow      waits `slowMs` before the first event (keep-alive tests)
 *   slowfail  waits `slowMs`, then fails with 502
 *   fail      fails with 502 before any event
 *   busy      fails with 429 Retry-After 7
 *   midfail   one text event, then fails with 502
 *   hang      one text event, then waits until aborted
 *   nousage   like echo but without a usage event
 * Counters: `active` (calls not yet finished), `aborted` (calls ended by the client).
 */
import { EventEmitter } from 'node:events';
import type { Provider, Instance, InstanceSnapshot } from '../../src-main/core/backends/types';
import type { ChatEvent, ChatRequest, EmbeddingsRequest } from '../../src-main/core/chat/model';
import { textOf } from '../../src-main/core/chat/model';
import { errors } from '../../src-main/core/errors';
import { estimatePromptTokens } from '../../src-main/core/chat/tokens';
import { UsageMeter } from '../../src-main/core/dispatch/outcome';
import type { ChatExecution, ChatService, RequestContext, Resolved } from '../../src-main/core/dispatch/types';

/** As the dispatcher does: the backend's usage is replaced by the one decided usage, sent before `finish`. */
async function* metered(src: AsyncGenerator<ChatEvent>, meter: UsageMeter): AsyncGenerator<ChatEvent> {
  for await (const ev of src) {
    if (!meter.observe(ev)) continue;
    if (ev.type === 'finish') yield { type: 'usage', usage: meter.decide() };
    yield ev;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(errors.cancelled());
    }, { once: true });
  });

export const FAKE_MODELS = ['echo', 'tools', 'reason', 'slow', 'slowfail', 'fail', 'busy', 'midfail', 'hang', 'nousage', 'embed'];

export class FakeChat implements ChatService {
  active = 0;
  aborted = 0;
  calls = 0;
  slowMs = 300;
  lastRequest: ChatRequest | undefined;
  lastContext: RequestContext | undefined;
  readonly idle = new EventEmitter();

  private resolve(model: string): Resolved {
    const m = model.startsWith('fake/') ? model.slice(5) : model;
    if (!FAKE_MODELS.includes(m)) throw errors.modelNotFound(model, FAKE_MODELS.map((x) => `fake/${x}`));
    return { provider: 'fake', model: m, label: `fake/${m}`, instance: 'fake-1' };
  }

  async execute(req: ChatRequest, ctx: RequestContext): Promise<ChatExecution> {
    this.calls++;
    this.lastRequest = req;
    this.lastContext = ctx;
    const resolved = this.resolve(req.model);
    const m = resolved.model;
    if (m === 'fail') throw errors.upstream('fake upstream failed', { upstreamStatus: 500 });
    if (m === 'busy') throw errors.rateLimited('fake upstream is busy', 7);
    if (m === 'slow' || m === 'slowfail') {
      await sleep(this.slowMs, ctx.signal);
      if (m === 'slowfail') throw errors.upstream('fake upstream failed slowly');
    }
    const meter = new UsageMeter(() => estimatePromptTokens(req));
    const gen = metered(this.events(req, m, ctx.signal), meter);
    this.active++;
    const first = await gen.next();
    const self = this;
    let done = false;
    const finish = (abort: boolean) => {
      if (done) return;
      done = true;
      self.active--;
      if (abort) self.aborted++;
      if (self.active === 0) self.idle.emit('idle');
    };
    const events: AsyncIterable<ChatEvent> = {
      [Symbol.asyncIterator]() {
        let sentFirst = false;
        return {
          async next() {
            try {
              if (!sentFirst) {
                sentFirst = true;
                if (!first.done) return { done: false, value: first.value };
              }
              const r = await gen.next();
              if (r.done) finish(false);
              return r;
            } catch (e) {
              finish(ctx.signal.aborted);
              throw e;
            }
          },
          async return() {
            finish(true);
            await gen.return(undefined);
            return { done: true, value: undefined };
          },
        };
      },
    };
    const close = (): void => {
      if (done) return;
      finish(true);
      void gen.return(undefined);
    };
    return { resolved, events, promptTokens: meter.promptEstimate, close };
  }

  private async *events(req: ChatRequest, m: string, signal: AbortSignal): AsyncGenerator<ChatEvent> {
    const last = [...req.messages].reverse().find((x) => x.role === 'user');
    const text = `echo: ${last ? textOf(last.content) : ''}`;
    switch (m) {
      case 'tools':
        yield { type: 'tool_call', index: 0, id: 'call_1', name: 'get_weather', argumentsDelta: '{"city":' };
        yield { type: 'tool_call', index: 0, argumentsDelta: '"Paris"}' };
        yield { type: 'usage', usage: { promptTokens: 10, completionTokens: 5, estimated: false } };
        yield { type: 'finish', reason: 'tool_calls' };
        return;
      case 'reason':
        yield { type: 'reasoning', text: 'thinking...' };
        yield { type: 'text', text: 'answer' };
        yield { type: 'finish', reason: 'stop' };
        return;
      case 'midfail':
        yield { type: 'text', text: 'partial' };
        await sleep(5, signal);
        throw errors.upstream('fake upstream dropped the stream');
      case 'hang':
        yield { type: 'text', text: 'partial' };
        await sleep(600_000, signal);
        return;
      default: {
        const third = Math.ceil(text.length / 3);
        for (let i = 0; i < text.length; i += third) yield { type: 'text', text: text.slice(i, i + third) };
        if (m !== 'nousage') yield { type: 'usage', usage: { promptTokens: 7, completionTokens: 3, estimated: false } };
        yield { type: 'finish', reason: 'stop' };
      }
    }
  }

  async embed(req: EmbeddingsRequest) {
    const resolved = this.resolve(req.model);
    if (resolved.model !== 'embed') throw errors.invalid(`Model ${req.model} does not offer embeddings.`, 'model');
    return {
      resolved,
      result: { data: req.input.map((_, i) => [i, 0.5, 1]), usage: { promptTokens: 4, totalTokens: 4 } },
    };
  }

  /** Resolves when no call is active (polling-free). */
  async whenIdle(timeoutMs = 10_000): Promise<void> {
    if (this.active === 0) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`still ${this.active} active calls`)), timeoutMs);
      this.idle.once('idle', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

class FakeInstance implements Instance {
  readonly provider = 'fake';
  readonly kind = 'fake';
  readonly maxConcurrency = 4;
  readonly events = new EventEmitter<any>();
  st: InstanceSnapshot['state'] = 'ready';
  constructor(readonly name: string) {}
  state() {
    return this.st;
  }
  snapshot(): InstanceSnapshot {
    return { name: this.name, provider: 'fake', kind: 'fake', state: this.st, login: { state: 'not_applicable' }, restarts: 0 };
  }
  async ensureReady() {}
  chat(): AsyncIterable<ChatEvent> {
    throw new Error('not used');
  }
  async probe() {}
  async start() {}
  async stop() {}
}

export function fakeProvider(): Provider & { instance: FakeInstance } {
  const instance = new FakeInstance('fake-1');
  return {
    name: 'fake',
    kind: 'fake',
    capabilities: { tools: true, images: true, embeddings: true },
    events: new EventEmitter<any>(),
    instance,
    instances: () => [instance],
    models: () => FAKE_MODELS.map((id) => ({ id })),
    resolveModel: (n: string) => (FAKE_MODELS.includes(n) ? n : undefined),
    start: async () => {},
    stop: async () => {},
  };
}
