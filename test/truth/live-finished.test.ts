/**
 * The live tracker keeps the last few finished requests for a fresh dashboard (Live after a
 * reload): newest first, at most RECENT_FINISHED, none older than RECENT_FINISHED_MS; a broken
 * stream among them keeps its status and error code and counts as an error in the per-second figures.
 */
import { describe, expect, it } from 'vitest';
import { LiveTracker, RECENT_FINISHED, RECENT_FINISHED_MS } from '../../src-main/core/admin/live';
import { EventHub, type LiveRequest } from '../../src-main/core/events';

const req = (i: number, over: Partial<LiveRequest> = {}): LiveRequest => ({
  id: `id-${i}`, requestId: `req-${i}`, protocol: 'openai-chat', endpoint: '/v1/chat/completions', model: 'm', stream: true, apiKeyId: 'k', startedAt: 0, ...over,
});

describe('LiveTracker: recently finished', () => {
  it('bounded by count and age, newest first, with the broken stream as it ended', () => {
    let now = 1_000_000;
    const hub = new EventHub();
    const t = new LiveTracker(hub, { now: () => now });
    hub.emit('requestStart', req(0));
    hub.emit('requestEnd', req(0, { finishedAt: now, status: 200, errorCode: 'upstream_error' }));
    expect(t.recentFinished()).toEqual([expect.objectContaining({ id: 'id-0', status: 200, errorCode: 'upstream_error' })]);
    expect(t.tick(0, 0)).toMatchObject({ rps: 1, errors: 1 });

    for (let i = 1; i <= RECENT_FINISHED + 5; i++) {
      now += 10;
      hub.emit('requestEnd', req(i, { finishedAt: now, status: 200 }));
    }
    const list = t.recentFinished();
    expect(list).toHaveLength(RECENT_FINISHED);
    expect(list[0].id).toBe(`id-${RECENT_FINISHED + 5}`);
    expect(list.map((r) => r.finishedAt)).toEqual([...list.map((r) => r.finishedAt)].sort((a, b) => b! - a!));
    // Minutes later, nothing is "recent" any more.
    now += RECENT_FINISHED_MS + 1;
    expect(t.recentFinished()).toEqual([]);
    t.close();
  });
});
