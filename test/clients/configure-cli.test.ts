/**
 * `npm run serve -- configure <client>`: the headless "Connect a client" on a fake home.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { runConfigure } from '../../src-main/cli/configure';

const root = resolve(__dirname, '..', '..');
const KEY = 'sk-relay-CLITEST0123456789';
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function tmp(prefix: string) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function io(answer?: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out, err,
    io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), ask: answer === undefined ? undefined : async () => answer, env: { RELAY_API_KEYS: KEY } },
  };
}

describe('configure <client>', () => {
  it('--yes writes the settings with the config\'s address and key, and --restore puts the file back', async () => {
    const home = tmp('relay-home-');
    const data = tmp('relay-data-');
    const before = '# mine\n[tui]\nnotifications = true\n';
    mkdirSync(join(home, '.codex'));
    writeFileSync(join(home, '.codex', 'config.toml'), before);
    const t = io();
    expect(await runConfigure(['codex', '--yes', '--home', home, '--data-dir', data, '--port', '9123', '--model', 'coder'], t.io)).toBe(0);
    expect(t.out.join('')).toContain('+[model_providers.lingma-relay]');
    expect(t.out.join('')).toContain('export LINGMA_RELAY_API_KEY');
    const doc = parseToml(readFileSync(join(home, '.codex', 'config.toml'), 'utf8')) as any;
    expect(doc.model_providers['lingma-relay'].base_url).toBe('http://127.0.0.1:9123/v1');
    expect(doc.tui).toEqual({ notifications: true });

    const r = io();
    expect(await runConfigure(['codex', '--restore', '--home', home, '--data-dir', data], r.io)).toBe(0);
    expect(readFileSync(join(home, '.codex', 'config.toml'), 'utf8')).toBe(before);
  });

  it('asks on a terminal: "n" writes nothing; without a terminal and without --yes it refuses', async () => {
    const home = tmp('relay-home-');
    const data = tmp('relay-data-');
    const no = io('n');
    expect(await runConfigure(['claude', '--home', home, '--data-dir', data, '--model', 'coder'], no.io)).toBe(1);
    expect(no.out.join('')).toContain('+    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8420"');
    expect(existsSync(join(home, '.claude', 'settings.json'))).toBe(false);
    const none = io();
    expect(await runConfigure(['claude', '--home', home, '--data-dir', data, '--model', 'coder'], none.io)).toBe(1);
    expect(none.err.join('')).toMatch(/Not a terminal.*--yes/);
    const yes = io('y');
    expect(await runConfigure(['claude', '--home', home, '--data-dir', data, '--model', 'coder'], yes.io)).toBe(0);
    expect((parseJsonc(readFileSync(join(home, '.claude', 'settings.json'), 'utf8')) as any).env.ANTHROPIC_AUTH_TOKEN).toBe(KEY);
  });

  it('picks the first plain alias of the config when no --model is given', async () => {
    const home = tmp('relay-home-');
    const data = tmp('relay-data-');
    writeFileSync(join(data, 'aliases.yaml'), 'claude-*:\n  chain: [x/y]\nfast:\n  chain: [x/y]\n');
    const t = io();
    expect(await runConfigure(['continue', '--yes', '--home', home, '--data-dir', data], t.io)).toBe(0);
    expect(readFileSync(join(home, '.continue', 'config.yaml'), 'utf8')).toContain('model: fast');
  });

  it('the real entry point: `serve configure claude --yes` on a fake home; an unknown client exits 2 naming the known ones', () => {
    const home = tmp('relay-home-');
    const data = tmp('relay-data-');
    // The launcher's own bundle (dist/cli), as `npm run serve` uses it: built only if stale, and
    // shared with the other tests that start the gateway (a build is atomic, concurrent starts are fine).
    const env = { ...process.env, RELAY_SERVE_OUT: '', RELAY_API_KEYS: KEY };
    const ok = spawnSync(process.execPath, [join(root, 'bin', 'serve.mjs'), 'configure', 'claude', '--yes', '--home', home, '--data-dir', data, '--port', '9124', '--model', 'coder'], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('wrote ');
    const env2 = (parseJsonc(readFileSync(join(home, '.claude', 'settings.json'), 'utf8')) as any).env;
    expect(env2).toMatchObject({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:9124', ANTHROPIC_AUTH_TOKEN: KEY, ANTHROPIC_DEFAULT_SONNET_MODEL: 'coder' });
    expect(existsSync(join(data, 'client-backups', 'claude.json'))).toBe(true);

    const bad = spawnSync(process.execPath, [join(root, 'bin', 'serve.mjs'), 'configure', 'vim', '--home', home], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("Unknown client 'vim'. Known clients: claude, codex, qwen, continue.");
  }, 240_000); // may build the bundle (esbuild), and runs it twice
});
