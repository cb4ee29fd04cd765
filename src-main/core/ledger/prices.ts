/**
 * Cost at write time from `ledger.prices`: patterns (with `*`) matched against the resolved
 * `provider/model` label and the bare upstream model. The most specific pattern wins: an exact
 * name beats any pattern, then the pattern with the most literal characters. No price → null
 * (unknown), never 0.
 */
import type { Price } from '../config/schema';

interface Compiled {
  pattern: string;
  re: RegExp;
  literal: number;
  exact: boolean;
  price: Price;
}

export interface CostInput {
  provider?: string;
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
}

export class PriceTable {
  private readonly compiled: Compiled[];
  private readonly cache = new Map<string, Price | null>();

  constructor(prices: Record<string, Price>) {
    this.compiled = Object.entries(prices).map(([pattern, price]) => ({
      pattern,
      price,
      exact: !pattern.includes('*'),
      literal: pattern.replace(/\*/g, '').length,
      re: new RegExp(`^${pattern.split('*').map(escapeRe).join('.*')}$`, 'i'),
    }));
  }

  /** The price for a resolved model, or null when no pattern matches. */
  lookup(provider: string | undefined, model: string | undefined): Price | null {
    if (!model) return null;
    const label = provider ? `${provider}/${model}` : model;
    const hit = this.cache.get(label);
    if (hit !== undefined) return hit;
    let best: Compiled | null = null;
    for (const c of this.compiled) {
      if (!c.re.test(label) && !c.re.test(model)) continue;
      if (!best || rank(c) > rank(best)) best = c;
    }
    const price = best ? best.price : null;
    if (this.cache.size > 4096) this.cache.clear();
    this.cache.set(label, price);
    return price;
  }

  /**
   * USD for one request, or null when the price or the token counts are unknown. Prompt tokens
   * include cached ones (as backends report them); cached tokens use `cachedInput` when set, else
   * the input price. Completion tokens include reasoning tokens.
   */
  cost(rec: CostInput): number | null {
    const price = this.lookup(rec.provider, rec.model);
    if (!price) return null;
    if (rec.promptTokens === undefined && rec.completionTokens === undefined) return null;
    const prompt = rec.promptTokens ?? 0;
    const cached = Math.min(rec.cachedTokens ?? 0, prompt);
    const completion = rec.completionTokens ?? 0;
    const cachedRate = price.cachedInput ?? price.input;
    return ((prompt - cached) * price.input + cached * cachedRate + completion * price.output) / 1e6;
  }
}

function rank(c: Compiled): number {
  return (c.exact ? 1e6 : 0) + c.literal;
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
