// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdminClient } from '../../src-renderer/api/client';
import { NodesCard } from '../../src-renderer/screens/Nodes';
import { Overview } from '../../src-renderer/screens/Overview';
import { snapshot } from './fixtures';
import { useDash } from '../../src-renderer/store';
import type { ClusterView } from '../../src-main/core/cluster/view';

function withAnswer(status: number, body: unknown) {
  const calls: string[] = [];
  const fn = vi.fn(async (url: string) => {
    calls.push(url);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  });
  useDash.setState({ client: new AdminClient({ url: 'http://127.0.0.1:8420', token: 'tok-1' }, fn as unknown as typeof fetch), toasts: [] });
  return calls;
}

const VIEW: ClusterView = {
  node: 'node-a',
  nodes: [
    { name: 'node-a', self: true, url: 'http://10.0.0.11:8420', lastSeen: Date.UTC(2026, 0, 1, 12, 0, 0), inFlight: 2, queued: 0, accounts: [{ name: 'alice', inFlight: 3 }], requests: 10, errors: 1, tokens: 500 },
    { name: 'node-b', self: false, url: 'http://10.0.0.12:8420', lastSeen: Date.UTC(2026, 0, 1, 12, 0, 1), inFlight: 1, queued: 0, accounts: [], requests: 5, errors: 0, tokens: 200 },
  ],
  totals: { nodes: 2, inFlight: 3, queued: 0, requests: 15, errors: 1, tokens: 700 },
};

beforeEach(() => useDash.setState({ client: undefined, toasts: [] }));
afterEach(() => cleanup());

describe('NodesCard (team mode)', () => {
  it('lists the nodes, the accounts each runs and the team totals', async () => {
    const calls = withAnswer(200, VIEW);
    render(<NodesCard />);
    await waitFor(() => expect(screen.getByTestId('nodes-card')).toBeTruthy());
    expect(calls[0]).toBe('http://127.0.0.1:8420/admin/cluster');
    expect(screen.getByTestId('nodes-count').textContent).toContain('2');
    expect(screen.getByTestId('nodes-inflight').textContent).toContain('3');
    expect(screen.getByTestId('nodes-requests').textContent).toMatch(/15[\s\S]*1 failed[\s\S]*700 tokens/);
    const a = screen.getByTestId('node-node-a').textContent!;
    expect(a).toContain('(this one)');
    expect(a).toContain('http://10.0.0.11:8420');
    expect(a).toContain('alice (3)');
    expect(screen.getByTestId('node-node-b').textContent).toContain('none');
  });

  it('is not shown when the relay is not in a team (404)', async () => {
    const calls = withAnswer(404, { error: { message: 'Not found', code: 'not_found' } });
    const { container } = render(<NodesCard />);
    await waitFor(() => expect(calls.length).toBe(1));
    await waitFor(() => expect(container.innerHTML).toBe(''));
  });

  it('says so when the team state cannot be read', async () => {
    withAnswer(503, { error: { message: 'The team state in Redis cannot be read now.', code: 'cluster_unavailable' } });
    render(<NodesCard />);
    await waitFor(() => expect(screen.getByTestId('nodes-error').textContent).toMatch(/cannot be read now/));
  });

  it('shows on the Overview only in team mode', async () => {
    const calls = withAnswer(200, VIEW);
    const { unmount } = render(<Overview snap={snapshot()} />);
    expect(screen.queryByTestId('nodes-card')).toBeNull();
    expect(calls).toHaveLength(0);
    unmount();
    render(<Overview snap={snapshot({ team: { node: 'node-a' } })} />);
    await waitFor(() => expect(screen.getByTestId('nodes-table')).toBeTruthy());
  });
});
