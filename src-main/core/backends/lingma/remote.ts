/**
 * Team mode: an account another node runs, as this node's pool sees it. It has the account's
 * name, so affinity (rendezvous over instance names) picks the same account for a conversation on
 * every node; its calls go to the node holding the account's lease (`ChatForwarder`), where the
 * account's own process and session cache serve them. Nothing runs here: starting, stopping and
 * signing in belong to the owner node.
 */
import { EventEmitter } from 'node:events';
import type { ChatEvent, ChatRequest } from '../../chat/model';
import type { ChatForwarder } from '../../cluster/ports';
import { errors } from '../../errors';
import type { CallContext, Instance, InstanceEvents, InstanceSnapshot, InstanceState } from '../types';

export interface RemoteAccountDeps {
  name: string;
  provider: string;
  maxConcurrency: number;
  /** The node holding the account's lease now, if known. */
  owner: () => string | undefined;
  forwarder: ChatForwarder;
}

export class RemoteAccount implements Instance {
  readonly kind = 'lingma';
  readonly events = new EventEmitter<InstanceEvents>();
  readonly name: string;
  readonly provider: string;
  readonly maxConcurrency: number;

  constructor(private readonly deps: RemoteAccountDeps) {
    this.name = deps.name;
    this.provider = deps.provider;
    this.maxConcurrency = deps.maxConcurrency;
  }

  state(): InstanceState {
    return this.deps.owner() ? 'ready' : 'stopped';
  }

  snapshot(): InstanceSnapshot {
    const owner = this.deps.owner();
    return {
      name: this.name,
      provider: this.provider,
      kind: this.kind,
      state: this.state(),
      reason: owner ? `runs on node ${owner}` : 'waits for a node to take its lease',
      login: { state: 'not_applicable' },
      restarts: 0,
      extra: { node: owner },
    };
  }

  async ensureReady(): Promise<void> {
    if (!this.deps.owner()) throw errors.unavailable(`Lingma account ${this.name} waits for a node to take it over.`, { code: 'account_elsewhere' });
  }

  async *chat(req: ChatRequest, ctx: CallContext): AsyncIterable<ChatEvent> {
    const owner = this.deps.owner();
    if (!owner) throw errors.unavailable(`Lingma account ${this.name} waits for a node to take it over.`, { code: 'account_elsewhere' });
    yield* this.deps.forwarder.chat(owner, this.name, req, { requestId: ctx.requestId, apiKeyId: ctx.apiKeyId, signal: ctx.signal, meta: ctx.meta });
  }

  /** The owner node probes its own process; here there is nothing to check. */
  async probe(): Promise<void> {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}
