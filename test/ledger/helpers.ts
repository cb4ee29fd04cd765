import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Config } from '../../src-main/core/config/schema';
import type { UsageRecord } from '../../src-main/core/ledger/types';

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export function ledgerConfig(over: Partial<Config['ledger']> = {}): Config['ledger'] {
  return {
    enabled: true, retentionDays: 90, prices: {}, flushIntervalMs: 20, batchSize: 100, queueMax: 50_000, onDegraded: 'open',
    ...over,
  };
}

let seq = 0;
export function rec(over: Partial<UsageRecord> = {}): UsageRecord {
  const receivedAt = over.receivedAt ?? Date.now();
  return {
    requestId: `req-${++seq}`,
    receivedAt,
    firstByteAt: receivedAt + 100,
    finishedAt: receivedAt + 500,
    apiKeyId: 'key1',
    userAgent: 'test/1.0',
    endpoint: '/v1/chat/completions',
    protocol: 'openai-chat',
    requestedModel: 'coder',
    alias: 'coder',
    provider: 'lingma',
    instance: 'lingma-a',
    model: 'qwen3-coder',
    stream: true,
    status: 200,
    switches: 0,
    switchReasons: [],
    sessionReuse: false,
    promptTokens: 100,
    completionTokens: 50,
    tokensEstimated: false,
    ttftMs: 100,
    totalMs: 500,
    ...over,
  };
}

export interface TempDir {
  dir: string;
  path(name?: string): string;
  cleanup(): void;
}

export function tempDir(): TempDir {
  const dir = mkdtempSync(join(tmpdir(), 'relay-ledger-test-'));
  return { dir, path: (name = 'usage.db') => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const silent: Logger = pino({ level: 'silent' });

/** A logger whose lines (parsed JSON) are kept for assertions. */
export function captureLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines };
}

export async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
