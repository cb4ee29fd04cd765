/**
 * Lingma processes around a relay's stop, their process group, the levels their output is logged
 * at, and the modes of what the pool writes in the data dir.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay } from '../../src-main/core/relay';
import { nodeSpawner } from '../../src-main/core/backends/registry';
import { isAlive } from '../../src-main/core/backends/lingma/process';
import { AccountStore } from '../../src-main/core/backends/lingma/accounts';
import type { LingmaProvider } from '../../src-main/core/backends/lingma';
import type { ProcessSpawner } from '../../src-main/core/ports';
import { MemorySecrets, SIM_BIN, captureLog, sim, silentLog, simSpawner, tmpDir, waitFor } from './helpers';

const KEY = 'sk-relay-lifecycle-0001';
const posix = process.platform !== 'win32';

let relay: Relay | undefined;
let dataDir: string | undefined;
const spawned: ChildProcess[] = [];

afterEach(async () => {
  await relay?.stop().catch(() => undefined);
  relay = undefined;
  for (const c of spawned.splice(0)) if (c.pid && isAlive(c.pid)) c.kill('SIGKILL');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  dataDir = undefined;
}, 30_000);

/** The real spawner, counted. */
function countingSpawner(): ProcessSpawner {
  return {
    spawn: (command, args, options) => {
      const c = nodeSpawner.spawn(command, args, options);
      spawned.push(c);
      return c;
    },
  };
}

async function startRelay(accounts: string[], logger = silentLog()): Promise<{ relay: Relay; lingma: LingmaProvider; url: string }> {
  dataDir = tmpDir('lingma-lifecycle-');
  const config = validateConfig({
    server: { apiKeys: [KEY], adminToken: 'admin-token-lifecycle-0001' },
    lingma: { binary: SIM_BIN, accounts: accounts.map((a) => ({ username: a, name: a })), answerIdleTimeoutMs: 10_000 },
    ledger: { enabled: false },
    limits: { shutdownGraceMs: 30_000 },
  });
  relay = await createCore({
    config,
    dataDir,
    secrets: new MemorySecrets(),
    spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'lifecycle-user' }, countingSpawner()),
    logger,
    processMetrics: false,
    env: { ...process.env, LINGMA_BIN: '', LINGMA_SIM_LOGGED_IN_AS: 'lifecycle-user' },
  });
  await relay.start();
  const url = await relay.listen({ host: '127.0.0.1', port: 0 });
  const lingma = relay.providers.find((p) => p.name === 'lingma') as LingmaProvider;
  await lingma.whenStarted();
  await waitFor(() => lingma.lingmaInstances().every((i) => i.state() === 'ready' && i.loginState().state === 'logged_in'), 'pool ready', 30_000);
  return { relay, lingma, url };
}

/** A streaming request; resolves once its first chunk arrived, `done` once it ended. */
async function openStream(url: string, text: string): Promise<{ done: Promise<string> }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'lingma/dashscope_qwen3_coder', stream: true, messages: [{ role: 'user', content: text }] }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let body = '';
  while (!body.includes('"content"')) {
    const r = await reader.read();
    if (r.done) break;
    body += dec.decode(r.value, { stream: true });
  }
  const done = (async () => {
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (r.done) return body;
      body += dec.decode(r.value, { stream: true });
    }
  })();
  return { done };
}

/** Process group of a pid (Linux /proc). */
function pgid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

