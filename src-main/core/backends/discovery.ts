/**
 * Zero-configuration start: what is already on this machine, offered to a person.
 *  - local OpenAI-compatible servers (Ollama, LM Studio, llama.cpp server, vLLM) on their usual
 *    ports of 127.0.0.1 (`openai/local.ts`), probed with a short timeout at a first start and on
 *    demand;
 *  - an installed Lingma runtime (`lingma/binary.ts`), so a person can add an account.
 * Nothing found is used before a person confirms it (`use`, from the dashboard's Overview or
 * `serve --discover`): a server may be someone's paid gateway, never used silently. A running,
 * signed-in app is attached by the Lingma provider itself (`lingma/attach/`).
 */
import type { Logger } from 'pino';
import type { Config, ProviderConfig } from '../config/schema';
import { errors } from '../errors';
import type { DiscoveredServer, DiscoveryView, LocalServerId } from '../state-types';
import { findLingmaBinary, type BinaryLookup } from './lingma/binary';
import { LOCAL_SERVERS, localBaseUrl, probeLocalServer } from './openai/local';
import type { Provider } from './types';

export interface DiscoveryDeps {
  config: () => Config;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** The providers serving now (a found server a provider already points at is `in_use`). */
  providers: () => readonly Provider[];
  /** Add and start a provider for a confirmed server, and keep it for the next start. */
  addProvider: (cfg: ProviderConfig) => Promise<void>;
  /** A scan finished or something was put to use (the dashboard refreshes). */
  onChange?: () => void;
  /** Tests inject these; by default the real probe and binary lookup. */
  probe?: (port: number, timeoutMs: number) => Promise<string[] | undefined>;
  findLingma?: () => BinaryLookup;
}

export interface Discovery {
  view(): DiscoveryView;
  /** Probe now (one scan at a time: a second call joins the running one). */
  scan(): Promise<DiscoveryView>;
  /** A person confirmed: add the found server `id` as provider `id`. */
  use(id: string): Promise<DiscoveredServer>;
  /** `serve --discover`: use every server found and not in use yet. */
  useAll(): Promise<DiscoveredServer[]>;
  /** One line per offer saying how to take it (for the log and the terminal). */
  hints(): string[];
}

/** Servers to probe: `discovery.ports` (only those listed) in the order of `LOCAL_SERVERS`. */
export function probeList(config: Config): { id: LocalServerId; label: string; port: number }[] {
  const ports = config.discovery.ports as Partial<Record<LocalServerId, number>> | undefined;
  if (!ports) return LOCAL_SERVERS.map((s) => ({ ...s }));
  return LOCAL_SERVERS.filter((s) => ports[s.id] !== undefined).map((s) => ({ id: s.id, label: s.label, port: ports[s.id]! }));
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Does a configured provider already point at this server (by name, or by its loopback port)? */
function configured(config: Config, id: LocalServerId, port: number): boolean {
  return config.providers.some((p) => {
    if (p.name === id) return true;
    try {
      const u = new URL(p.baseUrl);
      const pPort = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
      return LOOPBACK_HOSTS.has(u.hostname) && pPort === port;
    } catch {
      return false;
    }
  });
}

export function createDiscovery(deps: DiscoveryDeps): Discovery {
  const probe = deps.probe ?? probeLocalServer;
  const findLingma = deps.findLingma ?? (() => findLingmaBinary({ setting: deps.config().lingma.binary, env: deps.env ?? process.env }));
  let found: { id: LocalServerId; label: string; port: number; models: string[] }[] = [];
  let lingma: BinaryLookup | undefined;
  let probed: { id: LocalServerId; port: number }[] = [];
  let scannedAt: number | undefined;
  let running: Promise<DiscoveryView> | undefined;

  const serverView = (s: (typeof found)[number]): DiscoveredServer => ({
    id: s.id,
    label: s.label,
    port: s.port,
    baseUrl: localBaseUrl(s.port),
    models: [...s.models],
    status: configured(deps.config(), s.id, s.port) ? 'in_use' : 'offered',
  });

  const view = (): DiscoveryView => ({
    scannedAt,
    scanning: running !== undefined,
    probed: probed.map((p) => ({ ...p })),
    servers: found.map(serverView),
    lingma: lingma?.found
      ? { installed: true, label: lingma.label, version: lingma.version, inUse: deps.providers().some((p) => p.kind === 'lingma') }
      : undefined,
  });

  const scanOnce = async (): Promise<DiscoveryView> => {
    const config = deps.config();
    const list = probeList(config);
    const timeoutMs = config.discovery.timeoutMs;
    const answers = await Promise.all(list.map((s) => probe(s.port, timeoutMs)));
    found = list.flatMap((s, i) => (answers[i] ? [{ ...s, models: answers[i]! }] : []));
    probed = list.map(({ id, port }) => ({ id, port }));
    try {
      lingma = findLingma();
    } catch {
      lingma = undefined;
    }
    scannedAt = Date.now();
    for (const s of found.map(serverView)) {
      if (s.status === 'offered') {
        deps.log.info({ server: s.id, port: s.port, models: s.models.length }, `found ${s.label} on :${s.port} with ${s.models.length} model${s.models.length === 1 ? '' : 's'}: run with --discover to use it, or "Use it" on the dashboard's Overview`);
      }
    }
    return view();
  };

  const discovery: Discovery = {
    view,
    scan() {
      running ??= scanOnce().finally(() => {
        running = undefined;
        deps.onChange?.();
      });
      return running;
    },
    async use(id) {
      const s = found.find((f) => f.id === id);
      if (!s) {
        throw errors.notFound(
          `Nothing called '${id}' was found on this machine${scannedAt ? '' : ' (no scan yet)'}: scan again once the server runs.`,
          'discovery_not_found',
        );
      }
      const current = serverView(s);
      if (current.status === 'in_use') return current;
      // The model list is not pinned: the provider reads it from the server at each start.
      await deps.addProvider({ name: s.id, type: 'openai', baseUrl: current.baseUrl });
      deps.log.info({ provider: s.id, baseUrl: current.baseUrl }, `${s.label} on :${s.port} added as provider '${s.id}'`);
      deps.onChange?.();
      return serverView(s);
    },
    async useAll() {
      const out: DiscoveredServer[] = [];
      for (const s of found) if (serverView(s).status === 'offered') out.push(await discovery.use(s.id));
      return out;
    },
    hints() {
      return found
        .map(serverView)
        .filter((s) => s.status === 'offered')
        .map((s) => `found ${s.label} on :${s.port}: run with --discover to use it`);
    },
  };
  return discovery;
}

/** Nothing configured to serve: no provider and no Lingma account (a first start). */
export function nothingConfigured(config: Config, hasAccounts: boolean): boolean {
  return config.providers.length === 0 && config.lingma.accounts.length === 0 && !hasAccounts;
}
