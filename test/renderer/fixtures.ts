import type { AdminInstance, AdminSnapshot } from '../../src-main/core/admin/api-types';
import { availabilityOf } from '../../src-main/core/pool/availability';

/** An instance view; its `availability` comes from the relay's one function unless given. */
export function instance(over: Partial<AdminInstance> = {}): AdminInstance {
  const i: AdminInstance = {
    name: 'alice', provider: 'lingma', kind: 'lingma', state: 'ready', login: { state: 'logged_in', user: 'alice' },
    inFlight: 0, limit: 1, restarts: 0, startedAt: Date.now() - 60_000, actions: { login: true, logout: true, restart: true },
    ...over,
  };
  if (!('availability' in over)) {
    const { wait: _wait, ...a } = availabilityOf({ name: i.name, state: i.state, stateReason: i.reason, login: i.login, health: i.health, now: Date.now() });
    i.availability = a;
  }
  return i;
}

export function snapshot(over: Partial<AdminSnapshot> = {}): AdminSnapshot {
  return {
    now: Date.now(), startedAt: Date.now() - 100_000, version: '0.1.0',
    endpoint: 'http://127.0.0.1:8420/v1', apiKey: 'sk-relay-test-key-0123456789abcdef',
    instances: [instance()],
    providers: [{ name: 'lingma', kind: 'lingma', models: ['lingma/qwen3-coder'] }],
    aliases: [{ name: 'coder', chain: ['lingma/qwen3-coder'], expanded: ['lingma/qwen3-coder'], pattern: false, targets: [{ label: 'lingma/qwen3-coder', provider: 'lingma', ready: 1, total: 1, status: 'ok' }] }],
    aliasesRaw: { coder: { chain: ['lingma/qwen3-coder'] } },
    sessionCache: { enabled: true, hits: 3, misses: 1, entries: 2, maxEntries: 1024 },
    admission: { inFlight: 0, queued: 0, rejected: 0, max: 64 },
    ledger: { state: 'ok', written: 10, dropped: 0, queued: 0 },
    accounts: [{ name: 'alice', username: 'alice', hasPassword: true, source: 'runtime' }],
    accountsEditable: true,
    keys: [{ id: 'abc123abc123', name: 'default', prefix: 'sk-relay-te…', source: 'data-dir', revocable: true }],
    settings: { logLevel: 'info', maxInFlight: 64, queueTimeoutMs: 30000, perKeyConcurrency: 16, firstByteTimeoutMs: 60000, loginAuto: true },
    secretProtection: 'os',
    live: [], counters: [], logs: [],
    ...over,
  };
}
