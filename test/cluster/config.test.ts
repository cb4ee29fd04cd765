/** The `cluster` section: absent by default, each part from the file or its environment fallback. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src-main/core/config/load';
import { validateConfig } from '../../src-main/core/config/validate';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(cleanupTempDirs);

describe('cluster config', () => {
  it('is absent without a cluster section or environment', () => {
    expect(loadConfig({ env: {}, flags: { dataDir: tempDir() } }).config.cluster).toBeUndefined();
  });

  it('takes each part from the environment when the file does not set it', () => {
    const dir = tempDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'cluster:\n  nodeName: from-file\n');
    const { config } = loadConfig({
      env: { RELAY_REDIS_URL: 'redis://127.0.0.1:6390', RELAY_NODE_NAME: 'from-env', RELAY_CLUSTER_SECRET: 'x'.repeat(32), RELAY_POSTGRES_URL: 'postgres://relay@127.0.0.1/relay' },
      flags: { dataDir: dir, config: file },
    });
    expect(config.cluster).toEqual({
      redisUrl: 'redis://127.0.0.1:6390',
      postgresUrl: 'postgres://relay@127.0.0.1/relay',
      nodeName: 'from-file',
      secret: 'x'.repeat(32),
      leaseSec: 15,
    });
  });

  it('allows either part alone', () => {
    expect(loadConfig({ env: { RELAY_REDIS_URL: 'redis://127.0.0.1:6390' }, flags: { dataDir: tempDir() } }).config.cluster?.redisUrl).toBe('redis://127.0.0.1:6390');
    expect(loadConfig({ env: { RELAY_POSTGRES_URL: 'postgres://h/db' }, flags: { dataDir: tempDir() } }).config.cluster).toEqual({ postgresUrl: 'postgres://h/db', leaseSec: 15 });
  });

  it('names the bad key', () => {
    const issues = (fn: () => unknown): string[] => {
      try {
        fn();
      } catch (e) {
        return (e as ConfigError).issues;
      }
      return [];
    };
    expect(issues(() => validateConfig({ cluster: { redisUrl: 'http://x' } }))[0]).toMatch(/^cluster\.redisUrl:/);
    expect(issues(() => validateConfig({ cluster: { secret: 'short' } }))[0]).toMatch(/^cluster\.secret:/);
    expect(issues(() => validateConfig({ cluster: { leaseSec: 1 } }))[0]).toMatch(/^cluster\.leaseSec:/);
    expect(issues(() => validateConfig({ cluster: { nodes: [] } }))[0]).toBe('cluster.nodes: unknown key');
  });

  it('never shows a connection URL (it may carry a password) in an error', () => {
    for (const cluster of [{ redisUrl: 'http://user:hunter2-pw@host' }, { postgresUrl: 'mysql://user:hunter2-pw@host/db' }]) {
      let text = '';
      try {
        validateConfig({ cluster });
      } catch (e) {
        text = (e as ConfigError).issues.join('\n');
      }
      expect(text).toMatch(/^cluster\.(redis|postgres)Url: .*value hidden/);
      expect(text).not.toContain('hunter2');
    }
  });
});
