/** Finding a running Lingma / Qoder CN app (spec §7) in a fake home: every file form, overrides, refusals. */
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { discoverAttach, loopbackWsUrl, parseInfo, type AttachFs } from '../../src-main/core/backends/lingma/attach/discover';
import { fakeHome } from '../sim/attach';

const homes: string[] = [];
function home(): string {
  const h = fakeHome();
  homes.push(h);
  return h;
}
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

function put(file: string, text: string, mtimeSec?: number): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  if (mtimeSec) utimesSync(file, mtimeSec, mtimeSec);
}

const alive = (pids: number[]) => (pid: number) => pids.includes(pid);
const linux = (h: string, env: NodeJS.ProcessEnv = {}, live = [111, 222]) => ({ home: h, platform: 'linux' as const, env, isAlive: alive(live) });

describe('attach discovery', () => {
  it('reads SharedClientCache/.info.json under ~/.lingma', () => {
    const h = home();
    put(join(h, '.lingma', 'SharedClientCache', '.info.json'), JSON.stringify({ websocketPort: 37010, pid: 111, ipcServerPath: '/tmp/x.sock' }));
    const { target } = discoverAttach(linux(h));
    expect(target).toMatchObject({ app: 'lingma', appName: 'Lingma', wsUrl: 'ws://127.0.0.1:37010/', ipcPath: '/tmp/x.sock', pid: 111 });
  });

  it('reads the legacy three-line .info (port, pid, IPC path) and names a Qoder CN app after its folder', () => {
    const h = home();
    put(join(h, '.qodercn', 'vscode', 'sharedClientCache', '.info'), '37011\n222\n/tmp/q.sock\n');
    const { target } = discoverAttach(linux(h));
    expect(target).toMatchObject({ app: 'qodercn', appName: 'Qoder CN', wsUrl: 'ws://127.0.0.1:37011/', ipcPath: '/tmp/q.sock', pid: 222 });
  });

  it('looks in the config folder: ~/.config/<app> on Linux, ~/Library/Application Support/<app> on macOS', () => {
    const h = home();
    put(join(h, '.config', 'Qoder', 'SharedClientCache', '.info.json'), JSON.stringify({ websocketPort: 37012, pid: 111 }));
    expect(discoverAttach(linux(h)).target).toMatchObject({ app: 'qodercn', wsUrl: 'ws://127.0.0.1:37012/' });
    const m = home();
    put(join(m, 'Library', 'Application Support', 'Lingma', 'SharedClientCache', '.info.json'), JSON.stringify({ websocketPort: 37013, pid: 111 }));
    expect(discoverAttach({ home: m, platform: 'darwin', env: {}, isAlive: alive([111]) }).target).toMatchObject({ app: 'lingma', wsUrl: 'ws://127.0.0.1:37013/' });
  });

  it('ignores a file whose pid is not running, and prefers the newest live file', () => {
    const h = home();
    put(join(h, '.lingma', 'SharedClientCache', '.info.json'), JSON.stringify({ websocketPort: 37020, pid: 999 }), 3000);
    const stale = discoverAttach(linux(h));
    expect(stale.target).toBeUndefined();
    expect(stale.skipped.join(' ')).toMatch(/stale: process 999 is not running/);

    put(join(h, '.lingma', 'vscode', 'SharedClientCache', '.info.json'), JSON.stringify({ websocketPort: 37021, pid: 111 }), 1000);
    put(join(h, '.qodercn', 'SharedClientCache', '.info.json'), JSON.stringify({ websocketPort: 37022, pid: 222 }), 2000);
    expect(discoverAttach(linux(h)).target).toMatchObject({ wsUrl: 'ws://127.0.0.1:37022/', app: 'qodercn' });
  });

  it('refuses a WebSocket URL that is not loopback, in a file or in LINGMA_PROXY_WS_URL', () => {
    const h = home();
    put(join(h, '.lingma', 'SharedClientCache', '.info.json'), JSON.stringify({ websocketUrl: 'ws://attacker.example:80/', pid: 111 }));
    const r = discoverAttach(linux(h));
    expect(r.target).toBeUndefined();
    expect(r.skipped.join(' ')).toMatch(/attacker\.example is not a loopback address/);

    const e = discoverAttach(linux(home(), { LINGMA_PROXY_WS_URL: 'ws://10.0.0.5:1234/' }));
    expect(e.target).toBeUndefined();
    expect(e.skipped[0]).toMatch(/LINGMA_PROXY_WS_URL: 10\.0\.0\.5 is not a loopback address/);
    for (const bad of ['http://127.0.0.1:1/', 'ws://user:pw@127.0.0.1:1/', 'ws://127.0.0.1.evil.com/', 'ws://localhost.evil.com/']) expect(() => loopbackWsUrl(bad)).toThrow();
    for (const ok of ['ws://127.0.0.1:1/', 'ws://localhost:2/', 'ws://[::1]:3/', 'ws://127.1.2.3:4/']) expect(loopbackWsUrl(ok)).toBe(ok);
  });

  it('refuses a port that is no port', () => {
    expect(() => parseInfo(JSON.stringify({ websocketPort: '80@evil', pid: 1 }))).toThrow(/is not a port/);
    expect(() => parseInfo('evil.example:80\n1\n')).toThrow(/is not a port/);
    expect(() => parseInfo(JSON.stringify({ websocketPort: 70000 }))).toThrow(/is not a port/);
  });

  it('environment overrides win: LINGMA_PROXY_WS_URL, LINGMA_IPC_SOCKET, LINGMA_SHARED_CLIENT_INFO', () => {
    const h = home();
    put(join(h, '.lingma', 'SharedClientCache', '.info.json'), JSON.stringify({ websocketPort: 37030, pid: 111 }));
    expect(discoverAttach(linux(h, { LINGMA_PROXY_WS_URL: 'ws://127.0.0.1:4444/' })).target).toMatchObject({ wsUrl: 'ws://127.0.0.1:4444/', source: 'LINGMA_PROXY_WS_URL' });
    expect(discoverAttach(linux(h, { LINGMA_IPC_SOCKET: '/run/qodercn.sock' })).target).toMatchObject({ ipcPath: '/run/qodercn.sock', app: 'qodercn', source: 'LINGMA_IPC_SOCKET' });
    const elsewhere = join(home(), 'custom', '.info.json');
    put(elsewhere, JSON.stringify({ websocketPort: 37031, pid: 222 }));
    expect(discoverAttach(linux(h, { LINGMA_SHARED_CLIENT_INFO: elsewhere })).target).toMatchObject({ wsUrl: 'ws://127.0.0.1:37031/', source: elsewhere });
  });

  it('without a file: the newest Unix socket under the cache folders or ~/.lingma/lingma.sock', () => {
    const h = home();
    put(join(h, '.lingma', 'lingma.sock'), '', 1000);
    expect(discoverAttach(linux(h)).target).toMatchObject({ ipcPath: join(h, '.lingma', 'lingma.sock'), app: 'lingma' });
    const m = home();
    put(join(m, 'Library', 'Application Support', 'QoderCN', 'SharedClientCache', 'a.sock'), '', 1000);
    put(join(m, 'Library', 'Application Support', 'Lingma', 'SharedClientCache', 'b.sock'), '', 2000);
    expect(discoverAttach({ home: m, platform: 'darwin', env: {}, isAlive: () => true }).target).toMatchObject({ ipcPath: join(m, 'Library', 'Application Support', 'Lingma', 'SharedClientCache', 'b.sock'), app: 'lingma' });
  });

  it('on Windows: %APPDATA% / %LOCALAPPDATA% files, local pipes only, the last pipe in sort order', () => {
    const files = new Map<string, string>();
    const fs: AttachFs = { readFile: (p) => files.get(p), mtimeMs: (p) => (files.has(p) ? 1 : undefined), readdir: () => [] };
    const env = { APPDATA: 'C:\\Users\\a\\AppData\\Roaming', LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' };
    const win = { home: 'C:\\Users\\a', platform: 'win32' as const, env, fs, isAlive: () => true, listPipes: () => ['other', 'lingma-1', 'qodercn-2', 'lingma-0'] };
    expect(discoverAttach(win).target).toMatchObject({ ipcPath: '\\\\.\\pipe\\qodercn-2', app: 'qodercn' });
    files.set('C:\\Users\\a\\AppData\\Local\\QoderCN\\SharedClientCache\\.info.json', JSON.stringify({ websocketPort: 37040, pid: 5, ipcServerPath: '\\\\.\\pipe\\qodercn-ipc' }));
    expect(discoverAttach(win).target).toMatchObject({ wsUrl: 'ws://127.0.0.1:37040/', ipcPath: '\\\\.\\pipe\\qodercn-ipc', app: 'qodercn' });
    // SECURITY: a UNC pipe on another machine is never dialled.
    files.set('C:\\Users\\a\\AppData\\Local\\QoderCN\\SharedClientCache\\.info.json', JSON.stringify({ pid: 5, ipcServerPath: '\\\\evil-host\\pipe\\lingma' }));
    const r = discoverAttach({ ...win, listPipes: () => [] });
    expect(r.target).toBeUndefined();
    expect(r.skipped.join(' ')).toMatch(/not a local named pipe/);
  });

  it('finds nothing in an empty home', () => {
    expect(discoverAttach(linux(home())).target).toBeUndefined();
  });
});
