/** In-test fakes shaped like the relay's real parts (providers, instances, key store, accounts). */
import { EventEmitter } from 'node:events';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, type Config } from '../../src-main/core/config/schema';
import { EventHub } from '../../src-main/core/events';
import { errors } from '../../src-main/core/errors';
import type { Instance, InstanceEvents, InstanceSnapshot, InstanceState, LoginState, Provider } from '../../src-main/core/backends/types';
import type { AccountInput } from '../../src-main/core/admin/api-types';
import type { LingmaAccountsApi } from '../../src-main/core/backends/lingma/accounts-api';
import type { PublicAccount } from '../../src-main/core/backends/lingma/accounts';
import type { SessionCacheStats } from '../../src-main/core/backends/lingma/session-cache';

export function testConfig(over: Partial<Config> = {}): Config {
  const base = Value.Default(ConfigSchema, Value.Clone({ server: {}, lingma: { login: {} }, limits: {}, health: {}, sessionCache: {}, ledger: {} })) as Config;
  return { ...base, ...over };
}

export class FakeInstance implements Instance {
  readonly events = new EventEmitter<InstanceEvents>();
  st: InstanceState = 'ready';
  login_: LoginState = { state: 'logged_in', user: 'alice' };
  restarts = 0;
  calls: string[] = [];
  constructor(readonly name: string, readonly provider: string, private hub: EventHub, readonly kind = 'lingma', readonly maxConcurrency = 2) {}
  state() { return this.st; }
  snapshot(): InstanceSnapshot {
    return { name: this.name, provider: this.provider, kind: this.kind, state: this.st, login: this.login_, restarts: this.restarts, startedAt: Date.now() - 5000 };
  }
  set(st: InstanceState, login?: LoginState) {
    this.st = st;
    if (login) this.login_ = login;
    this.hub.emit('instance', this.snapshot());
  }
  async ensureReady() {}
  // eslint-disable-next-line require-yield
  async *chat(): AsyncIterable<never> { throw errors.unavailable('fake'); }
  async probe() {}
  async start() { this.calls.push('start'); }
  async stop() { this.calls.push('stop'); }
  async restart() { this.calls.push('restart'); this.restarts++; this.set('ready'); }
  async login() { this.calls.push('login'); this.set('ready', { state: 'logged_in', user: this.name }); }
  async logout() { this.calls.push('logout'); this.set('ready', { state: 'logged_out' }); }
}

/** A Lingma-shaped provider of fake instances; `accounts` is a typed LingmaAccountsApi double. */
export class FakeLingmaProvider implements Provider {
  readonly name = 'lingma';
  readonly kind = 'lingma';
  readonly capabilities = { tools: false, images: false, embeddings: false };
  readonly events = new EventEmitter<{ models: [] }>();
  list: FakeInstance[] = [];
  stored: (AccountInput & { name: string })[] = [];
  passwords = new Map<string, string>();
  readonly accounts: LingmaAccountsApi;
  constructor(private hub: EventHub) {
    const find = (name: string) => {
      const i = this.list.find((x) => x.name === name);
      if (!i) throw errors.notFound(`No Lingma instance named ${name}.`, 'instance_not_found');
      return i;
    };
    const view = (name: string): PublicAccount => {
      const a = this.stored.find((x) => x.name === name)!;
      return { name: a.name, username: a.username, hasPassword: this.passwords.has(a.name), source: 'runtime', dedicatedDomain: a.dedicatedDomain };
    };
    this.accounts = {
      list: async () => this.stored.map((a) => view(a.name)),
      add: async (input) => {
        const name = input.name ?? input.username;
        if (this.stored.some((a) => a.name === name)) throw errors.invalid(`An account named '${name}' exists already.`, 'name');
        this.stored.push({ ...input, name, password: undefined });
        if (input.password) this.passwords.set(name, input.password);
        this.list.push(new FakeInstance(name, 'lingma', this.hub));
        this.hub.emit('config', 'accounts');
        return view(name);
      },
      update: async (name, patch) => {
        const a = this.stored.find((x) => x.name === name);
        if (!a) throw errors.notFound(`No account named '${name}'.`);
        if (patch.username) a.username = patch.username;
        if (patch.dedicatedDomain) a.dedicatedDomain = patch.dedicatedDomain;
        if (patch.password) this.passwords.set(name, patch.password);
        this.hub.emit('config', 'accounts');
        return view(name);
      },
      remove: async (name) => {
        const i = this.stored.findIndex((x) => x.name === name);
        if (i < 0) throw errors.notFound(`No account named '${name}'.`);
        this.stored.splice(i, 1);
        this.list = this.list.filter((x) => x.name !== name);
        this.hub.emit('config', 'accounts');
      },
      login: async (name) => (await find(name).login(), find(name).snapshot()),
      loginAll: async () => Promise.all(this.list.map(async (i) => (await i.login(), i.snapshot()))),
      logout: async (name) => (await find(name).logout(), find(name).snapshot()),
      restart: async (name) => (await find(name).restart(), find(name).snapshot()),
    };
  }
  instances() { return this.list; }
  models() { return [{ id: 'qwen3-coder', displayName: 'Qwen3 Coder' }]; }
  resolveModel(n: string) { return n === 'qwen3-coder' ? n : undefined; }
  async start() {}
  async stop() {}
  sessionCacheStats(): SessionCacheStats { return { enabled: true, hits: 3, misses: 1, entries: 2, maxEntries: 1024 }; }
}

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
