/**
 * Config → backend kinds → Providers. The only place that lists the kinds under `core/backends/`;
 * each kind (its folder's `kind.ts`) says which config entries are its own, which hop options it
 * takes and how to build its provider. Routing and the pool see only the resulting `Provider`s.
 */
import { spawn } from 'node:child_process';
import { childEnv } from '../child-env';
import type { Config, ProviderConfig } from '../config/schema';
import type { ProcessSpawner } from '../ports';
import type { HopOptionKinds, OptionKind } from '../routing/hop-options';
import { lingmaKind } from './lingma/kind';
import { openaiKind } from './openai/kind';
import type { BackendDeps, BackendKind, LingmaMode, Provider } from './types';

export type { LingmaMode } from './types';

/** Every backend kind, in the order their providers are created. */
export const KINDS: readonly BackendKind[] = [lingmaKind, openaiKind];

/**
 * Node's child_process, piped stdio, no console window on Windows, a filtered environment. On Unix each child gets its own
 * process group (`detached`), so a Ctrl-C or a group signal meant for the gateway does not reach
 * the Lingma processes: the gateway stops them itself, in order (orphans of a killed gateway are
 * cleaned up at the next start through `lingma/pids.json`).
 */
export const nodeSpawner: ProcessSpawner = {
  // SECURITY: without an explicit environment a child gets the filtered one, never ours whole.
  spawn: (command, args, options) =>
    spawn(command, args, { ...options, env: options.env ?? childEnv(), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, detached: process.platform !== 'win32' }),
};

/** What the hosts pass: `BackendDeps` with the spawner optional (default: `nodeSpawner`). */
export type RegistryDeps = Omit<BackendDeps, 'spawner'> & { spawner?: ProcessSpawner };

export function createProviders(deps: RegistryDeps, kinds: readonly BackendKind[] = KINDS): Provider[] {
  const backendDeps: BackendDeps = { ...deps, spawner: deps.spawner ?? nodeSpawner };
  const out: Provider[] = [];
  for (const kind of kinds) {
    for (const { entry } of kind.entries(deps.config)) {
      if (kind.wanted && !kind.wanted(entry, backendDeps)) continue;
      out.push(kind.create(entry, backendDeps));
    }
  }
  return out;
}

/**
 * Which options schema a hop's provider takes: every provider name the config defines (running or
 * not) mapped to its kind. Routing checks alias hop options against it when aliases load.
 */
export function hopOptionKinds(config: Config, kinds: readonly BackendKind[] = KINDS): HopOptionKinds {
  const all: OptionKind[] = kinds.map((k) => ({ kind: k.name, schema: k.optionsSchema }));
  // Read at each check: providers added, edited or removed while running count at once.
  const forProvider = (name: string): OptionKind | undefined => {
    let found: OptionKind | undefined;
    kinds.forEach((k, i) => {
      for (const { provider } of k.entries(config)) if (provider === name) found = all[i];
    });
    return found;
  };
  return { forProvider, all: () => all };
}

/** One `providers[]` entry → its provider, when one is added while running (discovery). */
export function createConfiguredProvider(cfg: ProviderConfig, deps: RegistryDeps): Provider {
  return openaiKind.create(cfg, { ...deps, spawner: deps.spawner ?? nodeSpawner });
}