describe('Lingma processes and a stopping relay', () => {
  it('no Lingma process is restarted once the relay is stopping, even one that dies mid-drain', async () => {
    const { lingma, url } = await startRelay(['east', 'west']);
    expect(spawned).toHaveLength(2);
    if (process.platform === 'linux') {
      // Own process group: a terminal's Ctrl-C (sent to the gateway's group) does not reach them.
      for (const c of spawned) expect(pgid(c.pid!)).toBe(c.pid);
    }
    for (const i of lingma.lingmaInstances()) await sim(i, { reset: true, reply: { mode: 'fixed', text: 'a long answer that takes its time', deltas: 10, delayMs: 400 } });
    const a = await openStream(url, 'first');
    const b = await openStream(url, 'second');
    // One stream on each instance (one answer at a time per instance by default).
    await waitFor(() => lingma.lingmaInstances().every((i) => Number(i.snapshot().extra?.inFlight) === 1), 'both instances busy');

    const stopped = relay!.stop();
    // The terminal's SIGINT reaches one Lingma process while the relay drains.
    const victim = lingma.lingmaInstances()[0];
    const pid = Number(victim.snapshot().extra?.pid);
    process.kill(pid, 'SIGINT');
    await waitFor(() => !isAlive(pid), 'the Lingma process to exit');
    await waitFor(() => victim.state() === 'stopped', 'the instance to be stopped, not reconnecting');
    // The other stream finishes normally; the killed one ended early.
    expect(await b.done).toContain('[DONE]');
    await a.done;
    await stopped;
    expect(spawned).toHaveLength(2); // nothing was restarted
    for (const c of spawned) expect(isAlive(c.pid!)).toBe(false);
  }, 90_000);

  it('logs Lingma output at debug/info (warn for errors), binds provider once, writes 0700 dirs and 0600 files', async () => {
    const cap = captureLog();
    const { lingma } = await startRelay(['solo'], cap.log);
    const inst = lingma.lingmaInstances()[0];
    await waitFor(() => lingma.models().some((m) => m.id === 'dashscope_qwen3_coder') && statSync(join(dataDir!, 'lingma', 'models.json'), { throwIfNoEntry: false }), 'models.json');
    await relay!.stop();
    const lines = cap
      .text()
      .split('\n')
      .filter(Boolean)
      .map((l) => ({ raw: l, ...(JSON.parse(l) as { level: number; msg: string; stream?: string }) }));
    const out = lines.filter((l) => l.stream);
    const started = out.find((l) => /^Lingma .* started$/.test(l.msg));
    expect(started?.level).toBe(20); // stdout: debug
    const listening = out.find((l) => l.msg.includes('listening socketPort='));
    expect(listening?.level).toBe(30); // stderr: info
    expect(out.filter((l) => l.level >= 40)).toEqual([]);
    for (const l of lines) expect(l.raw).not.toMatch(/"provider":"lingma"[^}]*"provider":/);
    expect(lines.some((l) => l.raw.includes('"provider":"lingma"') && l.raw.includes('"instance":"solo"'))).toBe(true);

    if (posix) {
      expect(statSync(join(dataDir!, 'lingma')).mode & 0o777).toBe(0o700);
      expect(statSync(inst.workDir).mode & 0o777).toBe(0o700);
      expect(statSync(join(dataDir!, 'lingma', 'models.json')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dataDir!, 'lingma', 'pids.json')).mode & 0o777).toBe(0o600);
      const accounts = new AccountStore([], dataDir!, new MemorySecrets(), silentLog());
      await accounts.add({ username: 'extra-user', password: 'pw-extra-0001' });
      expect(statSync(accounts.file).mode & 0o777).toBe(0o600);
    }
  }, 90_000);

  it('logs a Lingma line that looks like an error at warn', async () => {
    const { spawnLingma } = await import('../../src-main/core/backends/lingma/process');
    const cap = captureLog();
    dataDir = tmpDir('lingma-lifecycle-');
    const p = spawnLingma({
      spawner: simSpawner({ LINGMA_SIM_FAIL_START: '1' }, countingSpawner()),
      binary: SIM_BIN,
      workDir: join(dataDir, 'lingma', 'x'),
      socketPort: 1,
      httpPort: 2,
      extraArgs: [],
      env: { ...process.env, LINGMA_SIM_FAIL_START: '1' },
      log: cap.log,
    });
    await p.exited;
    await waitFor(() => cap.text().includes('simulated start-up failure'), 'the fatal line');
    const line = cap
      .text()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .find((l) => l.msg.includes('simulated start-up failure'));
    expect(line?.level).toBe(40);
  }, 30_000);
});
