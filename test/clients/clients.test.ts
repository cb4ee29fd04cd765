/**
 * "Connect a client": each client's plan / apply / restore on a fake home holding unrelated
 * settings (comments, order, other entries), which must survive byte for byte.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import YAML from 'yaml';
import { parse as parseJsonc } from 'jsonc-parser';
import { applyClient, clientById, clientStatus, planClient, restoreClient, targetOf } from '../../src-main/core/clients/index';
import { maskSecrets, unifiedDiff } from '../../src-main/core/clients/diff';
import { isRelayError } from '../../src-main/core/errors';

const KEY = 'sk-relay-TESTKEY0123456789abcdef';
const target = targetOf('http://127.0.0.1:8420', KEY, 'coder');
const dirs: string[] = [];
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

function fakeHome(files: Record<string, string> = {}) {
  const home = mkdtempSync(join(tmpdir(), 'relay-home-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'relay-data-'));
  dirs.push(home, dataDir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(home, rel)), { recursive: true });
    writeFileSync(join(home, rel), text, { mode: 0o640 });
  }
  return { home, dataDir, ctx: { home, dataDir, target } };
}

/** Every line of `before` that is not in `changed` appears in `after`, in the same order. */
function keptInOrder(before: string, after: string, changed: (l: string) => boolean) {
  const kept = before.split('\n').filter((l) => !changed(l));
  let at = 0;
  const lines = after.split('\n');
  for (const l of kept) {
    const i = lines.indexOf(l, at);
    expect(i, `line kept: ${JSON.stringify(l)}`).toBeGreaterThanOrEqual(0);
    at = i + 1;
  }
}

function roundTrip(id: string, rel: string, before: string, check: (after: string) => void) {
  const { home, dataDir, ctx } = fakeHome({ [rel]: before });
  const writer = clientById(id);
  const file = join(home, rel);
  const plan = planClient(writer, ctx);
  expect(plan.changed).toBe(true);
  expect(plan.diff).toMatch(/^--- ~\//);
  expect(plan.diff).not.toContain(KEY); // shortened on screen
  expect(readFileSync(file, 'utf8')).toBe(before); // planning writes nothing
  expect(clientStatus(writer, ctx)).toMatchObject({ exists: true, configured: false, hasBackup: false });

  const done = applyClient(writer, ctx);
  expect(done.written).toBe(true);
  const after = readFileSync(file, 'utf8');
  check(after);
  expect(statSync(file).mode & 0o777).toBe(0o640); // the file's own mode kept
  const orig = join(dataDir, 'client-backups', `${id}.orig`);
  expect(readFileSync(orig, 'utf8')).toBe(before);
  if (process.platform !== 'win32') {
    expect(statSync(orig).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(orig)).mode & 0o777).toBe(0o700);
  }
  expect(clientStatus(writer, ctx)).toMatchObject({ configured: true, hasBackup: true });
  // Idempotent: planning again changes nothing; applying again keeps the first backup.
  expect(planClient(writer, ctx)).toMatchObject({ changed: false, diff: '' });
  applyClient(writer, { ...ctx, target: { ...target, model: 'other' } });
  expect(readFileSync(orig, 'utf8')).toBe(before);

  const r = restoreClient(writer, ctx);
  expect(r.action).toBe('restored');
  expect(readFileSync(file, 'utf8')).toBe(before);
  expect(existsSync(orig)).toBe(false);
  expect(clientStatus(writer, ctx).hasBackup).toBe(false);
  return after;
}

