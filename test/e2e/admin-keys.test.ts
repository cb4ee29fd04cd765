import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyIdOf, KeyStore } from '../../src-main/core/config/keys';
import { ADMIN_TOKEN } from './fakes';
import { adminHarness, FIRST_KEY, type AdminHarness } from '../helpers/admin';
import { rec } from '../ledger/helpers';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const harnesses: AdminHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

/** A harness whose only key is the generated one (`<dataDir>/api-key`), as on a headless first start. */
async function generatedOnly(ledgerEnabled = false) {
  const relay = adminHarness({ ledgerEnabled });
  harnesses.push(relay);
  const keys = KeyStore.open({ config: { ...relay.config, server: { ...relay.config.server, apiKeys: [] } }, dataDir: relay.dataDir });
  relay.deps.keys = keys;
  const app = await relay.build();
  return { relay, app, keys, generated: keys.generated! };
}

describe('the dashboard key cannot be revoked with the one-click confirm', () => {
  it('DELETE of the key the dashboard and tray use is a 409 naming the way out; nothing is revoked', async () => {
    const { app, generated } = await generatedOnly();
    const id = keyIdOf(generated);
    const state = (await app.inject({ url: '/admin/state', headers: auth })).json();
    expect(state.keys).toEqual([expect.objectContaining({ id, dashboard: true, revocable: true })]);
    const res = await app.inject({ method: 'DELETE', url: `/admin/keys/${id}`, headers: auth });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'key_in_use', param: 'id', message: expect.stringMatching(/replace/) });
    expect((await app.inject({ url: '/admin/keys', headers: auth })).json().map((k: { id: string }) => k.id)).toEqual([id]);
  });

  it('replace with a new key: the old one stops working, the new one is the dashboard key (and saved)', async () => {
    const { app, keys, generated, relay } = await generatedOnly();
    const id = keyIdOf(generated);
    const none = await app.inject({ method: 'POST', url: `/admin/keys/${id}/replace`, headers: auth, payload: {} });
    expect(none.statusCode).toBe(400);
    expect(none.json().error.param).toBe('id');
    const res = await app.inject({ method: 'POST', url: `/admin/keys/${id}/replace`, headers: auth, payload: { create: true } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body.revoked).toBe(id);
    expect(body.key).toMatch(/^sk-relay-/);
    expect(keys.verify(generated)).toBeUndefined();
    expect(keys.verify(body.key)?.keyId).toBe(body.id);
    expect(keys.primaryId()).toBe(body.id);
    expect(readFileSync(join(relay.dataDir, 'api-key'), 'utf8').trim()).toBe(body.key);
  });

  it('replace with a picked created key: proven by its whole value, kept across a restart', async () => {
    const { app, keys, generated, relay } = await generatedOnly();
    const created = (await app.inject({ method: 'POST', url: '/admin/keys', headers: auth, payload: { name: 'laptop', rpm: 30 } })).json();
    const id = keyIdOf(generated);
    const wrong = await app.inject({ method: 'POST', url: `/admin/keys/${id}/replace`, headers: auth, payload: { id: created.id, key: 'sk-relay-not-the-right-key-000' } });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error.param).toBe('key');
    expect(keys.primaryId()).toBe(id);
    const ok = await app.inject({ method: 'POST', url: `/admin/keys/${id}/replace`, headers: auth, payload: { id: created.id, key: created.key } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().key).toBeUndefined();
    expect(keys.primaryKey()).toBe(created.key);
    const again = KeyStore.open({ config: { ...relay.config, server: { ...relay.config.server, apiKeys: [] } }, dataDir: relay.dataDir });
    expect(again.primaryId()).toBe(created.id);
    expect(again.list()).toEqual([expect.objectContaining({ id: created.id, source: 'created', limits: { rpm: 30 } })]);
    // Any other key keeps the one-click revoke.
    const other = (await app.inject({ method: 'POST', url: '/admin/keys', headers: auth, payload: { name: 'ci' } })).json();
    expect((await app.inject({ method: 'DELETE', url: `/admin/keys/${other.id}`, headers: auth })).statusCode).toBe(200);
  });

  it('a config key stays not revocable (400), not a 409', async () => {
    const relay = adminHarness();
    harnesses.push(relay);
    const app = await relay.build();
    const res = await app.inject({ method: 'DELETE', url: `/admin/keys/${keyIdOf(FIRST_KEY)}`, headers: auth });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('key_not_revocable');
  });
});

