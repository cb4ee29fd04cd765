import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(__dirname, '..', '..');
const require = createRequire(import.meta.url);

function pngInfo(buf: Buffer): { width: number; height: number; colorType: number } {
  expect(buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  expect(buf.subarray(12, 16).toString('ascii')).toBe('IHDR');
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20), colorType: buf[25] };
}

/** Decodes an 8-bit RGBA PNG written by gen-icons (filter 0 rows). */
function rgba(buf: Buffer): { width: number; height: number; px: Buffer } {
  const { width, height } = pngInfo(buf);
  const idat: Buffer[] = [];
  for (let i = 8; i < buf.length; ) {
    const len = buf.readUInt32BE(i);
    if (buf.subarray(i + 4, i + 8).toString('ascii') === 'IDAT') idat.push(buf.subarray(i + 8, i + 8 + len));
    i += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const px = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) raw.copy(px, y * width * 4, y * (width * 4 + 1) + 1, (y + 1) * (width * 4 + 1));
  return { width, height, px };
}

describe('electron-builder.yml', () => {
  const cfg = parse(readFileSync(path.join(root, 'electron-builder.yml'), 'utf8'));

  it('passes electron-builder’s own schema', async () => {
    const { validateConfiguration } = require('app-builder-lib/out/util/config/config');
    const { DebugLogger } = require('builder-util');
    await expect(validateConfiguration(cfg, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('targets, native module handling and the fuse hook', () => {
    expect(cfg.productName).toBe('Lingma Relay');
    expect(cfg.mac.target).toEqual(['dmg', 'zip']);
    expect(cfg.mac.category).toBe('public.app-category.developer-tools');
    expect(cfg.mac.hardenedRuntime).toBe(true);
    expect(cfg.win.target).toEqual(['nsis']);
    expect(cfg.linux.target).toEqual(['AppImage', 'deb']);
    expect(cfg.files).toEqual(expect.arrayContaining(['dist/**', 'package.json']));
    expect(cfg.npmRebuild).toBe(true);
    expect(cfg.asarUnpack.join(' ')).toContain('better-sqlite3');
    expect(cfg.afterPack).toBe('src-main/electron/build/after-pack.cjs');
  });

  it('the hook sets every fuse', () => {
    const hook = require(path.join(root, 'src-main/electron/build/after-pack.cjs'));
    const { FuseV1Options, FuseVersion } = require('@electron/fuses');
    expect(hook.FUSES).toEqual({
      version: FuseVersion.V1,
      [FuseV1Options.RunAsNode]: false,
      [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
      [FuseV1Options.EnableNodeCliInspectArguments]: false,
      [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
      [FuseV1Options.OnlyLoadAppFromAsar]: true,
      [FuseV1Options.EnableCookieEncryption]: true,
      [FuseV1Options.GrantFileProtocolExtraPrivileges]: false,
    });
    const ctx = (p: string) => ({ appOutDir: '/out', electronPlatformName: p, packager: { appInfo: { productFilename: 'Lingma Relay' }, executableName: 'lingma-relay' } });
    expect(hook.electronBinary(ctx('darwin'))).toBe(path.join('/out', 'Lingma Relay.app'));
    expect(hook.electronBinary(ctx('win32'))).toBe(path.join('/out', 'Lingma Relay.exe'));
    expect(hook.electronBinary(ctx('linux'))).toBe(path.join('/out', 'lingma-relay'));
  });

  it('package.json main points at the bundled main process', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.main).toBe('dist/electron/main.cjs');
    expect(pkg.scripts['build:main']).toBe('node test/tools/build-main.mjs');
  });
});

describe('icons', () => {
  const read = (p: string) => readFileSync(path.join(root, 'assets', p));

  it('app icons are RGBA PNGs of the right sizes', () => {
    expect(pngInfo(read('icon.png'))).toEqual({ width: 512, height: 512, colorType: 6 });
    expect(pngInfo(read('icon-256.png'))).toEqual({ width: 256, height: 256, colorType: 6 });
    for (const s of [16, 32, 48, 64, 128, 256, 512]) expect(pngInfo(read(`icons/${s}x${s}.png`)).width).toBe(s);
  });

  it('.ico and .icns embed PNGs', () => {
    const ico = read('icon.ico');
    expect(ico.readUInt16LE(2)).toBe(1);
    const n = ico.readUInt16LE(4);
    expect(n).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < n; i++) {
      const off = ico.readUInt32LE(6 + 16 * i + 12);
      pngInfo(ico.subarray(off));
    }
    const icns = read('icon.icns');
    expect(icns.subarray(0, 4).toString('ascii')).toBe('icns');
    expect(icns.readUInt32BE(4)).toBe(icns.length);
    const types: string[] = [];
    for (let i = 8; i < icns.length; ) {
      types.push(icns.subarray(i, i + 4).toString('ascii'));
      pngInfo(icns.subarray(i + 8));
      i += icns.readUInt32BE(i + 4);
    }
    expect(types).toEqual(expect.arrayContaining(['ic08', 'ic09', 'ic10']));
  });

  it('tray icons exist for every state, 16 and 32 px, templates black-only', () => {
    for (const state of ['ready', 'degraded', 'down', 'login', 'credits', 'paused']) {
      expect(pngInfo(read(`tray/tray-${state}.png`)).width).toBe(16);
      expect(pngInfo(read(`tray/tray-${state}@2x.png`)).width).toBe(32);
      const t = rgba(read(`tray/tray-${state}Template@2x.png`));
      expect(t.width).toBe(32);
      let opaque = 0;
      for (let i = 0; i < t.px.length; i += 4) {
        if (t.px[i + 3] > 0) {
          opaque++;
          expect([t.px[i], t.px[i + 1], t.px[i + 2]]).toEqual([0, 0, 0]);
        }
      }
      expect(opaque).toBeGreaterThan(50);
    }
  });
});
