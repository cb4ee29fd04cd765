/**
 * The end of a request's story: its capture's timeline gets `ledger_written` only when the
 * ledger's store has confirmed the batch holding its row (`Ledger.onWritten` → the inspector,
 * wired in relay.ts), and the row is then readable by request id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import type { Capture } from '../../src-main/core/inspector/types';
import { createCore, type Relay } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

const ADMIN = 'admin-ledger-written-000000000000';
let up: FakeUpstream;
let relay: Relay;
let base: string;
let key: string;

const admin = async <T>(path: string): Promise<T> => {
  const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  expect(r.status).toBe(200);
  return (await r.json()) as T;
};

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1'], chunks: 2 });
  const dataDir = tempDir();
  const config = validateConfig({
    server: { adminToken: ADMIN },
    providers: [{ name: 'up', type: 'openai', baseUrl: up.url }],
    // A long flush interval: the row stays queued until the test flushes the ledger.
    ledger: { flushIntervalMs: 60_000 },
    inspector: { persist: true },
  });
  relay = await createCore({ config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false, logger: createLogger({ level: 'silent' }) });
  await relay.start();
  base = await relay.listen({ host: '127.0.0.1', port: 0 });
  key = relay.firstRun.apiKey!;
});

afterAll(async () => {
  await relay?.stop();
  await up?.close();
  cleanupTempDirs();
});

describe('ledger_written on the timeline', () => {
  it('is absent while the row is queued and ends the timeline once the batch is committed', async () => {
    const ids = ['lw-1', 'lw-2'];
    for (const id of ids) {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': id },
        body: JSON.stringify({ model: 'up/m1', messages: [{ role: 'user', content: `hello ${id}` }] }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    const before = await admin<Capture>('/admin/requests/lw-1');
    expect(before.timeline.at(-1)?.kind).toBe('ledger_queued');
    expect(before.timeline.some((e) => e.kind === 'ledger_written')).toBe(false);

    await relay.ledger.flush();

    for (const id of ids) {
      const c = await admin<Capture>(`/admin/requests/${id}`);
      const kinds = c.timeline.map((e) => e.kind);
      expect(kinds.slice(-2)).toEqual(['ledger_queued', 'ledger_written']);
      expect(kinds.filter((k) => k === 'ledger_written')).toHaveLength(1);
      expect(c.timeline.at(-1)!.at).toBeGreaterThanOrEqual(c.timeline.at(-2)!.at);
      // The row it points at, by request id.
      const rows = await admin<{ rows: Array<{ requestId: string; status: number }> }>(`/admin/usage/recent?requestId=${id}`);
      expect(rows.rows).toEqual([expect.objectContaining({ requestId: id, status: 200 })]);
    }
  });

  it('a listener that throws does not break the ledger', async () => {
    const off = relay.ledger.onWritten(() => { throw new Error('boom'); });
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': 'lw-3' },
      body: JSON.stringify({ model: 'up/m1', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.text();
    await relay.ledger.flush();
    off();
    expect(relay.ledger.status().state).toBe('ok');
    const c = await admin<Capture>('/admin/requests/lw-3');
    expect(c.timeline.at(-1)?.kind).toBe('ledger_written');
  });
});
