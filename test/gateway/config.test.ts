import { chmodSync, mkdirSync, statSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, defaultDataDir, loadConfig, parseAccountsEnv, parseServeArgs } from '../../src-main/core/config/load';
import { validateConfig } from '../../src-main/core/config/validate';
import { ensureAdminToken, ensureDataDir } from '../../src-main/core/config/datadir';
import { KeyStore, keyIdOf } from '../../src-main/core/config/keys';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(cleanupTempDirs);

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('config validation', () => {
  it('fills defaults for an empty config', () => {
    const c = validateConfig({});
    expect(c.server.host).toBe('127.0.0.1');
    expect(c.server.port).toBe(8420);
    expect(c.limits.maxInFlight).toBe(64);
    expect(c.providers).toEqual([]);
  });
  it('names the bad key and value', () => {
    expect(issuesOf(() => validateConfig({ limits: { maxInFlight: 'lots' } }))).toEqual([
      'limits.maxInFlight: expected an integer >= 1, got "lots"',
    ]);
    expect(issuesOf(() => validateConfig({ server: { hots: 'x' } }))).toEqual(['server.hots: unknown key']);
    expect(issuesOf(() => validateConfig({ server: { port: 70000 } }))[0]).toBe('server.port: expected an integer from 0 to 65535, got 70000');
  });
  it('descends into unions and arrays', () => {
    const issues = issuesOf(() =>
      validateConfig({
        server: { apiKeys: [{ key: 'abcdefghijk', rpm: 0 }] },
        providers: [{ name: 'x', type: 'openai', baseUrl: 'not a url' }],
        server2: 1,
      }),
    );
    expect(issues).toContain('server.apiKeys[0].rpm: expected an integer >= 1, got 0');
    expect(issues).toContain('providers[0].baseUrl: expected an http(s) URL, got "not a url"');
    expect(issues).toContain('server2: unknown key');
  });
  it('reports missing required keys and semantic problems', () => {
    expect(issuesOf(() => validateConfig({ providers: [{ name: 'x', type: 'openai' }] }))[0]).toMatch(/^providers\[0\]\.baseUrl: required/);
    expect(
      issuesOf(() =>
        validateConfig({
          providers: [
            { name: 'a', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' },
            { name: 'a', type: 'openai', baseUrl: 'http://127.0.0.1:2/v1' },
          ],
        }),
      ),
    ).toEqual(['providers[1].name: duplicate provider name "a"']);
    expect(issuesOf(() => validateConfig({ server: { corsOrigins: ['*'] } }))[0]).toMatch(/^server\.corsOrigins\[0\]/);
  });
});

describe('loadConfig', () => {
  it('reads YAML and JSON, resolves relative paths, applies env then flags', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'relay.yaml'), 'server:\n  port: 9000\naliasesFile: aliases.yaml\nlimits:\n  maxInFlight: 8\n');
    const { config, configPath, dataDir } = loadConfig({
      flags: { config: join(dir, 'relay.yaml'), port: '9100' },
      env: { RELAY_HOST: '::1', RELAY_PORT: '9050', RELAY_API_KEYS: 'sk-env-key-1,sk-env-key-2', RELAY_DATA_DIR: join(dir, 'data') },
    });
    expect(configPath).toBe(join(dir, 'relay.yaml'));
    expect(dataDir).toBe(join(dir, 'data'));
    expect(config.server.port).toBe(9100);
    expect(config.server.host).toBe('::1');
    expect(config.aliasesFile).toBe(join(dir, 'aliases.yaml'));
    expect(config.limits.maxInFlight).toBe(8);
    expect(config.server.apiKeys).toHaveLength(2);

    writeFileSync(join(dir, 'relay.json'), JSON.stringify({ limits: { queueTimeoutMs: 5 } }));
    expect(loadConfig({ flags: { config: join(dir, 'relay.json') }, env: {} }).config.limits.queueTimeoutMs).toBe(5);
  });
  it('names bad env values and flags', () => {
    expect(issuesOf(() => loadConfig({ env: { RELAY_PORT: 'abc', RELAY_DATA_DIR: tempDir() } }))).toEqual([
      'RELAY_PORT: expected an integer from 0 to 65535, got "abc"',
    ]);
    expect(issuesOf(() => loadConfig({ flags: { port: '-1' }, env: { RELAY_DATA_DIR: tempDir() } }))[0]).toMatch(/^--port:/);
    expect(issuesOf(() => parseServeArgs(['--prot', '1']))[0]).toMatch(/^--prot: unknown flag/);
    expect(parseServeArgs(['--config=a.yaml', '--port', '0', '--data-dir', 'd'])).toEqual({ config: 'a.yaml', port: '0', dataDir: 'd' });
  });
  it('reports unreadable and unparsable files by name', () => {
    const dir = tempDir();
    expect(issuesOf(() => loadConfig({ flags: { config: join(dir, 'nope.yaml') }, env: {} }))[0]).toMatch(/nope\.yaml.*no such file/);
    writeFileSync(join(dir, 'bad.yaml'), 'server: [\n');
    expect(issuesOf(() => loadConfig({ flags: { config: join(dir, 'bad.yaml') }, env: {} }))[0]).toMatch(/bad\.yaml: not valid YAML/);
    writeFileSync(join(dir, 'bad.json'), '{"server": ');
    expect(issuesOf(() => loadConfig({ flags: { config: join(dir, 'bad.json') }, env: {} }))[0]).toMatch(/bad\.json: not valid JSON/);
  });
  it('gives one clean line for broken YAML and JSON: file, line, column, problem', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'broken.yaml'), 'server:\n  port: 1\nlimits:\nfoo: [\n');
    const [y] = issuesOf(() => loadConfig({ flags: { config: join(dir, 'broken.yaml') }, env: {} }));
    expect(y).toMatch(/broken\.yaml: not valid YAML at line \d+, column \d+: \S.*[^:]$/);
    expect(y).not.toContain('\n');
    writeFileSync(join(dir, 'broken.json'), '{\n "a": 1,\n "b" 2\n}');
    const [j] = issuesOf(() => loadConfig({ flags: { config: join(dir, 'broken.json') }, env: {} }));
    expect(j).toMatch(/broken\.json: not valid JSON at line 3, column 6: Unexpected/);
    expect(j).not.toContain('\n');
  });
  it("checks the file's own values before env and flags override them", () => {
    const dir = tempDir();
    const file = join(dir, 'relay.yaml');
    writeFileSync(file, 'server:\n  port: "abc"\n');
    let err: unknown;
    try {
      loadConfig({ flags: { config: file, port: '0' }, env: { RELAY_DATA_DIR: join(dir, 'd') } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual(['server.port: expected an integer from 0 to 65535, got "abc"']);
    expect((err as Error).message).toContain(file);
    // the same with the env override
    expect(issuesOf(() => loadConfig({ flags: { config: file }, env: { RELAY_PORT: '0', RELAY_DATA_DIR: join(dir, 'd') } }))).toEqual([
      'server.port: expected an integer from 0 to 65535, got "abc"',
    ]);
    // a good file value overridden by a flag still works
    writeFileSync(file, 'server:\n  port: 9000\n');
    expect(loadConfig({ flags: { config: file, port: '0' }, env: { RELAY_DATA_DIR: join(dir, 'd') } }).config.server.port).toBe(0);
  });
  it('parses LINGMA_ACCOUNTS both ways and LINGMA_INSTANCE_COUNT', () => {
    expect(parseAccountsEnv('a:p1, b:p:2')).toEqual([
      { username: 'a', password: 'p1' },
      { username: 'b', password: 'p:2' },
    ]);
    expect(parseAccountsEnv('[{"username":"x","password":"y"}]')).toEqual([{ username: 'x', password: 'y' }]);
    const env = { LINGMA_ACCOUNTS: 'a:1,b:2,c:3', LINGMA_INSTANCE_COUNT: '2', LINGMA_BIN: '/opt/lingma', RELAY_DATA_DIR: tempDir() };
    const { config } = loadConfig({ env });
    expect(config.lingma.accounts.map((a) => a.username)).toEqual(['a', 'b']);
    expect(config.lingma.binary).toBe('/opt/lingma');
    const issues = issuesOf(() => loadConfig({ env: { ...env, LINGMA_INSTANCE_COUNT: '5' } }));
    expect(issues[0]).toMatch(/^LINGMA_INSTANCE_COUNT/);
    // SECURITY: a broken value never echoes passwords.
    const bad = issuesOf(() => loadConfig({ env: { LINGMA_ACCOUNTS: '[{"username":"x","password":"hunter2"', RELAY_DATA_DIR: tempDir() } }));
    expect(bad.join()).not.toContain('hunter2');
  });
  it('defaults the data dir per OS', () => {
    expect(defaultDataDir({}, 'linux', '/home/u')).toBe('/home/u/.config/lingma-relay');
    expect(defaultDataDir({ XDG_CONFIG_HOME: '/x' }, 'linux', '/home/u')).toBe('/x/lingma-relay');
    expect(defaultDataDir({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Application Support/Lingma Relay');
    expect(defaultDataDir({ APPDATA: 'C:\\AppData' }, 'win32', 'C:\\u')).toMatch(/Lingma Relay$/);
  });
});

describe('data dir and keys', () => {
  it.skipIf(process.platform === 'win32')('tightens an existing data dir to 0700 and says so once', () => {
    const dir = join(tempDir(), 'data');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const seen: number[] = [];
    expect(ensureDataDir(dir, { onTightened: (m) => seen.push(m) })).toBe(false);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(seen).toEqual([0o755]);
    ensureDataDir(dir, { onTightened: (m) => seen.push(m) });
    expect(seen).toHaveLength(1); // already tight: nothing to say
  });
  it('generates an API key and admin token once, 0600 in a 0700 folder', () => {
    const dir = join(tempDir(), 'data');
    expect(ensureDataDir(dir)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const config = validateConfig({});
    const ks = KeyStore.open({ config, dataDir: dir });
    expect(ks.generated).toMatch(/^sk-relay-[0-9A-Za-z]{32}$/);
    expect(statSync(join(dir, 'api-key')).mode & 0o777).toBe(0o600);
    const t = ensureAdminToken(config, dir);
    expect(t.generated).toBe(t.token);
    expect(statSync(join(dir, 'admin-token')).mode & 0o777).toBe(0o600);
    // second run: nothing generated, same values
    const ks2 = KeyStore.open({ config, dataDir: dir });
    expect(ks2.generated).toBeUndefined();
    expect(ks2.verify(ks.generated!)?.keyId).toBe(keyIdOf(ks.generated!));
    const t2 = ensureAdminToken(config, dir);
    expect(t2.generated).toBeUndefined();
    expect(t2.token).toBe(t.token);
  });
  it('verifies, lists without secrets, creates and revokes', () => {
    const dir = tempDir();
    const config = validateConfig({ server: { apiKeys: ['sk-config-key-1', { key: 'sk-limited-key', name: 'ci', rpm: 10, expiresAt: '2000-01-01' }] } });
    const ks = KeyStore.open({ config, dataDir: dir });
    expect(ks.generated).toBeUndefined();
    expect(ks.verify('sk-config-key-1')).toMatchObject({ keyId: keyIdOf('sk-config-key-1') });
    expect(ks.verify('sk-config-key-2')).toBeUndefined();
    expect(ks.verify('')).toBeUndefined();
    // Expired: refused with a 401 that says so and names the date.
    expect(() => ks.verify('sk-limited-key')).toThrow(expect.objectContaining({ status: 401, code: 'key_expired', message: 'This API key expired on 2000-01-01T00:00:00.000Z.' }));
    const { id, key } = ks.create('laptop', { rpm: 5 });
    expect(ks.verify(key)).toEqual({ keyId: id, keyName: 'laptop', limits: { rpm: 5 } });
    const listed = JSON.stringify(ks.list());
    expect(listed).not.toContain(key);
    expect(listed).not.toContain('sk-config-key-1');
    expect(ks.list().find((k) => k.id === id)?.prefix).toBe(key.slice(0, 11) + '…');
    expect(statSync(join(dir, 'keys.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'keys.json'), 'utf8')).not.toContain(key);
    // persisted: a new store over the same dir knows it
    expect(KeyStore.open({ config, dataDir: dir }).verify(key)?.keyId).toBe(id);
    expect(() => ks.revoke(keyIdOf('sk-config-key-1'))).toThrow(/config file/);
    expect(() => ks.revoke('nope')).toThrow(/No API key/);
    ks.revoke(id);
    expect(ks.verify(key)).toBeUndefined();
    expect(KeyStore.open({ config, dataDir: dir }).verify(key)).toBeUndefined();
    expect(() => ks.create('', {})).toThrow(/name/);
    expect(() => ks.create('x', { rpm: 0 })).toThrow(/rpm/);
    expect(existsSync(join(dir, 'api-key'))).toBe(false);
  });
  it('verifies the same keys again and again (remembered hashes) and stops at once when one is revoked', () => {
    const ks = KeyStore.open({ config: validateConfig({}), dataDir: tempDir(), generate: false });
    const made = Array.from({ length: 20 }, (_, i) => ks.create(`k${i}`, {})); // more than the memo holds
    for (let round = 0; round < 3; round++) for (const m of made) expect(ks.verify(m.key)?.keyId).toBe(m.id);
    expect(ks.verify(`${made[0].key}x`)).toBeUndefined();
    ks.revoke(made[19].id);
    ks.revoke(made[0].id);
    expect(ks.verify(made[19].key)).toBeUndefined();
    expect(ks.verify(made[0].key)).toBeUndefined();
    expect(ks.verify(made[1].key)?.keyId).toBe(made[1].id);
  });
});
