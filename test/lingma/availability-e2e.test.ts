/**
 * End to end over the simulator: one account stuck signing in (its sign-in never completes) and
 * two serving. Eight requests with different affinity keys — some of which would pick the stuck
 * account — are all answered by the serving ones; none waits on the stuck account.
 */
import { rmSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LingmaProvider } from '../../src-main/core/backends/lingma';
import type { ChatRequest } from '../../src-main/core/chat/model';
import { validateConfig } from '../../src-main/core/config/validate';
import type { LoginDriver, LoginOutcome } from '../../src-main/core/ports';
import { createCore, type Relay } from '../../src-main/core/relay';
import { hopOf } from '../../src-main/core/pool/pool';
import { MemorySecrets, SIM_BIN, silentLog, sim, simSpawner, tmpDir, waitFor } from './helpers';

const KEY = 'sk-relay-e2e-availability-0001';

describe('no request waits on an account that cannot serve', () => {
  let relay: Relay;
  let dataDir: string;
  let client: OpenAI;
  let lingma: LingmaProvider;
  const pendingLogins: Array<(o: LoginOutcome) => void> = [];
  // A sign-in that never completes (until the test ends).
  const stuckDriver: LoginDriver = { name: 'stuck', login: () => new Promise<LoginOutcome>((resolve) => void pendingLogins.push(resolve)) };

  beforeAll(async () => {
    dataDir = tmpDir('lingma-avail-');
    const config = validateConfig({
      server: { apiKeys: [KEY], adminToken: 'admin-token-availability-0001' },
      lingma: {
        binary: SIM_BIN,
        accounts: [{ username: 'east', name: 'east' }, { username: 'west', name: 'west' }, { username: 'stuck', name: 'stuck', password: 'pw-stuck-123' }],
        answerIdleTimeoutMs: 5000,
        login: { timeoutMs: 600_000 },
      },
      ledger: { enabled: false },
    });
    relay = await createCore({
      config, dataDir, secrets: new MemorySecrets(), spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'e2e-user' }), logger: silentLog(), processMetrics: false, loginDriver: stuckDriver,
      env: { ...process.env, LINGMA_BIN: '' },
    });
    await relay.start();
    const url = await relay.listen({ host: '127.0.0.1', port: 0 });
    lingma = relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
    await lingma.whenStarted();
    await waitFor(() => lingma.lingmaInstances().every((i) => i.state() === 'ready' && i.loginState().state === 'logged_in'), 'pool ready', 30_000);
    client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
  }, 60_000);

  afterAll(async () => {
    for (const r of pendingLogins.splice(0)) r({ kind: 'failed', reason: 'test over' });
    await relay?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('one account stuck signing in + two serving: eight requests with different affinity keys are each answered by a serving one', async () => {
    const req = (user: string): ChatRequest => ({ model: 'dashscope_qwen3_coder', stream: false, user, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] });
    // Affinity keys: four whose favourite is the stuck account while it serves, four others.
    const favourites: string[] = [];
    const others: string[] = [];
    for (let k = 0; (favourites.length < 4 || others.length < 4) && k < 500; k++) {
      const l = await relay.pool.acquire(hopOf(lingma, req(`user-${k}`)));
      if (l.instance.name === 'stuck') {
        if (favourites.length < 4) favourites.push(`user-${k}`);
      } else if (others.length < 4) others.push(`user-${k}`);
      l.release();
    }
    expect(favourites).toHaveLength(4);

    // The stuck account signs out, and its new sign-in never completes.
    await lingma.accounts.logout('stuck');
    void lingma.accounts.login('stuck').catch(() => undefined);
    const stuck = lingma.lingmaInstances().find((i) => i.name === 'stuck')!;
    await waitFor(() => stuck.loginState().state === 'logging_in', 'stuck signing in');
    expect(relay.availability.view('stuck')).toMatchObject({ serving: false, status: 'signing_in' });
    await sim(stuck, { reset: true });

    const answers = await Promise.all([...favourites, ...others].map((user) =>
      client.chat.completions.create({ model: 'lingma/dashscope_qwen3_coder', user, messages: [{ role: 'user', content: `hello from ${user}` }] }).withResponse(),
    ));
    for (const { data } of answers) expect(data.choices[0].message.content).toBeTruthy();
    // None went to (or waited on) the stuck account.
    expect((await sim(stuck)).asks).toHaveLength(0);
    expect(relay.pool.waiting()).toBe(0);
    const served = new Set<string>();
    for (const i of lingma.lingmaInstances().filter((x) => x.name !== 'stuck')) if ((await sim(i)).asks.length) served.add(i.name);
    expect([...served].every((n) => n === 'east' || n === 'west')).toBe(true);

    const h = (await (await fetch(`${relay.url()}/healthz`)).json()) as { ok: boolean; instances: Array<{ name: string; serving: boolean; status: string; reason: string }> };
    expect(h.ok).toBe(true);
    expect(h.instances.find((i) => i.name === 'stuck')).toMatchObject({ serving: false, status: 'signing_in', reason: 'stuck is logging in' });
  }, 60_000);
});
