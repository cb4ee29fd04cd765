/**
 * "Connect a client" over the admin API: list with status, plan (diff, nothing written), apply
 * (backup in the data folder), restore; admin token required; unknown ids are 404s.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import type { ClientPlanView, ClientRestoreView, ClientsView } from '../../src-main/core/admin/api-types';
import { adminHarness, type AdminHarness } from '../helpers/admin';
import { ADMIN_TOKEN } from './fakes';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
let app: FastifyInstance | undefined;
let harness: AdminHarness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  app = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function setup() {
  const home = mkdtempSync(join(tmpdir(), 'relay-home-'));
  dirs.push(home);
  harness = adminHarness({ url: 'http://127.0.0.1:8555' });
  const dataDir = harness.dataDir;
  app = await harness.build({ clientsHome: home });
  const relay = harness.deps;
  return { app, home, dataDir, relay };
}

describe('admin: connect a client', () => {
  it('needs the admin token on every client route', async () => {
    const { app } = await setup();
    for (const [method, url] of [['GET', '/admin/clients'], ['POST', '/admin/clients/claude/plan'], ['POST', '/admin/clients/claude/apply'], ['POST', '/admin/clients/claude/restore']] as const) {
      expect((await app.inject({ method, url })).statusCode, url).toBe(401);
    }
  });

  it('lists, plans, applies and restores Claude Code on the given home', async () => {
    const { app, home, dataDir, relay } = await setup();
    const file = join(home, '.claude', 'settings.json');
    mkdirSync(join(home, '.claude'));
    const before = '{\n  // mine\n  "theme": "dark"\n}\n';
    writeFileSync(file, before);
    const key = relay.keys!.primaryKey!()!;

    const list = (await app.inject({ url: '/admin/clients', headers: auth })).json() as ClientsView;
    expect(list.model).toBe('coder');
    expect(list.clients.map((c) => c.id)).toEqual(['claude', 'codex', 'qwen', 'continue']);
    expect(list.clients[0]).toMatchObject({ path: file, exists: true, configured: false, hasBackup: false });

    const plan = (await app.inject({ method: 'POST', url: '/admin/clients/claude/plan', headers: auth, payload: {} })).json() as ClientPlanView;
    expect(plan.changed).toBe(true);
    expect(plan.diff).toContain('+    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8555"');
    expect(plan.diff).not.toContain(key);
    expect(readFileSync(file, 'utf8')).toBe(before);

    const applied = await app.inject({ method: 'POST', url: '/admin/clients/claude/apply', headers: auth, payload: { model: 'fast' } });
    expect(applied.statusCode).toBe(200);
    expect((applied.json() as ClientPlanView).written).toBe(true);
    const env = (parseJsonc(readFileSync(file, 'utf8')) as any).env;
    expect(env).toMatchObject({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:8555', ANTHROPIC_AUTH_TOKEN: key, ANTHROPIC_MODEL: 'fast' });
    expect(readFileSync(join(dataDir, 'client-backups', 'claude.orig'), 'utf8')).toBe(before);
    const after = (await app.inject({ url: '/admin/clients', headers: auth })).json() as ClientsView;
    expect(after.clients[0]).toMatchObject({ hasBackup: true });

    const restored = (await app.inject({ method: 'POST', url: '/admin/clients/claude/restore', headers: auth })).json() as ClientRestoreView;
    expect(restored.action).toBe('restored');
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect((await app.inject({ method: 'POST', url: '/admin/clients/claude/restore', headers: auth })).statusCode).toBe(404);
  });

  it('refuses unknown clients and bad model names with a clear error, writing nothing', async () => {
    const { app, home } = await setup();
    const unknown = await app.inject({ method: 'POST', url: '/admin/clients/..%2F..%2Fetc/apply', headers: auth, payload: {} });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.message).toContain('Known clients: claude, codex, qwen, continue');
    const bad = await app.inject({ method: 'POST', url: '/admin/clients/codex/apply', headers: auth, payload: { model: 'a"b\n[x]' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.param).toBe('model');
    expect(existsSync(join(home, '.codex'))).toBe(false);
  });
});
