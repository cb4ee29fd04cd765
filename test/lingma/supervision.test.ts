import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../src-main/core/events';
import type { InstanceSnapshot, InstanceState } from '../../src-main/core/backends/types';
import { isAlive } from '../../src-main/core/backends/lingma/process';
import { createLingmaProvider } from '../../src-main/core/backends/lingma';
import { MemorySecrets, nodeSpawner, SIM_BIN, silentLog, simSpawner, chatReq, collect, ctx, makeProvider, readyInstance, sim, user, waitFor, type Harness } from './helpers';

const harnesses: Harness[] = [];
const track = (h: Harness) => (harnesses.push(h), h);
afterEach(async () => {
  await Promise.allSettled(harnesses.splice(0).map((h) => h.close()));
});

describe('Lingma process supervision', () => {
  it('starts a pool of several accounts, each with its own process, ports and work dir', async () => {
    const hub = new EventHub();
    const seen: Array<[string, InstanceState]> = [];
    hub.on('instance', (s: InstanceSnapshot) => seen.push([s.name, s.state]));
    const h = track(
      makeProvider({
        lingma: { accounts: [{ username: 'u1@example.com' }, { username: 'u2', name: 'second' }, { username: 'u3', maxConcurrency: 3 }] },
        env: { LINGMA_SIM_LOGGED_IN_AS: 'pool-user' },
        deps: { hub },
      }),
    );
    await h.provider.start();
    await h.provider.whenStarted();
    const insts = h.provider.lingmaInstances();
    expect(insts.map((i) => i.name)).toEqual(['u1', 'second', 'u3']);
    expect(insts.map((i) => i.state())).toEqual(['ready', 'ready', 'ready']);
    expect(insts.map((i) => i.maxConcurrency)).toEqual([1, 1, 3]);
    const snaps = insts.map((i) => i.snapshot().extra!);
    expect(new Set(snaps.map((s) => s.pid)).size).toBe(3);
    expect(new Set(snaps.flatMap((s) => [s.socketPort, s.httpPort])).size).toBe(6);
    for (const i of insts) {
      expect(existsSync(join(h.dataDir, 'lingma', i.name, 'cache', 'user'))).toBe(true);
      const s = await sim(i);
      expect(s.workspacePathEmpty).toBe(0);
    }
    for (const name of ['u1', 'second', 'u3']) {
      expect(seen.filter(([n]) => n === name).map(([, st]) => st)).toEqual(expect.arrayContaining(['starting', 'ready']));
    }
    const pids = JSON.parse(readFileSync(join(h.dataDir, 'lingma', 'pids.json'), 'utf8'));
    expect(Object.keys(pids).sort()).toEqual(['second', 'u1', 'u3']);
    // All three answer.
    const answers = await Promise.all(insts.map((i) => collect(i.chat(chatReq([user(`hi ${i.name}`)]), ctx()))));
    expect(answers.every((a) => a.finish === 'stop')).toBe(true);
    await h.provider.stop();
    for (const s of snaps) expect(isAlive(s.pid as number)).toBe(false);
    expect(JSON.parse(readFileSync(join(h.dataDir, 'lingma', 'pids.json'), 'utf8'))).toEqual({});
  }, 60_000);

  it('a process killed mid-stream gives a clean error; the instance comes back and serves again', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'crash' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'crash' } }));
    const inst = await readyInstance(h);
    const pid1 = inst.snapshot().extra!.pid;
    const states: InstanceState[] = [];
    inst.events.on('state', (s) => states.push(s.state));
    await sim(inst, { crashAfterDeltas: 2, reply: { mode: 'fixed', text: 'abcdefghij', deltas: 5, delayMs: 20 } });
    const got: string[] = [];
    const err = await (async () => {
      for await (const e of inst.chat(chatReq([user('go')]), ctx())) if (e.type === 'text') got.push(e.text);
    })().catch((e) => e);
    expect(err).toMatchObject({ name: 'RelayError', code: 'upstream_error', retryable: true });
    expect(err.message).not.toMatch(/127\.0\.0\.1|socket/);
    expect(got.join('')).toBe('abcd');
    await waitFor(() => inst.state() === 'ready' && inst.snapshot().extra!.pid !== pid1, 'restarted', 30_000);
    expect(states).toEqual(expect.arrayContaining(['reconnecting', 'ready']));
    expect(inst.snapshot().restarts).toBeGreaterThanOrEqual(1);
    await sim(inst, { reply: { mode: 'fixed', text: 'back again' } });
    expect((await collect(inst.chat(chatReq([user('again')]), ctx()))).text).toBe('back again');
  }, 60_000);

  it('an externally killed process is restarted with backoff', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'k' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'k' } }));
    const inst = await readyInstance(h);
    const pid1 = inst.snapshot().extra!.pid as number;
    process.kill(pid1, 'SIGKILL');
    await waitFor(() => inst.state() === 'reconnecting', 'reconnecting');
    await waitFor(() => inst.state() === 'ready', 'ready again', 30_000);
    expect(inst.snapshot().extra!.pid).not.toBe(pid1);
    expect(isAlive(pid1)).toBe(false);
  }, 60_000);

  it('a dropped socket or garbage on the wire reconnects to the same live process', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'd' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'd' } }));
    const inst = await readyInstance(h);
    const pid = inst.snapshot().extra!.pid;
    const states: InstanceState[] = [];
    inst.events.on('state', (s) => states.push(s.state));
    for (const fault of [{ dropSockets: true }, { garbage: true }]) {
      states.length = 0;
      await sim(inst, fault);
      await waitFor(() => states.includes('reconnecting') && inst.state() === 'ready', `reconnected after ${Object.keys(fault)[0]}`, 30_000);
      expect(inst.snapshot().extra!.pid).toBe(pid);
      expect((await collect(inst.chat(chatReq([user('still here?')]), ctx()))).finish).toBe('stop');
    }
    expect((await sim(inst)).connections).toBe(3);
  }, 60_000);

  it('a request during reconnecting waits for the instance (ensureReady)', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'w' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'w' } }));
    const inst = await readyInstance(h);
    await sim(inst, { crashNow: true }).catch(() => undefined);
    await waitFor(() => inst.state() !== 'ready', 'not ready');
    await inst.ensureReady(new AbortController().signal);
    expect(inst.state()).toBe('ready');
    expect((await collect(inst.chat(chatReq([user('x')]), ctx()))).finish).toBe('stop');
  }, 60_000);

  it('start-up failure is not fatal: failed with a reason, and the next ensureReady retries', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LINGMA_BIN: '', LINGMA_SIM_FAIL_START: '1', LINGMA_SIM_LOGGED_IN_AS: 'f' };
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'f' }] }, deps: { env, spawner: simSpawner(env) } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    expect(inst.state()).toBe('failed');
    expect(inst.snapshot().reason).toMatch(/exited during start-up \(code 1\)/);
    const err = await inst.ensureReady(new AbortController().signal).catch((e) => e);
    expect(err).toMatchObject({ status: 503, code: 'service_unavailable' });
    delete env.LINGMA_SIM_FAIL_START;
    await inst.ensureReady(new AbortController().signal);
    expect(inst.state()).toBe('ready');
  }, 60_000);

  it('a port taken by another program between the pick and the bind: started again on other ports', async () => {
    // Another program takes the first socket port chosen, just before the process binds it.
    let squatter: Server | undefined;
    const spawner = {
      spawn: (command: string, args: string[], options: Parameters<typeof nodeSpawner.spawn>[2]) => {
        const port = Number(args.find((a) => a.startsWith('--socketPort='))?.split('=')[1]);
        if (!squatter && port) {
          squatter = createServer();
          squatter.listen(port, '127.0.0.1'); // an IP literal: bound before listen() returns
        }
        return nodeSpawner.spawn(command, args, options);
      },
    };
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'p' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'p' }, deps: { spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'p' }, spawner) } }));
    try {
      await h.provider.start();
      await h.provider.whenStarted();
      // Ready from the start itself, and still with --transportType: the failed bind is not taken
      // for a binary that refuses the flag.
      expect(squatter?.listening).toBe(true);
      const inst = h.provider.lingmaInstances()[0];
      expect(inst.state()).toBe('ready');
      expect(((await sim(inst)) as unknown as { transportType: string | null }).transportType).toBe('websocket');
    } finally {
      squatter?.close();
    }
  }, 60_000);

  it('waits for a slow start, and gives up after startupTimeoutMs', async () => {
    // Two independent providers, started side by side: the run waits for the longer one only.
    const slow = track(makeProvider({ lingma: { accounts: [{ username: 's' }] }, env: { LINGMA_SIM_START_DELAY_MS: '1200', LINGMA_SIM_LOGGED_IN_AS: 's' } }));
    const tooSlow = track(makeProvider({ lingma: { accounts: [{ username: 't' }], startupTimeoutMs: 1000 }, env: { LINGMA_SIM_START_DELAY_MS: '8000' } }));
    const [inst] = await Promise.all([readyInstance(slow), tooSlow.provider.start().then(() => tooSlow.provider.whenStarted())]);
    expect(inst.state()).toBe('ready');

    const t = tooSlow.provider.lingmaInstances()[0];
    expect(t.state()).toBe('failed');
    expect(t.snapshot().reason).toMatch(/did not start: no connection on port \d+ within 1000 ms/);
    expect(t.snapshot().extra!.pid).toBeUndefined();
  }, 60_000);

  it('a missing binary fails the instance with where it looked and how to set it', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'nb' }], binary: join('/nonexistent', 'Lingma') } }));
    await h.provider.start();
    await h.provider.whenStarted();
    const inst = h.provider.lingmaInstances()[0];
    expect(inst.state()).toBe('failed');
    expect(inst.snapshot().reason).toMatch(/lingma\.binary is \/nonexistent\/Lingma/);
  });

  it('stop escalates to SIGKILL when SIGINT is ignored', async () => {
    const h = track(
      makeProvider({ lingma: { accounts: [{ username: 'stubborn' }] }, env: { LINGMA_SIM_IGNORE_SIGINT: '1', LINGMA_SIM_LOGGED_IN_AS: 'x' }, deps: { stopGraceMs: 500 } }),
    );
    const inst = await readyInstance(h);
    const pid = inst.snapshot().extra!.pid as number;
    await inst.stop();
    expect(inst.state()).toBe('stopped');
    expect(isAlive(pid)).toBe(false);
  }, 30_000);

  it('kills orphans listed in pids.json at start, and only processes running our work dir', async () => {
    const h = track(makeProvider({ lingma: { accounts: [{ username: 'o' }] }, env: { LINGMA_SIM_LOGGED_IN_AS: 'o' } }));
    const workDir = join(h.dataDir, 'lingma', 'ghost');
    mkdirSync(workDir, { recursive: true });
    const orphan = spawn(SIM_BIN, ['start', `--workDir=${workDir}`, '--socketPort=0', '--httpPort=0'], { stdio: 'ignore', detached: true });
    orphan.unref();
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore', detached: true });
    bystander.unref();
    await waitFor(() => {
      try {
        return readFileSync(`/proc/${orphan.pid}/cmdline`, 'utf8').includes('lingma-sim');
      } catch {
        return false;
      }
    }, 'orphan exec');
    // A dead owner: pid 2^22-ish rarely exists; make sure.
    let deadOwner = 4_000_000;
    while (isAlive(deadOwner)) deadOwner++;
    writeFileSync(
      join(h.dataDir, 'lingma', 'pids.json'),
      JSON.stringify({
        ghost: { pid: orphan.pid, workDir, owner: deadOwner, startedAt: 1 },
        other: { pid: bystander.pid, workDir: join(h.dataDir, 'lingma', 'other'), owner: deadOwner, startedAt: 1 },
      }),
    );
    // A new provider on the same data dir (the next run) reads the file at construction.
    const p = createLingmaProvider({ config: h.config, dataDir: h.dataDir, spawner: simSpawner({ LINGMA_SIM_LOGGED_IN_AS: 'o' }), secrets: new MemorySecrets(), log: silentLog(), env: { ...process.env, LINGMA_BIN: '', LINGMA_SIM_LOGGED_IN_AS: 'o' } });
    try {
      await p.start();
      await waitFor(() => !isAlive(orphan.pid!), 'orphan killed', 10_000);
      expect(isAlive(bystander.pid!)).toBe(true);
      await p.whenStarted();
      const pids = JSON.parse(readFileSync(join(h.dataDir, 'lingma', 'pids.json'), 'utf8'));
      expect(pids.ghost).toBeUndefined();
      expect(pids.other).toBeUndefined();
    } finally {
      await p.stop();
      try {
        process.kill(bystander.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      try {
        process.kill(orphan.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }, 60_000);
});
