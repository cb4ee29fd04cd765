/** Live settings changed in the dashboard apply at once and survive a restart; a bad saved file is ignored. */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createCore, type Relay } from '../../src-main/core/relay';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterAll(() => cleanupTempDirs());

async function start(dataDir: string, lines?: string[]): Promise<{ relay: Relay; url: string }> {
  const relay = await createCore({
    config: validateConfig({ server: { adminToken: 'admin-token-settings-test-01' } }),
    dataDir,
    secrets: new FileSecretStore(dataDir),
    lingma: 'never',
    processMetrics: false,
    logger: createLogger({ level: 'info', destination: { write: (s: string) => void lines?.push(s) } }),
  });
  await relay.start();
  return { relay, url: await relay.listen({ host: '127.0.0.1', port: 0 }) };
}

const admin = { authorization: 'Bearer admin-token-settings-test-01', 'content-type': 'application/json' };

describe('live settings', () => {
  it('apply at once, are saved (0600), and are laid over the config at the next start', async () => {
    const dataDir = tempDir();
    const a = await start(dataDir);
    try {
      const res = await fetch(`${a.url}/admin/settings`, { method: 'PATCH', headers: admin, body: JSON.stringify({ maxInFlight: 7, loginAuto: false }) });
      expect(res.status).toBe(200);
      expect(a.relay.config.limits.maxInFlight).toBe(7);
      expect(a.relay.admission.stats().max).toBe(7);
    } finally {
      await a.relay.stop();
    }
    if (process.platform !== 'win32') expect(statSync(join(dataDir, 'settings.json')).mode & 0o777).toBe(0o600);
    const lines: string[] = [];
    const b = await start(dataDir, lines);
    try {
      expect(b.relay.config.limits.maxInFlight).toBe(7);
      expect(b.relay.config.lingma.login.auto).toBe(false);
      expect(b.relay.admission.stats().max).toBe(7);
      expect(lines.join('')).toContain('settings saved from the dashboard applied over the config');
      const view = await (await fetch(`${b.url}/admin/settings`, { headers: admin })).json();
      expect(view).toMatchObject({ maxInFlight: 7, loginAuto: false });
    } finally {
      await b.relay.stop();
    }
  });

  it('a broken settings file is reported and ignored; the gateway starts on its config', async () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'settings.json'), '{"maxInFlight": 0}');
    const lines: string[] = [];
    const r = await start(dataDir, lines);
    try {
      expect(r.relay.config.limits.maxInFlight).toBe(64);
      const text = lines.join('');
      expect(text).toContain('saved dashboard settings ignored');
      expect(text).toMatch(/maxInFlight: expected a whole number/);
    } finally {
      await r.relay.stop();
    }
  });
});
