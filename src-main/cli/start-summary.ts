/**
 * What `npm run serve` prints for a person once it listens (stdout is a terminal): the endpoint,
 * the API key (masked, except the one run that generated it), the dashboard, and what to do next
 * when nothing can serve yet. Pure functions of the relay's state, tested as such.
 */
import type { DiscoveryView } from '../core/state-types';

export interface StartState {
  /** `http://127.0.0.1:8420`. */
  url: string;
  dataDir: string;
  /** The key clients can use now (config or generated), shown masked. */
  apiKey?: string;
  /** Secrets generated on this start: shown whole, this once. */
  firstRun: { apiKey?: string; adminToken?: string };
  /** Providers running (a Lingma pool counts as one). */
  providers: string[];
  /** A Lingma pool runs, so accounts can be added in the dashboard. */
  accountsEditable: boolean;
  /** No provider and no Lingma account is configured (a Lingma pool may run with its empty default). */
  nothingConfigured: boolean;
  discovery?: DiscoveryView;
}

/** `sk-relay-3f9…b21c`: enough to recognise a key, not to use it. */
export function maskKey(k: string): string {
  if (k.length <= 16) return '•'.repeat(k.length);
  return `${k.slice(0, 11)}…${k.slice(-4)}`;
}

/** Steps a person can take when nothing can serve yet (empty when something is configured). */
export function nextSteps(s: StartState): string[] {
  if (s.providers.length > 0 && !s.nothingConfigured) return [];
  const out: string[] = [];
  const offered = (s.discovery?.servers ?? []).filter((x) => x.status === 'offered');
  for (const x of offered) out.push(`found ${x.label} on :${x.port}: run with --discover to use it (or "Use it" in the dashboard: ${s.url}/ui/#/)`);
  if (s.accountsEditable) out.push(`add a Lingma account in the dashboard: ${s.url}/ui/#/accounts`);
  else if (s.discovery?.lingma) {
    out.push(`Lingma is installed (${s.discovery.lingma.label}${s.discovery.lingma.version ? ` ${s.discovery.lingma.version}` : ''}): add an account with LINGMA_ACCOUNTS=user:password (or lingma.accounts in the config) and start again; then accounts are managed in the dashboard: ${s.url}/ui/#/accounts`);
  } else if (!offered.length) {
    out.push('nothing can serve yet: install the Lingma IDE plugin or desktop app and add an account (LINGMA_ACCOUNTS=user:password), start a local server (Ollama, LM Studio, llama.cpp, vLLM) and run with --discover, or add a provider under providers: in the config file');
  }
  return out;
}

/** The lines printed after `relay listening on URL` when a person watches. */
export function startLines(s: StartState): string[] {
  const lines = [`relay listening on ${s.url}`];
  lines.push(`  endpoint   ${s.url}/v1  (OpenAI; Anthropic Messages and Responses at the same address)`);
  if (s.firstRun.apiKey) lines.push(`  API key    ${s.firstRun.apiKey}  (generated now and shown this once; kept in ${s.dataDir}/api-key)`);
  else if (s.apiKey) lines.push(`  API key    ${maskKey(s.apiKey)}  (the whole key: ${s.dataDir}/api-key or the dashboard)`);
  else lines.push('  API key    none can be shown (keys come from the config); create one in the dashboard');
  if (s.firstRun.adminToken) lines.push(`  dashboard  ${s.url}/ui/  (admin token, shown this once: ${s.firstRun.adminToken}; kept in ${s.dataDir}/admin-token)`);
  else lines.push(`  dashboard  ${s.url}/ui/  (admin token in ${s.dataDir}/admin-token)`);
  lines.push(`  serving    ${s.providers.length ? s.providers.join(', ') : 'nothing yet'}`);
  const next = nextSteps(s);
  if (next.length) {
    lines.push('next:');
    for (const n of next) lines.push(`  - ${n}`);
  }
  return lines;
}
