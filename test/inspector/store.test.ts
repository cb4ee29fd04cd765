/** The inspector's store on its own: bounds (entries, bytes), truncation, off switch, persistence with retention and size cap. */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestOutcome } from '../../src-main/core/dispatch/outcome';
import { createInspector, type InspectorConfig } from '../../src-main/core/inspector/index';
import { TRUNCATED } from '../../src-main/core/inspector/capture';
import { KeyStore } from '../../src-main/core/config/keys';
import { validateConfig } from '../../src-main/core/config/validate';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterEach(() => cleanupTempDirs());

const cfg = (over: Partial<InspectorConfig> = {}): InspectorConfig => ({
  enabled: true, maxEntries: 200, maxBytes: 32 * 1024 * 1024, maxBodyBytes: 256 * 1024, persist: false, retentionDays: 3, maxDbBytes: 256 * 1024 * 1024, ...over,
});

let n = 0;
function outcome(text: string, over: Partial<RequestOutcome> = {}): RequestOutcome {
  n++;
  return {
    id: `id-${n}`, requestId: `req-${n}`, protocol: 'openai-chat', endpoint: '/v1/chat/completions', apiKeyId: 'k1', requestedModel: 'm',
    stream: false, receivedAt: 1000 * n, finishedAt: 1000 * n + 5, status: 200, switches: [], sessionReuse: false,
    trace: { clientBody: { model: 'm', messages: [{ role: 'user', content: text }] }, timeline: [{ at: 0, kind: 'admitted', waitMs: 0 }] },
    ...over,
  };
}

describe('inspector store', () => {
  it('keeps the most recent maxEntries, and no more than maxBytes', () => {
    const ins = createInspector({ config: () => cfg({ maxEntries: 3 }), dataDir: tempDir(), secrets: () => [] });
    for (let i = 0; i < 5; i++) ins.observer.finished!(outcome(`q${i}`));
    const ids = ins.list({ limit: 50 }).map((s) => s.requestId);
    expect(ids).toEqual([`req-${n}`, `req-${n - 1}`, `req-${n - 2}`]);
    const small = createInspector({ config: () => cfg({ maxBytes: 65_536 }), dataDir: tempDir(), secrets: () => [] });
    for (let i = 0; i < 20; i++) small.observer.finished!(outcome('x'.repeat(10_000)));
    const kept = small.list({ limit: 500 });
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(20);
    expect(kept[0].requestId).toBe(`req-${n}`);
  });

  it('cuts a body over maxBodyBytes with a marker and says so', () => {
    const ins = createInspector({ config: () => cfg({ maxBodyBytes: 1024 }), dataDir: tempDir(), secrets: () => [] });
    ins.observer.finished!(outcome('y'.repeat(5000)));
    const c = ins.get(`req-${n}`)!;
    expect(c.truncated).toBe(true);
    expect(JSON.stringify(c.request)).toContain(TRUNCATED);
    expect(JSON.stringify(c.request).length).toBeLessThan(3000);
  });

  it('keeps nothing when disabled (and tells the dispatcher not to trace)', () => {
    const ins = createInspector({ config: () => cfg({ enabled: false }), dataDir: tempDir(), secrets: () => [] });
    expect(ins.capturing()).toBe(false);
    ins.observer.finished!(outcome('nothing'));
    expect(ins.list({ limit: 50 })).toEqual([]);
  });

  it('persists to a 0600 inspector.db with retention and a size cap', () => {
    const dir = tempDir();
    let now = 10_000_000;
    const ins = createInspector({ config: () => cfg({ persist: true, retentionDays: 1 }), dataDir: dir, secrets: () => ['PLANTED-known-secret'], now: () => now });
    ins.observer.finished!(outcome('old one', { receivedAt: now - 2 * 86_400_000 }));
    ins.observer.finished!(outcome('new one PLANTED-known-secret', { receivedAt: now }));
    expect(ins.get(`req-${n}`)?.request).toMatchObject({ messages: [{ content: 'new one [redacted]' }] });
    ins.close();
    if (process.platform !== 'win32') expect(statSync(join(dir, 'inspector.db')).mode & 0o077).toBe(0);
    expect(readFileSync(join(dir, 'inspector.db')).toString('latin1')).not.toContain('PLANTED-known-secret');
    // A new process: the old capture is past retention, the new one is read back from the file.
    now += 1000;
    const again = createInspector({ config: () => cfg({ persist: true, retentionDays: 1 }), dataDir: dir, secrets: () => [], now: () => now });
    const ids = again.list({ limit: 50 }).map((s) => s.requestId);
    expect(ids).toEqual([`req-${n}`]);
    expect(again.get(`req-${n}`)?.request).toMatchObject({ messages: [{ content: 'new one [redacted]' }] });
    again.close();
  });

  it('rejects bad inspector settings naming the key', () => {
    expect(() => validateConfig({ inspector: { maxEntries: 0 } })).toThrow(/inspector\.maxEntries|maxEntries/);
    expect(() => validateConfig({ inspector: { persit: true } })).toThrow(/persit/);
    expect(validateConfig({}).inspector).toMatchObject({ enabled: true, maxEntries: 200, maxBytes: 32 * 1024 * 1024, persist: false, retentionDays: 3 });
  });
});

describe('replay tickets (SECURITY)', () => {
  it('act as the original key once, then never again; unknown keys get none', () => {
    const dir = tempDir();
    const config = validateConfig({ server: { apiKeys: ['sk-relay-ticketkey0000000000000'] } });
    const keys = KeyStore.open({ config, dataDir: dir });
    const id = keys.list()[0].id;
    const ticket = keys.replayTicket(id);
    expect(keys.verify(ticket)?.keyId).toBe(id);
    expect(keys.verify(ticket)).toBeUndefined();
    expect(keys.verify('relay-replay-made-up-value')).toBeUndefined();
    expect(() => keys.replayTicket('000000000000')).toThrow(/no longer exists/);
  });

  it('expire', () => {
    let t = 0;
    const config = validateConfig({ server: { apiKeys: ['sk-relay-ticketkey0000000000000'] } });
    const keys = KeyStore.open({ config, dataDir: tempDir(), clock: { now: () => t, setTimeout, clearTimeout } as never });
    const ticket = keys.replayTicket(keys.list()[0].id, 1000);
    t = 1000;
    expect(keys.verify(ticket)).toBeUndefined();
  });
});
