/** One reading of `auth/status` (spec §4, §8) for owned instances (signin.ts) and attached apps (attach/signin.ts). */
import { describe, expect, it } from 'vitest';
import { authFromStatus } from '../../src-main/core/backends/lingma/signin';
import { AttachedSignin } from '../../src-main/core/backends/lingma/attach/signin';
import type { RpcChannel } from '../../src-main/core/backends/lingma/channel';

describe('auth/status', () => {
  it('logged in = a non-empty id; the name and the quota flags in any of their spellings', () => {
    expect(authFromStatus(null)).toEqual({ loggedIn: false });
    expect(authFromStatus({ id: '', name: 'x' })).toEqual({ loggedIn: false });
    expect(authFromStatus({ id: 42, name: 'ann' })).toEqual({ loggedIn: true, user: 'ann', quota: undefined });
    const resetsAt = Date.now() + 3_600_000;
    expect(authFromStatus({ id: 'u1', is_quota_exceeded: 'true', quotaResetTime: resetsAt })).toEqual({ loggedIn: true, user: undefined, quota: { exceeded: true, resetsAt } });
  });

  it('an attached app reads it the same way, and asks for a person when signed out', async () => {
    let status: Record<string, unknown> = { id: 'u1', name: 'ann', IsQuotaExceeded: true };
    const rpc = { request: async () => status } as unknown as RpcChannel;
    const changes: string[] = [];
    const signin = new AttachedSignin({
      rpc: () => rpc,
      appName: () => 'Lingma',
      halted: () => true,
      connected: () => false,
      signedIn: async () => void changes.push('in'),
      signedOut: () => changes.push('out'),
      changed: () => changes.push('changed'),
    });
    expect(signin.state()).toEqual({ state: 'logged_out' });
    expect(await signin.refresh()).toEqual({ known: true, loggedIn: true, user: 'ann', quota: { exceeded: true } });
    expect(signin.state()).toEqual({ state: 'logged_in', user: 'ann', quotaExceeded: true });
    status = { id: '' };
    await signin.refresh();
    expect(signin.state()).toMatchObject({ state: 'needs_manual', reason: 'needs a person: sign in inside the Lingma app' });
    expect(changes).toEqual(['changed', 'out', 'changed']);
    expect(signin.signedOutError()).toMatchObject({ code: 'login_required', status: 503 });
  });
});
