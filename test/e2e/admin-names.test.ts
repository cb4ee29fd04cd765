/**
 * SECURITY: names from the admin API never become paths outside their folder. Every refused name
 * is a 400 naming the rule, on POST and PATCH /admin/accounts and POST /admin/keys, against the
 * real Lingma account store; nothing in the data folder changes.
 */
import type { FastifyInstance } from 'fastify';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NAME_RULE } from '../../src-main/core/names';
import { makeProvider, type Harness } from '../lingma/helpers';
import { ADMIN_TOKEN } from './fakes';
import { adminHarness, type AdminHarness } from '../helpers/admin';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const REFUSED = ['..', '.', '.x', 'a/b', 'a\\b', '%2e%2e', 'x'.repeat(65)];

let app: FastifyInstance | undefined;
let h: Harness | undefined;
let admin: AdminHarness | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
  await h?.close();
  app = undefined;
  h = undefined;
});

function tree(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const rel = `${prefix}${d.name}`;
    return d.isDirectory() ? [`${rel}/`, ...tree(join(dir, d.name), `${rel}/`)] : [rel];
  });
}

describe('admin API: names', () => {
  it('POST/PATCH /admin/accounts and POST /admin/keys refuse unsafe names with 400 naming the rule', async () => {
    h = makeProvider();
    const lingma = h.provider;
    admin = adminHarness({ providers: () => [lingma], accounts: lingma.accounts });
    app = await admin.build();
    // Something worth protecting in the data folder, and a runtime account to edit.
    writeFileSync(join(h.dataDir, 'api-key'), 'sk-relay-keep-me');
    mkdirSync(join(h.dataDir, 'lingma', 'keep'), { recursive: true });
    const ok = await app.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: 'carol', password: 'pw-carol-1', name: 'carol' } });
    expect(ok.statusCode).toBe(201);
    const before = tree(h.dataDir);

    for (const name of REFUSED) {
      const add = await app.inject({ method: 'POST', url: '/admin/accounts', headers: auth, payload: { username: `u-${REFUSED.indexOf(name)}`, password: 'pw-1234567', name } });
      expect(add.statusCode, name).toBe(400);
      expect(add.json().error.message, name).toContain(NAME_RULE);
      expect(add.json().error.param).toBe('name');
      const edit = await app.inject({ method: 'PATCH', url: '/admin/accounts/carol', headers: auth, payload: { name } });
      expect(edit.statusCode, name).toBe(400);
      expect(edit.json().error.message).toContain(NAME_RULE);
      const key = await app.inject({ method: 'POST', url: '/admin/keys', headers: auth, payload: { name } });
      expect(key.statusCode, name).toBe(400);
      expect(key.json().error.message).toContain(NAME_RULE);
    }
    // Through the URL: `..` and its spellings name no account (404), and delete nothing.
    for (const url of ['/admin/accounts/..', '/admin/accounts/%2e%2e', '/admin/accounts/.']) {
      const del = await app.inject({ method: 'DELETE', url, headers: auth });
      expect(del.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(del.statusCode, url).toBeLessThan(500);
    }
    expect(tree(h.dataDir)).toEqual(before);
    expect((await h.provider.accounts.list()).map((a) => a.name)).toEqual(['carol']);
  });

  it('alias names keep their patterns but refuse path tricks (400)', async () => {
    admin = adminHarness();
    app = await admin.build();
    for (const name of ['..', '.hidden', '/etc', 'a\\b']) {
      const r = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: { [name]: 'lingma/qwen3-coder' } } });
      expect(r.statusCode, name).toBe(400);
      expect(r.json().error.message).toMatch(/names must be/);
    }
  });
});
