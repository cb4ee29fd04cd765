/**
 * The dashboard's favicon: linked from the renderer's index.html (so /ui/ and the desktop window
 * show it) and answered at the gateway's /favicon.ico (browsers ask the origin's root whatever the
 * page links), with the dashboard's strict headers. Without a built dashboard: a quiet 404.
 */
import type { FastifyInstance } from 'fastify';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { adminHarness, type AdminHarness } from '../helpers/admin';

const ROOT = join(__dirname, '..', '..');
const ICON = join(ROOT, 'src-renderer', 'public', 'favicon.ico');
const apps: AdminHarness[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function gateway(rendererDir: string): Promise<FastifyInstance> {
  const h = adminHarness({ rendererDir });
  apps.push(h);
  return h.build();
}

/** A built dashboard folder as Vite writes it (public/ copied to the root). */
function builtDashboard(withIcon: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'relay-favicon-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'index.html'), readFileSync(join(ROOT, 'src-renderer', 'index.html'), 'utf8').replace('/favicon.ico', './favicon.ico'));
  if (withIcon) copyFileSync(ICON, join(dir, 'favicon.ico'));
  return dir;
}

describe('favicon', () => {
  it('is a real icon (16, 32 and 48 px) that the renderer links', () => {
    const ico = readFileSync(ICON);
    // ICONDIR: reserved 0, type 1 (icon), three images.
    expect([ico.readUInt16LE(0), ico.readUInt16LE(2), ico.readUInt16LE(4)]).toEqual([0, 1, 3]);
    const sizes = [0, 1, 2].map((i) => ico[6 + i * 16]);
    expect(sizes).toEqual([16, 32, 48]);
    // Vite rewrites the public path relative to the page (base './'): /ui/favicon.ico, app://…/favicon.ico.
    expect(readFileSync(join(ROOT, 'src-renderer', 'index.html'), 'utf8')).toMatch(/<link rel="icon" href="\/favicon\.ico"/);
  });

  it('answers /favicon.ico and /ui/favicon.ico with the icon and the dashboard CSP', async () => {
    const app = await gateway(builtDashboard(true));
    const icon = readFileSync(ICON);
    for (const url of ['/favicon.ico', '/ui/favicon.ico']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(200);
      expect(r.rawPayload.equals(icon), url).toBe(true);
      expect(r.headers['content-security-policy'], url).toContain("default-src 'self'");
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
    }
    expect((await app.inject({ url: '/favicon.ico' })).headers['content-type']).toBe('image/x-icon');
  });

  it('is a quiet 404 in the relay error shape when the dashboard is not built', async () => {
    for (const dir of ['/nonexistent', builtDashboard(false)]) {
      const app = await gateway(dir);
      const r = await app.inject({ url: '/favicon.ico' });
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ error: { code: 'unknown_route' } });
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    }
  });
});
