/**
 * The first read after a Lingma process is ready (`auth/status`, then the models) is tried again
 * when it fails: a runtime slow to settle right after start must not leave a signed-in account
 * showing "signed out" until some request happens to come (the health prober only probes
 * instances that failed a request).
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import type { LingmaProvider } from '../../src-main/core/backends/lingma';
import { MemorySecrets, SIM_BIN, silentLog, simSpawner, tmpDir, waitFor } from './helpers';

let relay: Relay | undefined;
let dataDir: string | undefined;

afterEach(async () => {
  await relay?.stop().catch(() => undefined);
  relay = undefined;
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
});

describe('the first read after ready', () => {
  it('a failing auth/status right after start is tried again: the account ends signed in with its models, no request needed', async () => {
    dataDir = tmpDir('lingma-ready-read-');
    const config = validateConfig({
      server: { apiKeys: ['sk-relay-ready-read-0001'], adminToken: 'admin-token-ready-read-01' },
      lingma: { binary: SIM_BIN, accounts: [{ username: 'reader', name: 'reader' }], login: { auto: false } },
      ledger: { enabled: false },
    });
    const env = { LINGMA_SIM_LOGGED_IN_AS: 'ready-user', LINGMA_SIM_FAULTS: JSON.stringify({ authStatusErrors: 2 }) };
    relay = await createCore({
      config,
      dataDir,
      secrets: new MemorySecrets(),
      spawner: simSpawner(env),
      logger: silentLog(),
      processMetrics: false,
      env: { ...process.env, LINGMA_BIN: '', ...env },
    });
    await relay.start();
    const lingma = relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
    await lingma.whenStarted();
    const inst = lingma.lingmaInstances()[0];
    await waitFor(() => inst.state() === 'ready', 'process ready', 20_000);
    // Two failed reads, then the third: signed in, and the account's models were read.
    await waitFor(() => inst.loginState().state === 'logged_in', 'signed in without a request', 20_000);
    await waitFor(() => lingma.models().some((m) => m.id === 'dashscope_qwen3_coder'), 'models read', 10_000);
    expect(inst.snapshot().login.state).toBe('logged_in');
  });
});
