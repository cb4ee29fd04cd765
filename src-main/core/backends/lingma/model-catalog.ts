/**
 * The models the `lingma` provider offers: the lists its signed-in instances read
 * (`config/queryModels`), merged and kept in `<data dir>/lingma/models.json` so a restart offers
 * them before anyone signs in again; the spec's keys before any list was ever read; the configured
 * agent models; and the context windows the runtimes reported (`context_usage` limitTokens).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomicSync } from '../../fs-atomic';
import type { ModelInfo } from '../types';

/** Keys the spec names, used when no instance has listed models yet (nothing logged in so far). */
const FALLBACK_MODELS: ModelInfo[] = [
  // The Auto entry of Lingma 2.11.1 (spec §4 verified values); instances map "auto" to the live one.
  { id: 'dashscope_qwen3_coder_default', displayName: 'Auto', aliases: ['Auto'] },
  { id: 'dashscope_qwen3_coder', displayName: 'Qwen3-Coder', aliases: ['Qwen3-Coder'] },
  { id: 'dashscope_qwen_max_latest', displayName: 'Qwen-Max', aliases: ['Qwen-Max'] },
];

export interface ModelCatalogDeps {
  /** The provider's name: `<name>/<model>` resolves too. */
  provider: string;
  dataDir: string;
  log: Logger;
  agentModels: () => readonly string[];
  /** The merged list changed. */
  changed: () => void;
}

export class ModelCatalog {
  /** Context windows the runtimes reported, by model key. */
  private readonly contextLimits = new Map<string, number>();
  private readonly byInstance = new Map<string, ModelInfo[]>();
  private known: ModelInfo[] = [];

  constructor(private readonly d: ModelCatalogDeps) {
    this.load();
  }

  models(): ModelInfo[] {
    const base = this.known.length ? this.known : FALLBACK_MODELS;
    const ids = new Set(base.map((m) => m.id.toLowerCase()));
    const agents = this.d
      .agentModels()
      .filter((a) => !ids.has(a.toLowerCase()))
      .map((a): ModelInfo => ({ id: a, displayName: `Lingma agent (${a})` }));
    const all = [...base, ...agents];
    if (!this.contextLimits.size) return all;
    return all.map((m) => {
      const seen = this.contextLimits.get(m.id);
      return seen && !m.contextLength ? { ...m, contextLength: seen } : m;
    });
  }

  /** A model key for a name: the key itself, `<provider>/<key>`, or one unambiguous display name/alias. */
  resolve(name: string): string | undefined {
    if (typeof name !== 'string' || !name.trim()) return undefined;
    let n = name.trim();
    const prefix = `${this.d.provider}/`;
    if (n.toLowerCase().startsWith(prefix.toLowerCase())) n = n.slice(prefix.length);
    const lower = n.toLowerCase();
    const all = this.models();
    const byId = all.find((m) => m.id.toLowerCase() === lower);
    if (byId) return byId.id;
    const byAlias = all.filter((m) => m.aliases?.some((a) => a.toLowerCase() === lower) || m.displayName?.toLowerCase() === lower);
    return byAlias.length === 1 ? byAlias[0].id : undefined;
  }

  sawContextLimit(model: string, tokens: number): void {
    this.contextLimits.set(model, tokens);
  }

  /** An instance read its list (empty: it signed out or went away). */
  set(instance: string, models: ModelInfo[]): void {
    if (models.length) this.byInstance.set(instance, models);
    else this.byInstance.delete(instance);
    const merged = new Map<string, ModelInfo>();
    for (const list of this.byInstance.values()) for (const m of list) if (!merged.has(m.id)) merged.set(m.id, m);
    if (!merged.size) return; // keep the last known list while nobody is logged in
    const next = [...merged.values()];
    if (JSON.stringify(next) === JSON.stringify(this.known)) return;
    this.known = next;
    this.save();
    this.d.changed();
  }

  private get file(): string {
    return join(this.d.dataDir, 'lingma', 'models.json');
  }

  private load(): void {
    try {
      const raw = JSON.parse(readFileSync(this.file, 'utf8')) as { models?: ModelInfo[] };
      if (Array.isArray(raw.models)) this.known = raw.models.filter((m) => m && typeof m.id === 'string');
    } catch {
      /* none yet */
    }
  }

  private save(): void {
    try {
      writeFileAtomicSync(this.file, JSON.stringify({ models: this.known }, null, 2));
    } catch (e) {
      this.d.log.warn({ err: (e as Error).message }, 'could not save the Lingma model list');
    }
  }
}