describe('claude (~/.claude/settings.json)', () => {
  const before = `{
  // my Claude Code settings
  "permissions": { "allow": ["Bash(ls:*)"], "deny": [] },
  "env": {
    "ANTHROPIC_API_KEY": "sk-ant-real-key-0123456789",
    "FOO": "bar" // keep me
  },
  /* trailing block comment */
  "theme": "dark"
}
`;
  it('writes the env block (base URL, token, model mapping), drops ANTHROPIC_API_KEY, keeps the rest byte for byte; restore puts it back', () => {
    roundTrip('claude', '.claude/settings.json', before, (after) => {
      const env = (parseJsonc(after) as { env: Record<string, string> }).env;
      expect(env).toEqual({
        FOO: 'bar',
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:8420',
        ANTHROPIC_AUTH_TOKEN: KEY,
        ANTHROPIC_MODEL: 'coder',
        ANTHROPIC_DEFAULT_OPUS_MODEL: 'coder',
        ANTHROPIC_DEFAULT_SONNET_MODEL: 'coder',
        ANTHROPIC_DEFAULT_HAIKU_MODEL: 'coder',
      });
      // Everything before and after the env block is untouched.
      expect(after.startsWith(before.slice(0, before.indexOf('"env"')))).toBe(true);
      expect(after.endsWith(before.slice(before.indexOf('  /* trailing')))).toBe(true);
      expect(after).toContain('// keep me');
    });
  });

  it('creates the file (0600) when there is none; restore removes it', () => {
    const { home, ctx } = fakeHome();
    const writer = clientById('claude');
    const plan = planClient(writer, ctx);
    expect(plan.exists).toBe(false);
    expect(plan.diff).toMatch(/^--- \/dev\/null/);
    applyClient(writer, ctx);
    const file = join(home, '.claude', 'settings.json');
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((parseJsonc(readFileSync(file, 'utf8')) as any).env.ANTHROPIC_AUTH_TOKEN).toBe(KEY);
    expect(restoreClient(writer, ctx).action).toBe('removed');
    expect(existsSync(file)).toBe(false);
  });

  it('refuses a file that does not parse, writing nothing', () => {
    const { home, ctx } = fakeHome({ '.claude/settings.json': '{ "env": { "A": 1 }, oops }' });
    let err: unknown;
    try { applyClient(clientById('claude'), ctx); } catch (e) { err = e; }
    expect(isRelayError(err) && err.status).toBe(400);
    expect((err as Error).message).toMatch(/does not parse .* line 1/);
    expect(readFileSync(join(home, '.claude/settings.json'), 'utf8')).toBe('{ "env": { "A": 1 }, oops }');
    expect(existsSync(join(ctx.dataDir, 'client-backups'))).toBe(false);
  });

  it('refuses to write through a symbolic link', () => {
    const { home, ctx } = fakeHome({ 'dotfiles/claude.json': '{}\n' });
    mkdirSync(join(home, '.claude'));
    symlinkSync(join(home, 'dotfiles/claude.json'), join(home, '.claude/settings.json'));
    expect(() => planClient(clientById('claude'), ctx)).toThrow(/symbolic link/);
  });
});

describe('codex (~/.codex/config.toml)', () => {
  const before = `# my Codex config
approval_policy = "on-request" # keep this comment
model = "gpt-5"

# servers
[mcp_servers.docs]
command = "docs-mcp"  # inline comment
args = ["--port", "1"]

[model_providers.other]
name = "Other"
base_url = "https://example.com/v1"
`;
  it('adds the provider table (wire_api = "responses") and selects it; other tables and comments stay', () => {
    roundTrip('codex', '.codex/config.toml', before, (after) => {
      const doc = parseToml(after) as any;
      expect(doc.model_provider).toBe('lingma-relay');
      expect(doc.model).toBe('coder');
      expect(doc.model_providers['lingma-relay']).toEqual({ name: 'Lingma Relay', base_url: 'http://127.0.0.1:8420/v1', env_key: 'LINGMA_RELAY_API_KEY', wire_api: 'responses' });
      expect(doc.model_providers.other).toEqual({ name: 'Other', base_url: 'https://example.com/v1' });
      expect(doc.approval_policy).toBe('on-request');
      keptInOrder(before, after, (l) => l.startsWith('model = '));
      // The key is not in the file (Codex reads it from env_key).
      expect(after).not.toContain(KEY);
    });
  });

  it('replaces an existing lingma-relay table in place', () => {
    const withOld = `model_provider = "lingma-relay"\n\n[model_providers.lingma-relay]\nname = "old"\nbase_url = "http://127.0.0.1:1/v1"\n\n[tui]\nnotifications = true\n`;
    const { home, ctx } = fakeHome({ '.codex/config.toml': withOld });
    applyClient(clientById('codex'), ctx);
    const after = readFileSync(join(home, '.codex/config.toml'), 'utf8');
    expect(after).toBe(`model_provider = "lingma-relay"\nmodel = "coder"\n\n[model_providers.lingma-relay]\nname = "Lingma Relay"\nbase_url = "http://127.0.0.1:8420/v1"\nenv_key = "LINGMA_RELAY_API_KEY"\nwire_api = "responses"\n\n[tui]\nnotifications = true\n`);
  });

  it('refuses a layout it cannot edit safely (provider as dotted keys), writing nothing', () => {
    const dotted = `[model_providers]\nlingma-relay.name = "mine"\n`;
    const { home, ctx } = fakeHome({ '.codex/config.toml': dotted });
    expect(() => applyClient(clientById('codex'), ctx)).toThrow(/cannot change safely|does not parse/);
    expect(readFileSync(join(home, '.codex/config.toml'), 'utf8')).toBe(dotted);
  });
});

