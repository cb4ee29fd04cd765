import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAppProtocolHandler, mimeType, resolveAppPath } from '../../src-main/electron/protocol';

let base: string;
let root: string;

beforeAll(() => {
  base = mkdtempSync(path.join(tmpdir(), 'relay-proto-'));
  root = path.join(base, 'renderer');
  mkdirSync(path.join(root, 'assets'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(path.join(root, 'assets', 'app-1.js'), 'console.log(1)');
  writeFileSync(path.join(root, 'assets', 'app.css'), 'body{}');
  writeFileSync(path.join(base, 'secret.txt'), 'top secret');
  try {
    symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'assets', 'link.txt'));
  } catch {
    /* no symlinks on this system */
  }
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('resolveAppPath', () => {
  it('maps app://relay paths into the root', () => {
    expect(resolveAppPath(root, 'app://relay/assets/app-1.js')).toEqual({ ok: true, file: path.join(root, 'assets', 'app-1.js') });
    expect(resolveAppPath(root, 'app://relay/')).toEqual({ ok: true, file: path.join(root, 'index.html') });
    // Dashboard routes (no extension) get the SPA entry.
    expect(resolveAppPath(root, 'app://relay/keys')).toEqual({ ok: true, file: path.join(root, 'index.html') });
  });
  it.each([
    'app://relay/..%2fsecret.txt',
    'app://relay/..%5csecret.txt',
    'app://relay/assets%2f..%2f..%2fsecret.txt',
    'app://relay/%00index.html',
  ])('blocks traversal: %s', (u) => {
    const r = resolveAppPath(root, u);
    expect(r.ok).toBe(false);
  });
  it.each(['app://relay/../../secret.txt', 'app://relay/%2e%2e/secret.txt', 'app://relay/assets/%2E%2E/%2E%2E/secret.txt'])(
    'dot segments are normalised by URL parsing and stay inside: %s',
    (u) => {
      expect(resolveAppPath(root, u)).toEqual({ ok: true, file: path.join(root, 'secret.txt') });
    },
  );
  it('other hosts and schemes are 404', () => {
    expect(resolveAppPath(root, 'app://other/index.html')).toMatchObject({ ok: false, status: 404 });
    expect(resolveAppPath(root, 'file:///index.html')).toMatchObject({ ok: false, status: 404 });
    expect(resolveAppPath(root, 'app://relay/%zz')).toMatchObject({ ok: false, status: 400 });
  });
  it('MIME types', () => {
    expect(mimeType('a.js')).toBe('text/javascript; charset=utf-8');
    expect(mimeType('a.CSS')).toBe('text/css; charset=utf-8');
    expect(mimeType('a.html')).toMatch(/^text\/html/);
    expect(mimeType('a.svg')).toBe('image/svg+xml');
    expect(mimeType('a.woff2')).toBe('font/woff2');
    expect(mimeType('a.unknown')).toBe('application/octet-stream');
  });
});

describe('protocol handler', () => {
  const handler = () => createAppProtocolHandler({ root, csp: () => "default-src 'self'" });
  it('serves files with MIME type, CSP and nosniff', async () => {
    const res = await handler()(new Request('app://relay/assets/app-1.js'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await res.text()).toBe('console.log(1)');
  });
  it('serves the entry for routes', async () => {
    const res = await handler()(new Request('app://relay/'));
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toContain('<title>x</title>');
  });
  it('404 for missing files, 403 for traversal, 405 for POST', async () => {
    expect((await handler()(new Request('app://relay/nope.js'))).status).toBe(404);
    expect((await handler()(new Request('app://relay/..%2fsecret.txt'))).status).toBe(403);
    expect((await handler()(new Request('app://relay/%2e%2e/secret.txt'))).status).toBe(404);
    expect((await handler()(new Request('app://relay/index.html', { method: 'POST', body: 'x' }))).status).toBe(405);
  });
  it('refuses symlinks that lead outside', async () => {
    const res = await handler()(new Request('app://relay/assets/link.txt'));
    expect([403, 404]).toContain(res.status);
    expect(await res.text()).not.toContain('top secret');
  });
});
