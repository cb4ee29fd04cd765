/** In-test fakes shaped like the relay's real parts (providers, instances, key store, accounts). */
import { EventEmitter } from 'node:events';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, type Config } from '../../src-main/core/config/schema';
import { EventHub } from '../../src-main/core/events';
import { errors } from '../../src-main/core/errors';
import type { Instance, InstanceEvents, InstanceSnapshot, InstanceState, LoginState, Provider } from '../../src-main/core/backends/types';
import type { AccountInput } from '../../src-main/core/admin/api-types';
import type { RelayLike } from '../../src-main/core/admin/deps';

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

export class FakeLingmaProvider implements Provider {
  readonly name = 'lingma';
  readonly kind = 'lingma';
  readonly capabilities = { tools: false, images: false, embeddings: false };
  readonly events = new EventEmitter<{ models: [] }>();
  list: FakeInstance[] = [];
  accounts: (AccountInput & { name: string })[] = [];
  passwords = new Map<string, string>();
  constructor(private hub: EventHub) {}
  instances() { return this.list; }
  models() { return [{ id: 'qwen3-coder', displayName: 'Qwen3 Coder' }]; }
  resolveModel(n: string) { return n === 'qwen3-coder' ? n : undefined; }
  async start() {}
  async stop() {}
  listAccounts() {
    return this.accounts.map((a) => ({ name: a.name, username: a.username, hasPassword: this.passwords.has(a.name), source: 'runtime', dedicatedDomain: a.dedicatedDomain }));
  }
  addAccount(input: AccountInput) {
    const name = input.name ?? input.username;
    if (this.accounts.some((a) => a.name === name)) throw errors.invalid(`An account named '${name}' exists already.`, 'name');
    this.accounts.push({ ...input, name, password: undefined });
    if (input.password) this.passwords.set(name, input.password);
    this.list.push(new FakeInstance(name, 'lingma', this.hub));
  }
  updateAccount(name: string, patch: Partial<AccountInput>) {
    const a = this.accounts.find((x) => x.name === name);
    if (!a) throw errors.notFound(`No account named '${name}'.`);
    if (patch.username) a.username = patch.username;
    if (patch.dedicatedDomain) a.dedicatedDomain = patch.dedicatedDomain;
    if (patch.password) this.passwords.set(name, patch.password);
  }
  removeAccount(name: string) {
    const i = this.accounts.findIndex((x) => x.name === name);
    if (i < 0) throw errors.notFound(`No account named '${name}'.`);
    this.accounts.splice(i, 1);
    this.list = this.list.filter((x) => x.name !== name);
  }
  sessionCacheStats() { return { hits: 3, misses: 1, entries: 2, maxEntries: 1024 }; }
}

export class FakeKeys {
  keys = [{ id: 'aaaaaaaaaaaa', name: 'default', key: 'sk-relay-firstkey000000000000000', source: 'data-dir' }];
  list() { return this.keys.map(({ key, ...k }) => ({ ...k, prefix: key.slice(0, 11) + '…', revocable: true })); }
  create(name: string) {
    const k = { id: `id${this.keys.length}`.padEnd(12, '0'), name, key: `sk-relay-new${this.keys.length}`.padEnd(41, 'x'), source: 'data-dir' };
    this.keys.push(k);
    return { id: k.id, key: k.key };
  }
  revoke(id: string) { this.keys = this.keys.filter((k) => k.id !== id); }
  primaryKey() { return this.keys[0]?.key; }
}

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';

export function fakeRelay(over: Partial<RelayLike> = {}): RelayLike & { lingma: FakeLingmaProvider; keysStore: FakeKeys } {
  const hub = new EventHub();
  const lingma = new FakeLingmaProvider(hub);
  lingma.addAccount({ username: 'alice', password: 'alice-secret-pw', name: 'alice' });
  lingma.addAccount({ username: 'bob', password: 'bob-secret-pw', name: 'bob' });
  lingma.list[1].login_ = { state: 'needs_manual', url: 'http://127.0.0.1:1/login?x=1', reason: 'captcha' };
  const keysStore = new FakeKeys();
  const relay = {
    config: testConfig({ server: { ...testConfig().server, adminToken: ADMIN_TOKEN } }),
    hub,
    providers: [lingma],
    keys: keysStore,
    lingma,
    keysStore,
    resolver: {
      resolve: () => { throw errors.modelNotFound('x'); },
      aliases: () => [{ name: 'coder', description: 'Coding', chain: ['lingma/qwen3-coder'], expanded: ['lingma/qwen3-coder'], pattern: false }],
      lastReload: () => ({ at: 1, ok: true, source: 'config', aliases: 1 }),
    },
    secrets: { protection: 'file' as const },
    ...over,
  };
  return relay;
}
