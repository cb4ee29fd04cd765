/**
 * The zero-configuration first run (issue 12, spec §7): no accounts, no providers, a fresh data
 * folder, and a signed-in Lingma app advertised in the user's home. The relay finds it, serves
 * through it, and leaves it running when it stops.
 */
import { rmSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { advertise, fakeHome, startSimApp, type SimApp } from '../sim/attach';
import { MemorySecrets, nodeSpawner, silentLog, tmpDir } from './helpers';

const KEY = 'sk-relay-zero-config-0001';

describe('zero configuration: a running, signed-in Lingma app', () => {
  let relay: Relay;
  let app: SimApp;
  let home: string;
  let dataDir: string;
  let url: string;

  beforeAll(async () => {
    app = await startSimApp({ signedInAs: 'zoe' });
    home = fakeHome();
    advertise(home, app);
    dataDir = tmpDir('relay-zero-');
    // Only what a first run has: an API key (generated on a real first run) and nothing else.
    const config = validateConfig({ server: { apiKeys: [KEY] }, ledger: { enabled: false } });
    relay = await createCore({
      config,
      dataDir,
      secrets: new MemorySecrets(),
      spawner: nodeSpawner,
      logger: silentLog(),
      processMetrics: false,
      env: { PATH: process.env.PATH ?? '', HOME: home },
    });
    await relay.start();
    url = await relay.listen({ host: '127.0.0.1', port: 0 });
  }, 60_000);

  afterAll(async () => {
    await relay?.stop();
    await app?.kill();
    for (const d of [home, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
  }, 30_000);

  it('answers a chat through the app with no account typed in, and /healthz names it serving', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: `${url}/v1`, maxRetries: 0 });
    // The first request may arrive while the relay is still connecting to the app: it waits on
    // the pool (bounded by the first-byte timeout) rather than failing.
    const r = await client.chat.completions.create({ model: 'lingma/dashscope_qwen3_coder', messages: [{ role: 'user', content: 'hello from a zero-config start' }] });
    expect(r.choices[0].message.content?.length).toBeGreaterThan(0);
    const st = await app.sim();
    expect((st.asks as unknown[]).length + (st.prompts as unknown[]).length).toBe(1);

    const hz = (await (await fetch(`${url}/healthz`)).json()) as { ok: boolean; instances: Array<{ name: string; serving: boolean }> };
    expect(hz.ok).toBe(true);
    expect(hz.instances).toEqual([expect.objectContaining({ name: 'lingma-app', serving: true, attached: true })]);
  });

  it('stopping the relay leaves the app running and signed in', async () => {
    await relay.stop();
    expect(app.alive()).toBe(true);
    const st = await app.sim();
    expect(st.logouts ?? 0).toBe(0);
    expect(st.loggedIn).toBe(true);
  });
});