describe('key limits and usage', () => {
  it('PATCH sets and clears limits of a created key, applied at once; bad fields are 400s naming them', async () => {
    const { app, keys } = await generatedOnly();
    const created = (await app.inject({ method: 'POST', url: '/admin/keys', headers: auth, payload: { name: 'laptop', rpm: 30, concurrency: 2 } })).json();
    const res = await app.inject({ method: 'PATCH', url: `/admin/keys/${created.id}`, headers: auth, payload: { tokensPerDay: 5000, expiresAt: '2099-01-31', clear: ['rpm'] } });
    expect(res.statusCode).toBe(200);
    expect(res.json().keys.find((k: { id: string }) => k.id === created.id).limits).toEqual({ tokensPerDay: 5000, expiresAt: '2099-01-31', concurrency: 2 });
    expect(keys.verify(created.key)?.limits).toEqual({ tokensPerDay: 5000, expiresAt: '2099-01-31', concurrency: 2 });
    const bad = await app.inject({ method: 'PATCH', url: `/admin/keys/${created.id}`, headers: auth, payload: { rpm: 0 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.param).toBe('rpm');
    const badClear = await app.inject({ method: 'PATCH', url: `/admin/keys/${created.id}`, headers: auth, payload: { clear: ['color'] } });
    expect(badClear.json().error.param).toBe('clear');
    const expired = await app.inject({ method: 'PATCH', url: `/admin/keys/${created.id}`, headers: auth, payload: { expiresAt: '2001-01-01' } });
    expect(expired.statusCode).toBe(200);
    expect(() => keys.verify(created.key)).toThrow(/expired/);
    expect((await app.inject({ method: 'PATCH', url: '/admin/keys/nope', headers: auth, payload: { rpm: 5 } })).statusCode).toBe(404);
  });

  it("the first start's key (the dashboard's) takes limits too: applied at once, kept across a restart, still the dashboard key", async () => {
    const { app, keys, generated, relay } = await generatedOnly();
    const id = keyIdOf(generated);
    const res = await app.inject({ method: 'PATCH', url: `/admin/keys/${id}`, headers: auth, payload: { rpm: 5, concurrency: 3 } });
    expect(res.statusCode).toBe(200);
    expect(res.json().keys.find((k: { id: string }) => k.id === id)).toMatchObject({ limits: { rpm: 5, concurrency: 3 }, dashboard: true, editable: true });
    expect(keys.verify(generated)?.limits).toEqual({ rpm: 5, concurrency: 3 });
    expect(keys.primaryKey()).toBe(generated);
    // Only its hash is stored with the limits; the whole key stays in api-key.
    expect(readFileSync(join(relay.dataDir, 'keys.json'), 'utf8')).not.toContain(generated);
    const again = KeyStore.open({ config: { ...relay.config, server: { ...relay.config.server, apiKeys: [] } }, dataDir: relay.dataDir });
    expect(again.primaryKey()).toBe(generated);
    expect(again.verify(generated)?.limits).toEqual({ rpm: 5, concurrency: 3 });
    expect(again.list()).toEqual([expect.objectContaining({ id, limits: { rpm: 5, concurrency: 3 } })]);
    // A config key is still refused, saying where its limits live.
    const cfgKeys = KeyStore.open({ config: { ...relay.config, server: { ...relay.config.server, apiKeys: ['sk-config-key-000001'] } }, dataDir: relay.dataDir });
    expect(() => cfgKeys.setLimits(keyIdOf('sk-config-key-000001'), { rpm: 1 })).toThrow(/config file/);
  });

  it('the list shows last use, requests and tokens today from the ledger', async () => {
    const { app, relay, generated } = await generatedOnly(true);
    const id = keyIdOf(generated);
    const now = Date.now();
    const ledger = relay.deps.ledger as unknown as { record(r: unknown): void; flush(): Promise<void> };
    ledger.record(rec({ requestId: 'a', apiKeyId: id, receivedAt: now - 2000, finishedAt: now - 1900, promptTokens: 10, completionTokens: 5 }));
    ledger.record(rec({ requestId: 'b', apiKeyId: id, receivedAt: now - 1000, finishedAt: now - 900, promptTokens: 20, completionTokens: 1 }));
    ledger.record(rec({ requestId: 'c', apiKeyId: 'someoneelse', receivedAt: now - 500, finishedAt: now - 400, promptTokens: 99 }));
    await ledger.flush();
    const keys = (await app.inject({ url: '/admin/keys', headers: auth })).json();
    expect(keys[0]).toMatchObject({ id, requestsToday: 2, tokensToday: 36, lastUsed: now - 1000 });
  });
});
