/**
 * The relay's team-mode wiring beyond the ports (`core/cluster/`): dashboard edits shared with the
 * other nodes, this node's report for the Nodes view, and `GET /admin/cluster`.
 *
 * - An aliases file saved from this node's dashboard (`AliasSource.save`) or settings changed here
 *   (`relay.applySettings`) are published (`RedisSharedConfig`); edits from other nodes are
 *   applied through the same local save paths without being published again, so every node's
 *   own files hold the team's edits.
 * - The node reports requests received here in flight and queued (admission), the accounts it
 *   runs with their calls (forwarded ones take the same pool slots), and counters since start.
 */
import { readFileSync } from 'node:fs';
import { Value } from '@sinclair/typebox/value';
import type { Logger } from 'pino';
import type { SharedState } from '../cluster/index';
import type { NodeFigures } from '../cluster/view';
import type { RequestObserver } from '../dispatch/outcome';
import type { LiveSettings } from '../config/live-settings';
import { LingmaProvider } from '../backends/lingma/provider';
import type { AliasSource } from '../routing/reload';
import { clusterAdminRoutes } from '../admin/cluster-routes';
import { SettingsBody } from '../admin/schemas';
import type { Relay } from './types';

/** Requests finished here since start (the node's share of the team's usage). */
export function requestCounter(): { observer: RequestObserver; counts: { requests: number; errors: number; tokens: number } } {
  const counts = { requests: 0, errors: 0, tokens: 0 };
  return {
    counts,
    observer: {
      finished: (o) => {
        counts.requests++;
        if (o.error) counts.errors++;
        counts.tokens += (o.usage?.promptTokens ?? 0) + (o.usage?.completionTokens ?? 0);
      },
    },
  };
}

const readText = (file: string | undefined): string | undefined => {
  try {
    return file ? readFileSync(file, 'utf8') : undefined;
  } catch {
    return undefined;
  }
};

export interface TeamWiring {
  /** The alias source the admin API saves through (publishes after a local save). */
  aliases: AliasSource;
  /** `GET /admin/cluster`, for the admin scope. */
  adminRoute: { plugin: typeof clusterAdminRoutes; opts: Parameters<typeof clusterAdminRoutes>[1] };
  /** Apply what the team holds now, then follow the other nodes' edits; start reporting. */
  start(): Promise<void>;
}

export function wireTeam(relay: Relay, shared: SharedState, aliasSource: AliasSource, counts: { requests: number; errors: number; tokens: number }, log: Logger): TeamWiring {
  const applyHere = relay.applySettings.bind(relay);
  // Settings hold no secrets (log level, limits, auto sign-in): they may sit in Redis as they are.
  (relay as { applySettings: Relay['applySettings'] }).applySettings = (change) => {
    applyHere(change);
    void shared.config.publish('settings', JSON.stringify(change));
  };
  const aliases: AliasSource = Object.assign(Object.create(aliasSource) as AliasSource, {
    save(text: string) {
      const outcome = aliasSource.save(text);
      if (outcome.ok) void shared.config.publish('aliases', text);
      return outcome;
    },
  });

  const fromTeam = (doc: 'aliases' | 'settings', value: string): void => {
    try {
      if (doc === 'aliases') {
        if (readText(aliasSource.file) === value) return;
        aliasSource.save(value);
        log.info({ node: shared.nodeName }, 'cluster: aliases edited on another node applied');
      } else {
        // Checked like a dashboard's PATCH /admin/settings: what Redis holds is outside input too.
        const settings: unknown = JSON.parse(value);
        if (!Value.Check(SettingsBody, settings)) throw new Error(`not valid settings (${[...Value.Errors(SettingsBody, settings)][0]?.path || 'the whole object'})`);
        applyHere(settings as LiveSettings);
      }
      relay.hub.emit('config', doc);
    } catch (e) {
      log.warn({ doc, err: String((e as Error)?.message ?? e) }, 'cluster: an edit from another node could not be applied here');
    }
  };

  const figures = (): NodeFigures => {
    const lingma = relay.providers.find((p): p is LingmaProvider => p instanceof LingmaProvider);
    const here = lingma ? lingma.lingmaInstances().filter((i) => shared.leases.holds(i.name)) : [];
    const a = relay.admission.stats();
    return { inFlight: a.inFlight, queued: a.queued, accounts: here.map((i) => ({ name: i.name, inFlight: relay.pool.inFlight(i.name) })), ...counts };
  };
  let board: ReturnType<SharedState['startStatus']> | undefined;

  return {
    aliases,
    adminRoute: { plugin: clusterAdminRoutes, opts: { view: () => (board ?? shared.startStatus(figures)).read() } },
    async start() {
      board = shared.startStatus(figures);
      await shared.config.follow(fromTeam);
    },
  };
}
