/**
 * OpenAI-compatible providers managed from the dashboard: add, edit, remove while running
 * (routing, health and the dashboard see the change at once: a `config` event), kept in
 * `settings.json` for the next start like the other live settings.
 * SECURITY: a provider's API key is write-only: kept in the secret store (`provider/<name>/apiKey`),
 * never in `settings.json`, never in an admin response (views say only whether one is set).
 */
import type { Logger } from 'pino';
import type { Provider } from '../backends/types';
import type { Config, ProviderConfig } from '../config/schema';
import { errors } from '../errors';
import type { EventHub } from '../events';
import type { SecretStore } from '../ports';
import type { AdminProviderView } from '../admin/api-types';
import type { ProviderAddBody, ProviderEditBody } from '../admin/schemas';

export const providerSecretKey = (name: string): string => `provider/${name}/apiKey`;

/** A provider entry as `settings.json` keeps it: without its key. */
export function storedProvider(cfg: ProviderConfig): ProviderConfig {
  const { apiKey: _key, ...rest } = cfg;
  return rest;
}

/**
 * At start, before the providers are created: the keys of providers saved from the dashboard,
 * read from the secret store into (copies of) their config entries.
 */
export async function loadProviderKeys(config: Config, saved: readonly ProviderConfig[], secrets: SecretStore): Promise<void> {
  for (const s of saved) {
    const i = config.providers.findIndex((p) => p.name === s.name);
    if (i < 0 || config.providers[i].apiKey) continue;
    const key = await secrets.get(providerSecretKey(s.name));
    // A copy: the saved entry (written back to settings.json) never holds the key.
    if (key) config.providers[i] = { ...config.providers[i], apiKey: key };
  }
}

export interface ProviderManagerDeps {
  config: Config;
  /** The relay's live provider list (changed in place). */
  providers: Provider[];
  create(cfg: ProviderConfig): Provider;
  secrets: SecretStore;
  /** The providers `settings.json` holds, and how to save a new list. */
  saved(): readonly ProviderConfig[];
  save(list: ProviderConfig[]): void;
  /** Have the providers been started (a new one then starts at once)? */
  started(): boolean;
  hub: EventHub;
  log: Logger;
}

export interface ProviderManager {
  list(): AdminProviderView[];
  add(cfg: ProviderAddBody | ProviderConfig): Promise<void>;
  edit(name: string, patch: ProviderEditBody): Promise<void>;
  remove(name: string): Promise<void>;
}

export function providerManager(d: ProviderManagerDeps): ProviderManager {
  const managed = (name: string): boolean => d.saved().some((p) => p.name === name);
  const configOf = (name: string): ProviderConfig => {
    const cfg = d.config.providers.find((p) => p.name === name);
    if (!cfg) throw errors.notFound(`No OpenAI-compatible provider named '${name.slice(0, 64)}'.`, 'provider_not_found');
    if (!managed(name)) throw errors.invalid(`Provider '${name}' comes from the config file; edit it there and restart.`, 'name', 'provider_not_editable');
    return cfg;
  };
  const persist = (list: ProviderConfig[]): void => d.save(list.map(storedProvider));
  const keep = async (name: string, key: string | undefined): Promise<void> => {
    if (key) await d.secrets.set(providerSecretKey(name), key);
    else await d.secrets.delete(providerSecretKey(name));
  };
  /** A replaced or removed provider: the calls in flight finish (`retire`), then it closes. */
  const stopQuietly = (p: Provider): void => {
    (p.retire ? p.retire() : p.stop()).catch((e) => d.log.warn({ provider: p.name, err: String((e as Error)?.message ?? e) }, 'provider stop failed'));
  };

  return {
    list() {
      return d.config.providers.map((p) => ({
        name: p.name,
        baseUrl: p.baseUrl,
        hasApiKey: !!p.apiKey,
        headerNames: Object.keys(p.headers ?? {}),
        models: p.models?.map((m) => (typeof m === 'string' ? m : m.id)),
        maxConcurrency: p.maxConcurrency,
        timeoutMs: p.timeoutMs,
        tools: p.tools,
        images: p.images,
        source: managed(p.name) ? 'dashboard' : 'config',
      }));
    },

    async add(input) {
      const cfg: ProviderConfig = { ...input, type: 'openai' };
      if (cfg.models && !cfg.models.length) delete cfg.models;
      if (d.providers.some((p) => p.name === cfg.name)) throw errors.invalid(`A provider named '${cfg.name}' exists already.`, 'name', 'provider_exists');
      const provider = d.create(cfg);
      await keep(cfg.name, cfg.apiKey);
      d.config.providers.push(cfg);
      d.providers.push(provider);
      persist([...d.saved().filter((p) => p.name !== cfg.name), cfg]);
      // Before the relay started its providers, start() starts this one with the others.
      if (d.started()) await provider.start();
      d.log.info({ provider: cfg.name }, 'provider added');
      d.hub.emit('config', 'providers');
    },

    async edit(name, patch) {
      const current = configOf(name);
      const { clearApiKey, apiKey, models, ...rest } = patch;
      const next: ProviderConfig = { ...current, ...rest };
      if (apiKey) next.apiKey = apiKey;
      else if (clearApiKey) delete next.apiKey;
      if (models) {
        if (models.length) next.models = models;
        else delete next.models;
      }
      const fresh = d.create(next);
      const i = d.providers.findIndex((p) => p.name === name);
      const old = i >= 0 ? d.providers[i] : undefined;
      if (apiKey || clearApiKey) await keep(name, next.apiKey);
      d.config.providers[d.config.providers.indexOf(current)] = next;
      if (i >= 0) d.providers[i] = fresh;
      else d.providers.push(fresh);
      persist(d.saved().map((p) => (p.name === name ? next : p)));
      if (old) stopQuietly(old);
      if (d.started()) await fresh.start();
      d.log.info({ provider: name, changed: Object.keys(patch) }, 'provider changed');
      d.hub.emit('config', 'providers');
    },

    async remove(name) {
      const current = configOf(name);
      const i = d.providers.findIndex((p) => p.name === name);
      const old = i >= 0 ? d.providers.splice(i, 1)[0] : undefined;
      d.config.providers.splice(d.config.providers.indexOf(current), 1);
      persist(d.saved().filter((p) => p.name !== name));
      await d.secrets.delete(providerSecretKey(name));
      if (old) stopQuietly(old);
      d.log.info({ provider: name }, 'provider removed');
      d.hub.emit('config', 'providers');
    },
  };
}
