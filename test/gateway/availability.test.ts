/**
 * The whole relay over the fake OpenAI upstream: an instance out of credits shows in /healthz,
 * /metrics and the admin snapshot; clearing its cool-down by hand (admin API) removes every trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdminSnapshot } from '../../src-main/core/admin/api-types';
import { errors } from '../../src-main/core/errors';
import type { HealthzBody } from '../../src-main/core/gateway/build';
import type { Relay } from '../../src-main/core/relay';
import { startCore, type TestCore } from '../helpers/core';
import { startFakeOpenAI, type FakeUpstream } from '../fakes/openai-upstream';

let up: FakeUpstream;
let core: TestCore;
let relay: Relay;
let url: string;
let key: string;
let admin: string;

beforeAll(async () => {
  up = await startFakeOpenAI({ models: ['m1'], chunks: 2 });
  core = await startCore({ config: { providers: [{ name: 'up', type: 'openai', baseUrl: up.url }], ledger: { enabled: false } } });
  ({ relay, url, apiKey: key, adminToken: admin } = core);
});

afterAll(async () => {
  await core?.close();
  await up?.close();
});

const healthz = async () => {
  const r = await fetch(`${url}/healthz`);
  return { status: r.status, body: (await r.json()) as HealthzBody };
};
const metrics = async () => (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
const chat = () =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'up/m1', messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('availability through the relay', () => {
  it('/healthz names serving, status and reason from the one answer', async () => {
    const { status, body } = await healthz();
    expect(status).toBe(200);
    expect(body.instances[0]).toMatchObject({ name: 'up', provider: 'up', serving: true, status: 'serving', reason: 'up is serving' });
    expect(body.instances[0].display).toMatchObject({ kind: 'serving', label: 'Serving', process: 'process ready' });
    expect(body.instances[0].quota).toBeUndefined();
  });

  it('out of credits: 429 with Retry-After, shown everywhere; a person clears it and every trace goes', async () => {
    const resetsAt = Date.now() + 3_600_000;
    // What the dispatcher does with a QuotaError from an attempt, plus a health backoff on top.
    relay.availability.recordQuota('up', { resetsAt });
    relay.health.recordFailure('up', errors.upstream('Upstream failed.'));

    const h = await healthz();
    expect(h.status).toBe(503);
    expect(h.body.instances[0]).toMatchObject({ serving: false, status: 'out_of_credits', quota: { exceeded: true, resetsAt } });
    expect(h.body.reason).toContain('up is out of credits until');
    // One status: out of credits wins over the health backoff, with the reset time.
    expect(h.body.instances[0].display).toMatchObject({ kind: 'out_of_credits', label: 'Out of credits', until: resetsAt, action: 'clear_cooldown' });
    const m = await metrics();
    expect(m).toContain('relay_account_quota_exceeded{provider="up",instance="up"} 1');
    expect(m).toContain('relay_backend_healthy{backend="up"} 0');

    const refused = await chat();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(3500);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');

    const state = (await (await fetch(`${url}/admin/state`, { headers: { authorization: `Bearer ${admin}` } })).json()) as AdminSnapshot;
    expect(state.instances[0].availability).toMatchObject({ status: 'out_of_credits', clearable: true, until: resetsAt });
    // The dashboard reads the very same value as /healthz.
    expect(state.instances[0].availability?.display).toEqual(h.body.instances[0].display);

    const noToken = await fetch(`${url}/admin/instances/up/clear-cooldown`, { method: 'POST' });
    expect(noToken.status).toBe(401);
    const unknown = await fetch(`${url}/admin/instances/nope/clear-cooldown`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    expect(unknown.status).toBe(404);
    const cleared = await fetch(`${url}/admin/instances/up/clear-cooldown`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    expect(cleared.status).toBe(200);
    expect(((await cleared.json()) as { availability: { status: string } }).availability.status).toBe('serving');

    const after = await healthz();
    expect(after.status).toBe(200);
    expect(after.body.instances[0]).toMatchObject({ serving: true, status: 'serving', healthy: true });
    expect(after.body.instances[0].quota).toBeUndefined();
    const m2 = await metrics();
    expect(m2).toContain('relay_account_quota_exceeded{provider="up",instance="up"} 0');
    expect(m2).toContain('relay_backend_healthy{backend="up"} 1');
    const ok = await chat();
    expect(ok.status).toBe(200);
  });
});
