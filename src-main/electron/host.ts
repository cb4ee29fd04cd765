/**
 * Hosts the core gateway inside the desktop app: start, pause (stop), resume (a fresh relay from
 * the current settings), graceful stop. Operations are serialised, so a tray click during a start
 * waits for it. Instance snapshots for the tray are kept from the hub's `instance` events.
 */
import type { InstanceSnapshot } from '../core/backends/types';
import type { AvailabilityView } from '../core/state-types';
import type { Config } from '../core/config/schema';
import type { EventHub } from '../core/events';
import type { Log } from './security';

/** What the desktop uses of core's Relay (`core/relay.ts`). */
export interface RelayLike {
  readonly hub: EventHub;
  start(): Promise<void>;
  listen(opts: { host: string; port: number }): Promise<unknown>;
  url(): string;
  stop(): Promise<void>;
  /** The one availability answer per instance (core/pool/availability-model.ts). */
  readonly availability?: { view(name: string): AvailabilityView | undefined };
}

export interface GatewayHostDeps {
  /** Builds a relay from the current settings (and the config it was built from). */
  create(): Promise<{ relay: RelayLike; config: Config }>;
  log: Log;
  /** Called after every status or instance change (the tray refreshes). */
  onChange?(): void;
}

export type HostStatus = 'stopped' | 'starting' | 'running' | 'stopping';

export class GatewayHost {
  status: HostStatus = 'stopped';
  /** Why the last start failed (client-safe text), cleared by a successful start. */
  lastError: string | undefined;
  relay: RelayLike | undefined;
  config: Config | undefined;
  private readonly snaps = new Map<string, InstanceSnapshot>();
  private chain: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: GatewayHostDeps) {}

  snapshots(): InstanceSnapshot[] {
    return [...this.snaps.values()];
  }

  /** The relay's availability answer for an instance (serving, out of credits ...), while running. */
  availabilityOf(name: string): AvailabilityView | undefined {
    if (this.status !== 'running') return undefined;
    try {
      return this.relay?.availability?.view(name);
    } catch {
      return undefined;
    }
  }

  /** The gateway's base URL for the dashboard and clients (`http://127.0.0.1:8420`). */
  url(): string | undefined {
    return this.status === 'running' ? this.relay?.url() : undefined;
  }

  start(): Promise<void> {
    return this.serial(async () => {
      if (this.status === 'running') return;
      this.setStatus('starting');
      let relay: RelayLike | undefined;
      try {
        const made = await this.deps.create();
        relay = made.relay;
        this.relay = relay;
        this.config = made.config;
        this.snaps.clear();
        const onInstance = (s: InstanceSnapshot) => {
          this.snaps.set(s.name, s);
          this.deps.onChange?.();
        };
        relay.hub.on('instance', onInstance);
        this.unsubscribe = () => relay?.hub.off('instance', onInstance);
        seedSnapshots(relay, this.snaps);
        await relay.start();
        await relay.listen({ host: made.config.server.host, port: made.config.server.port });
        this.lastError = undefined;
        this.setStatus('running');
        this.deps.log('info', `gateway listening on ${relay.url()}`);
      } catch (e) {
        this.lastError = describeStartError(e, this.config);
        this.deps.log('error', `gateway failed to start: ${this.lastError}`);
        this.unsubscribe?.();
        this.unsubscribe = undefined;
        if (relay) await relay.stop().catch(() => undefined);
        this.relay = undefined;
        this.setStatus('stopped');
        throw new Error(this.lastError);
      }
    });
  }

  /** Graceful stop (in-flight requests finish, ledger flushed, backend processes stopped). */
  stop(): Promise<void> {
    return this.serial(async () => {
      const relay = this.relay;
      if (!relay || this.status === 'stopped') return;
      this.setStatus('stopping');
      try {
        await relay.stop();
      } finally {
        this.unsubscribe?.();
        this.unsubscribe = undefined;
        this.relay = undefined;
        this.snaps.clear();
        this.setStatus('stopped');
      }
    });
  }

  private setStatus(s: HostStatus) {
    this.status = s;
    this.deps.onChange?.();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }
}

/** Initial snapshots from the relay's providers, whatever collection holds them. */
function seedSnapshots(relay: RelayLike, into: Map<string, InstanceSnapshot>): void {
  const providers = (relay as { providers?: unknown }).providers;
  const list: unknown[] = Array.isArray(providers)
    ? providers
    : providers instanceof Map
      ? [...providers.values()]
      : providers && typeof (providers as { list?: unknown }).list === 'function'
        ? ((providers as { list(): unknown[] }).list() ?? [])
        : [];
  for (const p of list) {
    const instances = (p as { instances?: () => Array<{ snapshot(): InstanceSnapshot }> }).instances?.() ?? [];
    for (const i of instances) {
      try {
        const s = i.snapshot();
        into.set(s.name, s);
      } catch {
        /* a broken instance must not stop the app */
      }
    }
  }
}

/** A start failure in words a person can act on (no secrets: config errors name keys, not values of secrets). */
export function describeStartError(e: unknown, config?: Config): string {
  const err = e as NodeJS.ErrnoException & { issues?: string[] };
  if (err?.code === 'EADDRINUSE') return `port ${config?.server.port ?? '?'} is already in use; choose another port in the settings`;
  if (err?.code === 'EACCES') return `not allowed to listen on port ${config?.server.port ?? '?'}`;
  if (err?.name === 'ConfigError') return err.message;
  return err instanceof Error ? err.message.split('\n')[0] : String(e);
}

/**
 * Signs one account in (the tray's "Finish Sign-in as …"): the Lingma provider's
 * `accounts.login(name)`, else the instance's own `login()`. False when no such account signs in.
 */
export async function signIn(relay: RelayLike | undefined, name: string, log: Log): Promise<boolean> {
  const providers = (relay as { providers?: unknown } | undefined)?.providers;
  const list: unknown[] = Array.isArray(providers) ? providers : providers instanceof Map ? [...providers.values()] : [];
  for (const p of list) {
    const prov = p as { accounts?: { login?: (n: string) => Promise<unknown> }; instances?: () => Array<{ name: string; login?: () => Promise<void> }> };
    const inst = prov.instances?.().find((i) => i.name === name);
    if (!inst) continue;
    try {
      if (typeof prov.accounts?.login === 'function') await prov.accounts.login(name);
      else if (typeof inst.login === 'function') await inst.login();
      else return false;
      return true;
    } catch (e) {
      log('warn', `sign in ${name}: ${(e as Error).message}`);
      return false;
    }
  }
  return false;
}

/** The Lingma provider's `accounts.loginAll()` (core/backends/lingma/accounts-api.ts), else each instance's `login()`. */
export async function loginAll(relay: RelayLike | undefined, log: Log): Promise<void> {
  const providers = (relay as { providers?: unknown } | undefined)?.providers;
  const list: unknown[] = Array.isArray(providers) ? providers : providers instanceof Map ? [...providers.values()] : [];
  const jobs: Promise<unknown>[] = [];
  for (const p of list) {
    const prov = p as { accounts?: { loginAll?: () => Promise<unknown> }; instances?: () => Array<{ login?: () => Promise<void> }> };
    if (typeof prov.accounts?.loginAll === 'function') jobs.push(prov.accounts.loginAll());
    else for (const i of prov.instances?.() ?? []) if (typeof i.login === 'function') jobs.push(i.login());
  }
  const results = await Promise.allSettled(jobs);
  const failed = results.filter((r) => r.status === 'rejected').length;
  log(failed ? 'warn' : 'info', `log in all accounts: ${jobs.length - failed}/${jobs.length} started or done`);
}
