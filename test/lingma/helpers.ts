/** Shared helpers for the Lingma backend tests: a real spawner, the simulator, configs, contexts. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FormatRegistry } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import pino, { type Logger } from 'pino';
import type { ChatEvent, ChatMessage, ChatRequest } from '../../src-main/core/chat/model';
import { ConfigSchema, type Config } from '../../src-main/core/config/schema';
import type { ProcessSpawner, SecretStore } from '../../src-main/core/ports';
import type { CallContext } from '../../src-main/core/backends/types';
import { createLingmaProvider, type LingmaProvider, type LingmaProviderDeps } from '../../src-main/core/backends/lingma';
import type { LingmaInstance } from '../../src-main/core/backends/lingma/instance';

export const SIM_BIN = fileURLToPath(new URL('../sim/Lingma', import.meta.url));

export const nodeSpawner: ProcessSpawner = {
  spawn: (command, args, options) => spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true }),
};

/**
 * The real spawner, plus the simulator's test-only variables (`LINGMA_SIM_*` entries of `vars`,
 * read at each spawn so a test may change them between starts) added to the options the relay
 * passes. The relay itself gives children only the filtered environment (`core/child-env.ts`).
 */
export function simSpawner(vars: NodeJS.ProcessEnv | Record<string, string | undefined>, base: ProcessSpawner = nodeSpawner): ProcessSpawner {
  return {
    spawn: (command, args, options) => {
      const extra = Object.fromEntries(Object.entries(vars).filter(([k, v]) => k.startsWith('LINGMA_SIM_') && v !== undefined));
      return base.spawn(command, args, { ...options, env: { ...options.env, ...extra } });
    },
  };
}

export function silentLog(): Logger {
  return pino({ level: process.env.LINGMA_TEST_LOG ?? 'silent' });
}

/** A logger at trace level whose output is kept, to check that no secret reaches it. */
export function captureLog(): { log: Logger; text: () => string } {
  const lines: string[] = [];
  const log = pino({ level: 'trace' }, { write: (s: string) => void lines.push(s) });
  return { log, text: () => lines.join('') };
}

export class MemorySecrets implements SecretStore {
  readonly protection = 'file' as const;
  readonly map = new Map<string, string>();
  async get(k: string) {
    return this.map.get(k);
  }
  async set(k: string, v: string) {
    this.map.set(k, v);
  }
  async delete(k: string) {
    this.map.delete(k);
  }
}

export function tmpDir(prefix = 'lingma-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

// The config loader registers formats in the app; tests check configs on their own.
if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (v) => {
    try {
      new URL(v);
      return true;
    } catch {
      return false;
    }
  });
}

export function makeConfig(lingma: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Config {
  const c = Value.Default(ConfigSchema, { lingma: { binary: SIM_BIN, ...lingma }, ...extra }) as Config;
  if (!Value.Check(ConfigSchema, c)) throw new Error(`bad test config: ${[...Value.Errors(ConfigSchema, c)].map((e) => `${e.path} ${e.message}`).join('; ')}`);
  return c;
}

export interface Harness {
  provider: LingmaProvider;
  dataDir: string;
  config: Config;
  secrets: MemorySecrets;
  close(): Promise<void>;
}

/** A provider over the simulator; `env` goes to the simulator processes. */
export function makeProvider(opts: { lingma?: Record<string, unknown>; extra?: Record<string, unknown>; env?: Record<string, string>; deps?: Partial<LingmaProviderDeps> } = {}): Harness {
  const dataDir = tmpDir();
  const config = makeConfig(opts.lingma, opts.extra);
  const secrets = new MemorySecrets();
  const provider = createLingmaProvider({
    config,
    dataDir,
    spawner: simSpawner(opts.env ?? {}),
    secrets,
    log: silentLog(),
    env: { ...process.env, LINGMA_BIN: '', ...opts.env },
    backoff: { baseMs: 100, maxMs: 1000, maxAttempts: 8 },
    stopGraceMs: 3000,
    ...opts.deps,
  });
  return {
    provider,
    dataDir,
    config,
    secrets,
    async close() {
      await provider.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function ctx(over: Partial<CallContext> = {}): CallContext {
  return { requestId: `req-${Math.random().toString(36).slice(2)}`, apiKeyId: 'key1', signal: new AbortController().signal, log: silentLog(), meta: {}, ...over };
}

export const user = (text: string): ChatMessage => ({ role: 'user', content: [{ type: 'text', text }] });
export const assistant = (text: string): ChatMessage => ({ role: 'assistant', content: [{ type: 'text', text }] });
export const system = (text: string): ChatMessage => ({ role: 'system', content: [{ type: 'text', text }] });

export function chatReq(messages: ChatMessage[], over: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'dashscope_qwen3_coder', messages, stream: true, ...over };
}

export async function collect(it: AsyncIterable<ChatEvent>): Promise<{ events: ChatEvent[]; text: string; reasoning: string; finish?: string }> {
  const events: ChatEvent[] = [];
  for await (const e of it) events.push(e);
  const text = events.map((e) => (e.type === 'text' ? e.text : '')).join('');
  const reasoning = events.map((e) => (e.type === 'reasoning' ? e.text : '')).join('');
  const fin = events.find((e) => e.type === 'finish');
  return { events, text, reasoning, finish: fin && fin.type === 'finish' ? fin.reason : undefined };
}

/** Simulator HTTP control (on the instance's httpPort). */
export async function sim(inst: LingmaInstance, body?: Record<string, unknown>): Promise<SimStats> {
  const port = inst.httpPort;
  if (!port) throw new Error(`${inst.name} has no http port`);
  if (body) {
    const r = await fetch(`http://127.0.0.1:${port}/__sim/control`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`sim control failed: ${await r.text()}`);
  }
  const r = await fetch(`http://127.0.0.1:${port}/__sim/stats`);
  return (await r.json()) as SimStats;
}

export interface SimStats {
  pid: number;
  asks: Array<{ requestId: string; sessionIdIn: string; sessionIdOut: string; isReply: boolean; mode: string; sessionType: string; model: string; promptBytes: number; text: string; answer: string; statusCode: number | null }>;
  stops: string[];
  unanswered: number;
  serverRequestsSent: number;
  serverRequestsAnswered: number;
  nonNullAnswers: number;
  toolInvokeResults: unknown[];
  workspacePathEmpty: number;
  initializes: number;
  unknownHeaders: number;
  loggedIn: boolean;
  user: string | null;
  endpoint: string;
  endpointUpdates: string[];
  logouts: number;
  connections: number;
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 20000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export async function readyInstance(h: Harness, i = 0): Promise<LingmaInstance> {
  await h.provider.start();
  await h.provider.whenStarted();
  const inst = h.provider.lingmaInstances()[i];
  await inst.ensureReady(new AbortController().signal);
  return inst;
}
