/**
 * An event-driven ChatService for the streaming path's tests: every `execute` is a `Call` the test
 * drives (`start` resolves it, `reject` fails it before the first byte; `send` hands events, an
 * error or the end to the next pull). The call counts what the front end did to it: `pulls`
 * (iterator `next()`), `returns` (iterator `return()`: the upstream call cancelled), `aborts`
 * (the request's client signal) and `cancels` (a pending pull ended by that signal, as the
 * dispatcher does), and emits `pull`, `return`, `abort`.
 */
import { EventEmitter, once } from 'node:events';
import type { ChatEvent, ChatRequest, EmbeddingsRequest } from '../../src-main/core/chat/model';
import { errors, type RelayError } from '../../src-main/core/errors';
import type { ChatExecution, ChatService, RequestContext, Resolved } from '../../src-main/core/dispatch/types';

export type Item = ChatEvent | { error: RelayError } | 'done';

export class Call extends EventEmitter {
  pulls = 0;
  returns = 0;
  aborts = 0;
  /** Pulls in progress cancelled by the client signal. */
  cancels = 0;
  /** When set, every pull is answered at once with `generate(pull number)` (an endless upstream). */
  generate: ((n: number) => ChatEvent) | undefined;
  private readonly queue: Item[] = [];
  private waiter: ((item: Item) => void) | undefined;
  private settle!: { resolve: (e: ChatExecution) => void; reject: (e: unknown) => void };
  readonly executed: Promise<ChatExecution>;

  constructor(
    readonly request: ChatRequest,
    readonly ctx: RequestContext,
  ) {
    super();
    this.executed = new Promise((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // As the dispatcher does: the client leaving cancels a pull in progress.
    ctx.signal.addEventListener('abort', () => {
      this.aborts++;
      if (this.waiter) {
        this.cancels++;
        this.send({ error: errors.cancelled() });
      }
      this.emit('abort');
    });
  }

  /** The prompt figure `execute` reports (the dispatcher's one estimate). */
  promptTokens = 7;
  /** `close()` calls on the execution. */
  closes = 0;

  /** The first byte arrived: `execute` resolves. */
  start(resolved: Resolved = { provider: 'fake', model: 'm', label: 'fake/m', instance: 'fake-1' }): void {
    const self = this;
    const events: AsyncIterable<ChatEvent> = {
      [Symbol.asyncIterator]: () => ({
        next: () => self.pull(),
        return: async () => {
          self.returns++;
          self.emit('return');
          self.waiter?.('done');
          return { done: true, value: undefined };
        },
      }),
    };
    this.settle.resolve({ resolved, events, promptTokens: this.promptTokens, close: () => void this.closes++ });
  }

  reject(err: RelayError): void {
    this.settle.reject(err);
  }

  send(...items: Item[]): void {
    for (const item of items) {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(item);
      } else this.queue.push(item);
    }
  }

  /** Resolves once the front end pulled `n` times in all. */
  async pulled(n: number): Promise<void> {
    while (this.pulls < n) await once(this, 'pull');
  }

  private async pull(): Promise<IteratorResult<ChatEvent>> {
    this.pulls++;
    this.emit('pull', this.pulls);
    if (this.generate) return { done: false, value: this.generate(this.pulls) };
    const item = this.queue.shift() ?? (await new Promise<Item>((resolve) => (this.waiter = resolve)));
    if (item === 'done') return { done: true, value: undefined };
    if ('error' in item) throw item.error;
    return { done: false, value: item };
  }
}

export class ScriptedChat extends EventEmitter implements ChatService {
  readonly calls: Call[] = [];

  execute(req: ChatRequest, ctx: RequestContext): Promise<ChatExecution> {
    const call = new Call(req, ctx);
    this.calls.push(call);
    this.emit('call', call);
    return call.executed;
  }

  /** The next call (or the one already made and not yet taken). */
  async nextCall(): Promise<Call> {
    const [call] = (await once(this, 'call')) as [Call];
    return call;
  }

  async embed(_req: EmbeddingsRequest): Promise<never> {
    throw new Error('not used');
  }
}
