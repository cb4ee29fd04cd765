import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compareVersions, findLingmaBinary } from '../../src-main/core/backends/lingma/binary';
import { tmpDir } from './helpers';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeBin(path: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
  return path;
}

describe('binary discovery', () => {
  it('orders versions numerically', () => {
    expect(compareVersions('2.10.0', '2.9.9')).toBeGreaterThan(0);
    expect(compareVersions('1.2.0', '1.2.0')).toBe(0);
    expect(compareVersions('1.2', '1.2.1')).toBeLessThan(0);
  });

  it('picks the newest version folder under ~/.lingma/bin, or the one config.json names', () => {
    const home = tmpDir('lingma-home-');
    dirs.push(home);
    const root = join(home, '.lingma', 'bin');
    fakeBin(join(root, '2.9.0', 'x86_64_linux', 'Lingma'));
    const newest = fakeBin(join(root, '2.10.1', 'x86_64_linux', 'Lingma'));
    mkdirSync(join(root, '3.0.0', 'x86_64_linux'), { recursive: true }); // no binary inside: skipped
    const base = { setting: 'auto', env: {}, platform: 'linux' as const, arch: 'x64', home };
    expect(findLingmaBinary(base)).toMatchObject({ found: true, path: newest, source: 'auto', label: 'ide-plugin', version: '2.10.1' });
    writeFileSync(join(root, 'config.json'), JSON.stringify({ version: '2.9.0' }));
    expect(findLingmaBinary(base)).toMatchObject({ found: true, path: join(root, '2.9.0', 'x86_64_linux', 'Lingma') });
    // Platform folders per OS.
    const mac = fakeBin(join(root, '2.10.1', 'aarch64_darwin', 'Lingma'));
    expect(findLingmaBinary({ ...base, platform: 'darwin', arch: 'arm64' })).toMatchObject({ found: true, path: mac });
  });

  it('finds the macOS desktop app under ~/Applications and the Windows install under LOCALAPPDATA', () => {
    const home = tmpDir('lingma-home-');
    dirs.push(home);
    const mac = fakeBin(join(home, 'Applications', 'Lingma.app', 'Contents', 'Resources', 'app', 'resources', 'bin', 'x86_64_darwin', 'Lingma'));
    expect(findLingmaBinary({ setting: 'auto', env: {}, platform: 'darwin', arch: 'x64', home })).toMatchObject({ found: true, path: mac });
    const local = join(home, 'AppData', 'Local');
    const win = fakeBin(join(local, 'Programs', 'Lingma', 'resources', 'app', 'resources', 'bin', 'x86_64_windows', 'Lingma.exe'));
    expect(findLingmaBinary({ setting: 'auto', env: { LOCALAPPDATA: local }, platform: 'win32', arch: 'x64', home })).toMatchObject({ found: true, path: win });
  });

  it('LINGMA_BIN and a configured path override the search', () => {
    const home = tmpDir('lingma-home-');
    dirs.push(home);
    const custom = fakeBin(join(home, 'custom', 'Lingma'));
    fakeBin(join(home, '.lingma', 'bin', '1.0.0', 'x86_64_linux', 'Lingma'));
    expect(findLingmaBinary({ setting: 'auto', env: { LINGMA_BIN: custom }, platform: 'linux', arch: 'x64', home })).toMatchObject({ found: true, path: custom, source: 'env' });
    expect(findLingmaBinary({ setting: custom, env: {}, platform: 'linux', arch: 'x64', home })).toMatchObject({ found: true, path: custom, source: 'config' });
    const bad = findLingmaBinary({ setting: 'auto', env: { LINGMA_BIN: join(home, 'missing') }, platform: 'linux', arch: 'x64', home });
    expect(bad).toMatchObject({ found: false });
    expect(!bad.found && bad.reason).toMatch(/LINGMA_BIN points to .*missing/);
  });

  it('not found: the reason says where it looked and how to set the path', () => {
    const home = tmpDir('lingma-home-');
    dirs.push(home);
    const r = findLingmaBinary({ setting: 'auto', env: {}, platform: 'linux', arch: 'x64', home });
    expect(r.found).toBe(false);
    if (!r.found) {
      expect(r.reason).toContain(join(home, '.lingma', 'bin', '<version>', 'x86_64_linux', 'Lingma'));
      expect(r.reason).toMatch(/set lingma\.binary \(or LINGMA_BIN\)/);
    }
  });
});
