/**
 * Team mode, dashboard edits and the Nodes view: aliases saved and settings changed in one node's
 * dashboard apply on every node (written to each node's own files, so a restart keeps them), a
 * node that starts later takes what the team holds, and `GET /admin/cluster` (admin token) lists
 * the nodes alive with the team's totals.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupTempDirs } from '../helpers/tmp';
import { NO_REDIS, redisServerPath, startRedis, type TestRedis } from '../helpers/redis';
import { chat, startNode, waitFor, type Node } from './nodes';
import { startFakeOpenAI, type FakeUpstream as FakeOpenAI } from '../fakes/openai-upstream';

const hasRedis = !!redisServerPath();
if (!hasRedis) console.warn(NO_REDIS);

const KEY = 'sk-team-edits-000000000001';
const ADMIN = 'admin-token-team-edits-0001';

describe.skipIf(!hasRedis)('team mode: edits in one dashboard apply to every node', () => {
  let redis: TestRedis;
  let up: FakeOpenAI;
  const nodes: Node[] = [];
  let config: Record<string, unknown>;
  const admin = (n: Node, method: string, path: string, body?: unknown, token = ADMIN) =>
    fetch(`${n.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  beforeAll(async () => {
    redis = await startRedis();
    up = await startFakeOpenAI();
    config = {
      server: { apiKeys: [KEY], adminToken: ADMIN },
      providers: [{ name: 'up', type: 'openai', baseUrl: up.url, models: ['m1', 'm2'] }],
      limits: { shutdownGraceMs: 200 },
      ledger: { enabled: false },
    };
    for (const name of ['a', 'b']) nodes.push(await startNode(name, redis.url, config, { cluster: { leaseSec: 3 } }));
  });

  afterAll(async () => {
    for (const n of nodes) await n.relay.stop();
    await up?.close();
    await redis?.stop();
    cleanupTempDirs();
  });

  it('aliases saved on one node are used and kept by the others', async () => {
    const [a, b] = nodes;
    expect((await chat(b.url, KEY, { model: 'team-coder' })).status).toBe(404);
    const r = await admin(a, 'PUT', '/admin/aliases', { aliases: { 'team-coder': { chain: ['up/m2'] } } });
    expect(r.status).toBe(200);
    // Written through b's own save path (its aliases file holds it after a restart too), then used.
    await waitFor(() => readFileSync(join(b.relay.dataDir, 'aliases.yaml'), 'utf8').includes('team-coder'), 'node b to save the alias');
    const served = await chat(b.url, KEY, { model: 'team-coder' });
    expect(served.status).toBe(200);
    expect(served.headers.get('x-relay-resolved')).toBe('up/m2');
  });

  it('settings changed on one node apply on the others and land in their settings.json', async () => {
    const [a, b] = nodes;
    const r = await admin(b, 'PATCH', '/admin/settings', { maxInFlight: 7, firstByteTimeoutMs: 4321 });
    expect(r.status).toBe(200);
    await waitFor(() => a.relay.config.limits.maxInFlight === 7, 'node a to take the new limit');
    expect(a.relay.config.limits.firstByteTimeoutMs).toBe(4321);
    expect(a.relay.admission.stats().max).toBe(7);
    expect(JSON.parse(readFileSync(join(a.relay.dataDir, 'settings.json'), 'utf8'))).toMatchObject({ maxInFlight: 7, firstByteTimeoutMs: 4321 });
  });

  it('settings from Redis that do not pass the settings schema are not applied', async () => {
    const [a] = nodes;
    const writer = new Redis(redis.url);
    try {
      const send = (value: unknown) => writer.publish('relay:shared-config-changed', JSON.stringify({ doc: 'settings', from: 'elsewhere', value: JSON.stringify(value) }));
      await send({ maxInFlight: 'lots', logLevel: 'loud' });
      await send({ maxInFlight: 7, queueTimeoutMs: 1234 });
      // Messages arrive in order: once the good one applied, the bad one was seen and refused.
      await waitFor(() => a.relay.config.limits.queueTimeoutMs === 1234, 'the valid settings to apply');
      expect(a.relay.config.limits.maxInFlight).toBe(7);
      expect(a.relay.config.server.logLevel).not.toBe('loud');
    } finally {
      writer.disconnect();
    }
  });

  it('a node that joins later starts with the team\'s edits', async () => {
    const c = await startNode('c', redis.url, config, { cluster: { leaseSec: 3 } });
    nodes.push(c);
    expect(c.relay.config.limits.maxInFlight).toBe(7);
    expect((await chat(c.url, KEY, { model: 'team-coder' })).headers.get('x-relay-resolved')).toBe('up/m2');
  });

  it('GET /admin/cluster lists the nodes alive and the team\'s totals, admin token only', async () => {
    const [a] = nodes;
    expect((await admin(a, 'GET', '/admin/cluster', undefined, KEY)).status).toBe(401);
    expect((await fetch(`${a.url}/admin/cluster`)).status).toBe(401);
    // Every node reports; requests counted where they arrived.
    await Promise.all(nodes.map(async (n) => (await chat(n.url, KEY, { model: 'up/m1' })).json()));
    let view: any;
    await waitFor(async () => {
      view = await (await admin(a, 'GET', '/admin/cluster')).json();
      // A node counts a request when it finishes, a moment before its slot is released: a report
      // taken in between shows requests 1 with inFlight 1. Wait for the report after that too.
      return view.nodes.length === 3 && view.nodes.every((n: any) => n.lastSeen !== undefined && (n.requests ?? 0) >= 1 && n.inFlight === 0);
    }, 'every node to report its requests, none in flight');
    expect(view.node).toBe('a');
    expect(((await (await admin(a, 'GET', '/admin/state')).json()) as any).team).toEqual({ node: 'a' });
    expect(view.nodes.map((n: any) => n.name)).toEqual(['a', 'b', 'c']);
    expect(view.nodes.find((n: any) => n.self).name).toBe('a');
    for (const n of view.nodes) {
      expect(n.url).toBe(nodes.find((x) => x.name === n.name)!.url);
      expect(n).toMatchObject({ inFlight: 0, accounts: [] });
    }
    expect(view.totals.nodes).toBe(3);
    expect(view.totals.requests).toBe(view.nodes.reduce((s: number, n: any) => s + n.requests, 0));
    // A node that stops leaves the list.
    await nodes[2].relay.stop();
    nodes.pop();
    await waitFor(async () => ((await (await admin(a, 'GET', '/admin/cluster')).json()) as any).nodes.length === 2, 'node c to leave the list');
  });
});