describe('qwen-code (~/.qwen/settings.json)', () => {
  const before = `{
  // qwen settings
  "ui": { "theme": "GitHub" },
  "modelProviders": {
    "openai": [
      { "id": "gpt-4o", "baseUrl": "https://api.openai.com/v1", "envKey": "OPENAI_API_KEY" } // mine
    ]
  }
}
`;
  it('adds an openai model provider entry, the key in env, selects it; other entries stay', () => {
    roundTrip('qwen', '.qwen/settings.json', before, (after) => {
      const doc = parseJsonc(after) as any;
      expect(doc.modelProviders.openai).toEqual([
        { id: 'gpt-4o', baseUrl: 'https://api.openai.com/v1', envKey: 'OPENAI_API_KEY' },
        { id: 'coder', name: 'Lingma Relay (coder)', baseUrl: 'http://127.0.0.1:8420/v1', envKey: 'LINGMA_RELAY_API_KEY' },
      ]);
      expect(doc.env).toEqual({ LINGMA_RELAY_API_KEY: KEY });
      expect(doc.security.auth.selectedType).toBe('openai');
      expect(doc.model.name).toBe('coder');
      expect(after).toContain('  "ui": { "theme": "GitHub" },\n');
      expect(after).toContain('{ "id": "gpt-4o", "baseUrl": "https://api.openai.com/v1", "envKey": "OPENAI_API_KEY" }');
      expect(after).toContain('// qwen settings');
    });
  });
});

describe('continue (~/.continue/config.yaml)', () => {
  const before = `# Continue config
name: My Assistant # the name
version: 1.0.0
schema: v1
models:
  # my local model
  - name: Ollama
    provider: ollama
    model: llama3
context:
  - provider: code
`;
  it('appends a models entry (provider openai, apiBase) keeping comments and other entries', () => {
    roundTrip('continue', '.continue/config.yaml', before, (after) => {
      const doc = YAML.parse(after);
      expect(doc.models).toEqual([
        { name: 'Ollama', provider: 'ollama', model: 'llama3' },
        { name: 'Lingma Relay', provider: 'openai', model: 'coder', apiBase: 'http://127.0.0.1:8420/v1', apiKey: KEY },
      ]);
      keptInOrder(before, after, () => false);
    });
  });

  it('a new file gets name, version and schema', () => {
    const { home, ctx } = fakeHome();
    applyClient(clientById('continue'), ctx);
    const doc = YAML.parse(readFileSync(join(home, '.continue/config.yaml'), 'utf8'));
    expect(doc).toMatchObject({ name: 'Local Assistant', version: '1.0.0', schema: 'v1' });
    expect(doc.models[0]).toMatchObject({ provider: 'openai', apiBase: 'http://127.0.0.1:8420/v1' });
  });
});

describe('shared parts', () => {
  it('an unknown client is a 404 naming the known ones; a hostile id never becomes a path', () => {
    for (const id of ['nope', '../../etc/passwd', 'claude/../x']) {
      let err: unknown;
      try { clientById(id); } catch (e) { err = e; }
      expect(isRelayError(err) && err.status).toBe(404);
      expect((err as Error).message).toContain('Known clients: claude, codex, qwen, continue');
    }
  });

  it('restore without a backup says so', () => {
    const { ctx } = fakeHome();
    expect(() => restoreClient(clientById('codex'), ctx)).toThrow(/no backup/);
  });

  it('a relay on every interface is written as loopback', () => {
    expect(targetOf('http://0.0.0.0:8420', KEY, 'm')).toMatchObject({ root: 'http://127.0.0.1:8420', endpoint: 'http://127.0.0.1:8420/v1' });
  });

  it('diffs are unified, secrets shortened', () => {
    expect(unifiedDiff('a\nb\nc\n', 'a\nB\nc\n', 'f')).toBe('--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
    expect(maskSecrets(`  "ANTHROPIC_AUTH_TOKEN": "${KEY}",`)).toBe('  "ANTHROPIC_AUTH_TOKEN": "sk-relay…",');
    expect(maskSecrets(`    apiKey: ${KEY}`)).toBe('    apiKey: sk-relay…');
    expect(maskSecrets('env_key = "LINGMA_RELAY_API_KEY"')).toBe('env_key = "LINGMA_RELAY_API_KEY"');
  });
});
