// @vitest-environment happy-dom
/**
 * The dashboard's request inspector: the text diff, the JSON body check, the timeline's bars, the
 * detail drawer (capture, ledger row, log lines; capture off), replay with an edited body, and
 * "Test this backend".
 */
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AdminClient } from '../../src-renderer/api/client';
import { BackendTestButton } from '../../src-renderer/components/BackendTest/BackendTestButton';
import { ProvidersCard } from '../../src-renderer/components/BackendTest/ProvidersCard';
import { replayTargets } from '../../src-renderer/components/RequestDetail/Replay';
import { RequestDetail, requestFromHash } from '../../src-renderer/components/RequestDetail/RequestDrawer';
import { Timeline, timelineRows } from '../../src-renderer/components/RequestDetail/Timeline';
import { routeFromHash } from '../../src-renderer/App';
import { diffStats, diffText, diffTokens, sides } from '../../src-renderer/lib/diff';
import { checkJsonBody, lineCol } from '../../src-renderer/lib/json-body';
import { useDash } from '../../src-renderer/store';
import type { Capture, TimelineEvent } from '../../src-main/core/inspector/types';
import type { UsageRow } from '../../src-main/core/admin/api-types';
import { snapshot } from './fixtures';

type Call = { method: string; url: string; body?: unknown };

function fakeFetch(answer: (c: Call) => { status?: number; body?: unknown }) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: string, init: RequestInit = {}) => {
    const c: Call = { method: init.method ?? 'GET', url, body: init.body ? JSON.parse(String(init.body)) : undefined };
    calls.push(c);
    const a = answer(c);
    return new Response(JSON.stringify(a.body ?? {}), { status: a.status ?? 200, headers: { 'content-type': 'application/json' } });
  });
  return { calls, fn: fn as unknown as typeof fetch };
}

const TIMELINE: TimelineEvent[] = [
  { at: 2, kind: 'admitted', waitMs: 0, queues: [] },
  { at: 3, kind: 'resolved', detail: 'coder', targets: ['up/m1', 'up2/m1'] },
  { at: 3, kind: 'attempt', durationMs: 40, waitMs: 10, target: 'up/m1', instance: 'up', outcome: 'failed', reason: 'upstream_error:500', detail: 'Upstream 500' },
  { at: 43, kind: 'switch', from: 'up', to: 'up2', reason: 'upstream_error:500', target: 'up/m1' },
  { at: 44, kind: 'attempt', durationMs: 56, waitMs: 0, target: 'up2/m1', instance: 'up2', outcome: 'first_byte' },
  { at: 100, kind: 'first_byte' },
  { at: 200, kind: 'end', status: 200 },
  { at: 200, kind: 'ledger_queued' },
  { at: 260, kind: 'ledger_written' },
];

function capture(over: Partial<Capture> = {}): Capture {
  return {
    requestId: 'req-1', id: 'u-1', protocol: 'openai-chat', endpoint: '/v1/chat/completions', apiKeyId: 'abc123abc123', requestedModel: 'coder', resolved: 'up2/m1', alias: 'coder',
    provider: 'up2', instance: 'up2', stream: false, status: 200, receivedAt: Date.now() - 5000, ttftMs: 100, totalMs: 200, switches: 1, promptTokens: 12, completionTokens: 5, truncated: false,
    request: { model: 'coder', messages: [{ role: 'user', content: 'say hello' }] },
    response: { text: 'Hello there my friend', reasoning: '', toolCalls: [], finishReason: 'stop', usage: { promptTokens: 12, completionTokens: 5 } },
    upstream: { kind: 'openai', instance: 'up2', body: { model: 'm1', messages: [{ role: 'user', content: 'say hello' }] } },
    timeline: TIMELINE,
    ...over,
  };
}

const ROW: UsageRow = {
  id: 7, label: 'up2/m1', costUsd: 0.0042, requestId: 'req-1', receivedAt: Date.now() - 5000, finishedAt: Date.now() - 4800, apiKeyId: 'abc123abc123', endpoint: '/v1/chat/completions', protocol: 'openai-chat',
  requestedModel: 'coder', alias: 'coder', provider: 'up2', instance: 'up2', model: 'm1', stream: false, status: 200, switches: 1, switchReasons: ['up:upstream_error:500'], sessionReuse: false,
  promptTokens: 12, completionTokens: 5, tokensEstimated: false, ttftMs: 100, totalMs: 200,
};

function useClient(f: ReturnType<typeof fakeFetch>) {
  useDash.setState({ client: new AdminClient({ url: 'http://127.0.0.1:8420', token: 'tok' }, f.fn), toasts: [] });
}

beforeEach(() => {
  useDash.setState({ client: undefined, snap: snapshot({ logs: [
    { time: Date.now(), level: 'warn', msg: 'switching instance', requestId: 'req-1', instance: 'up', fields: { reason: 'upstream_error:500' } },
    { time: Date.now(), level: 'info', msg: 'request', requestId: 'other-request' },
  ] }), finished: [], stale: false, toasts: [] });
});
afterEach(() => cleanup());

describe('diff', () => {
  it('marks the words only in one side, keeps whitespace, and merges runs', () => {
    const parts = diffText('the quick brown fox', 'the slow brown dog');
    expect(parts).toEqual([
      { op: 'same', text: 'the ' }, { op: 'del', text: 'quick' }, { op: 'add', text: 'slow' }, { op: 'same', text: ' brown ' }, { op: 'del', text: 'fox' }, { op: 'add', text: 'dog' },
    ]);
    const { left, right } = sides(parts);
    expect(left.map((p) => p.text).join('')).toBe('the quick brown fox');
    expect(right.map((p) => p.text).join('')).toBe('the slow brown dog');
    expect(diffStats(parts)).toEqual({ same: false, added: 2, removed: 2 });
  });

  it('says the same when the texts are equal, and handles empty sides', () => {
    expect(diffStats(diffText('a b', 'a b')).same).toBe(true);
    expect(diffText('', 'new text')).toEqual([{ op: 'add', text: 'new text' }]);
    expect(diffText('old', '')).toEqual([{ op: 'del', text: 'old' }]);
  });

  it('diffs by line, and falls back to lines then to whole texts when the table is too big', () => {
    expect(diffText('a\nb\nc\n', 'a\nB\nc\n', 'line')).toEqual([{ op: 'same', text: 'a\n' }, { op: 'del', text: 'b\n' }, { op: 'add', text: 'B\n' }, { op: 'same', text: 'c\n' }]);
    expect(diffTokens(['x', 'y'], ['z', 'w'], 4)).toBeNull();
    // Too many words for 30 cells, few enough lines: a line diff.
    expect(diffText('a b c\nz\n', 'd e f\nz\n', 'word', 30)).toEqual([{ op: 'del', text: 'a b c\n' }, { op: 'add', text: 'd e f\n' }, { op: 'same', text: 'z\n' }]);
    expect(diffText('a b c d', 'e f g h', 'word', 2)).toEqual([{ op: 'del', text: 'a b c d' }, { op: 'add', text: 'e f g h' }]);
  });
});

describe('JSON body check', () => {
  it('names the line and column of a syntax error', () => {
    const r = checkJsonBody('{\n  "model": "coder",\n  "messages": [}\n}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.line).toBe(3);
    expect(r.column).toBe(16);
    expect(r.problem).toBe('Not valid JSON at line 3, column 16: expected a value, found \'}\'.');
  });

  it('names the common slips: trailing comma, single quotes, unquoted names, unclosed text, junk after the end', () => {
    const problem = (t: string) => { const r = checkJsonBody(t); return r.ok ? 'ok' : r.problem; };
    expect(problem('{"messages": [1, 2,]}')).toBe('Not valid JSON at line 1, column 20: a comma before ] (trailing commas are not JSON).');
    expect(problem('{"messages": [],}')).toBe('Not valid JSON at line 1, column 17: a comma before } (trailing commas are not JSON).');
    expect(problem("{'messages': []}")).toBe("Not valid JSON at line 1, column 2: expected a property name in double quotes, found '''.");
    expect(problem('{messages: []}')).toBe("Not valid JSON at line 1, column 2: expected a property name in double quotes, found 'm'.");
    expect(problem('{"messages": ["hi}')).toBe('Not valid JSON at line 1, column 19: a text value is not closed with ".');
    expect(problem('{"messages": []} x')).toBe("Not valid JSON at line 1, column 18: unexpected 'x' after the end of the JSON value.");
    expect(problem('{"messages": [')).toBe('Not valid JSON at line 1, column 15: expected a value, found the end of the text.');
  });

  it('names a wrong shape in plain words', () => {
    expect(checkJsonBody('')).toMatchObject({ ok: false, problem: expect.stringMatching(/empty/) });
    expect(checkJsonBody('[1]')).toMatchObject({ ok: false, problem: 'The body must be a JSON object ({ … }), not a list.' });
    expect(checkJsonBody('{"model": 5, "messages": []}')).toMatchObject({ ok: false, problem: '"model" must be a model name (text), not number.' });
    expect(checkJsonBody('{"messages": "hi"}')).toMatchObject({ ok: false, problem: expect.stringMatching(/"messages" must be a list/) });
    expect(checkJsonBody('{"messages": [], "stream": "yes"}')).toMatchObject({ ok: false, problem: expect.stringMatching(/"stream" must be true or false/) });
    expect(checkJsonBody('{"model": "x"}')).toMatchObject({ ok: false, problem: expect.stringMatching(/neither "messages" nor "input"/) });
    expect(checkJsonBody('{"model": "x", "messages": []}')).toEqual({ ok: true, value: { model: 'x', messages: [] } });
    expect(lineCol('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});

describe('timeline', () => {
  it('turns events into rows with words: queue, alias, attempts with their reasons, switch, ledger', () => {
    const rows = timelineRows(TIMELINE);
    expect(rows.map((r) => r.label)).toEqual(['Admitted', 'Alias resolved', 'Attempt up', 'Switched', 'Attempt up2', 'First byte', 'End', 'Ledger queued', 'Ledger written']);
    expect(rows[2]).toMatchObject({ from: 3, to: 43, waitMs: 10, tone: 'bad', mark: false });
    expect(rows[2].detail).toContain('upstream_error:500');
    expect(rows[3].detail).toBe('up → up2: upstream_error:500');
    expect(rows[4]).toMatchObject({ from: 44, to: 100, tone: 'ok' });
    expect(timelineRows([{ at: 30, kind: 'admitted', waitMs: 25, queues: ['key', 'global'] }])[0]).toMatchObject({ from: 5, to: 30, mark: false, detail: 'after 25 ms in the key and global queue' });
  });

  it('draws one bar per attempt on one scale from arrival, and marks for points', () => {
    render(<Timeline events={TIMELINE} totalMs={200} />);
    const bars = screen.getAllByTestId('timeline-bar');
    // Two attempts and the whole request (end).
    expect(bars).toHaveLength(3);
    // Scale: the last event (260 ms) is the right edge (1000).
    const first = bars[0];
    expect(Number(first.getAttribute('x'))).toBeCloseTo((13 / 260) * 1000, 0); // after its 10 ms wait
    expect(Number(first.getAttribute('width'))).toBeCloseTo((30 / 260) * 1000, 0);
    expect(screen.getAllByTestId('timeline-mark').length).toBe(6);
    expect(screen.getByTestId('timeline').textContent).toContain('Ledger written');
  });
});

describe('request detail drawer', () => {
  it('shows the story, the answer, the upstream request, the ledger row and the request\'s log lines', async () => {
    const f = fakeFetch((c) => {
      if (c.url.includes('/admin/requests/req-1')) return { body: capture() };
      if (c.url.includes('/admin/usage/recent')) return { body: { rows: [ROW], nextBefore: null } };
      return { status: 404, body: {} };
    });
    useClient(f);
    render(<RequestDetail id="req-1" screen="live" onClose={() => undefined} />);
    await screen.findByTestId('timeline');
    expect(f.calls.map((c) => c.url)).toEqual(expect.arrayContaining(['http://127.0.0.1:8420/admin/requests/req-1', 'http://127.0.0.1:8420/admin/usage/recent?requestId=req-1&limit=1']));
    expect(screen.getByTestId('rd-summary').textContent).toContain('coder → up2/m1');
    expect(screen.getByText(/Switch reasons/).textContent).toContain('up:upstream_error:500');
    fireEvent.click(screen.getByTestId('rd-tab-response'));
    expect(screen.getByTestId('rd-answer').textContent).toBe('Hello there my friend');
    fireEvent.click(screen.getByTestId('rd-tab-upstream'));
    expect(screen.getByTestId('rd-upstream').textContent).toContain('"model": "m1"');
    fireEvent.click(screen.getByTestId('rd-tab-request'));
    expect(screen.getByTestId('rd-request').textContent).toContain('say hello');
    fireEvent.click(screen.getByTestId('rd-tab-usage'));
    const ledger = screen.getByTestId('rd-ledger').textContent!;
    expect(ledger).toContain('#7');
    expect(ledger).toContain('$0.0042');
    expect(ledger).toContain('1: up:upstream_error:500');
    fireEvent.click(screen.getByTestId('rd-tab-logs'));
    const logs = screen.getByTestId('rd-logs').textContent!;
    expect(logs).toContain('switching instance');
    expect(logs).not.toContain('other-request');
  });

  it('says plainly when the inspector has no capture, and still shows the ledger row', async () => {
    const f = fakeFetch((c) => {
      if (c.url.includes('/admin/requests/')) return { status: 404, body: { error: { message: "No captured request 'gone-1': the inspector is off (inspector.enabled: false).", code: 'request_not_found' } } };
      return { body: { rows: [{ ...ROW, requestId: 'gone-1' }], nextBefore: null } };
    });
    useClient(f);
    render(<RequestDetail id="gone-1" screen="usage" onClose={() => undefined} />);
    const missing = await screen.findByTestId('rd-missing');
    expect(missing.textContent).toContain('the inspector is off');
    expect(screen.queryByTestId('rd-tab-replay')).toBeNull();
    expect(screen.getByTestId('rd-ledger').textContent).toContain('#7');
  });

  it('replays an edited body: a bad edit is named and blocks sending; a good one is sent and diffed', async () => {
    const replayCapture = capture({ requestId: 'replay-9', id: 'u-9', replayOf: 'req-1', response: { text: 'Hello there my dear friend', reasoning: '', toolCalls: [] } });
    const f = fakeFetch((c) => {
      if (c.method === 'POST' && c.url.endsWith('/admin/requests/req-1/replay')) return { body: { requestId: 'replay-9', replayOf: 'req-1', status: 200, capture: replayCapture } };
      if (c.url.includes('/admin/requests/req-1')) return { body: capture() };
      return { body: { rows: [], nextBefore: null } };
    });
    useClient(f);
    render(<RequestDetail id="req-1" screen="live" onClose={() => undefined} />);
    fireEvent.click(await screen.findByTestId('rd-tab-replay'));
    const editor = screen.getByTestId('rd-editor') as HTMLTextAreaElement;
    expect(JSON.parse(editor.value)).toEqual(capture().request);
    fireEvent.change(editor, { target: { value: '{"model": "coder", "messages": [' } });
    expect(screen.getByTestId('rd-json-msg').textContent).toMatch(/^Not valid JSON at line 1, column \d+/);
    expect((screen.getByTestId('rd-send') as HTMLButtonElement).disabled).toBe(true);
    const edited = { model: 'coder', messages: [{ role: 'user', content: 'say hello warmly' }] };
    fireEvent.change(editor, { target: { value: JSON.stringify(edited) } });
    expect(screen.getByTestId('rd-json-msg').textContent).toBe('Valid JSON.');
    fireEvent.change(screen.getByTestId('rd-target'), { target: { value: 'lingma/qwen3-coder' } });
    await act(async () => { fireEvent.click(screen.getByTestId('rd-send')); });
    await screen.findByTestId('rd-compare');
    const post = f.calls.find((c) => c.method === 'POST')!;
    expect(post.body).toEqual({ body: edited, model: 'lingma/qwen3-coder' });
    expect(screen.getByTestId('rd-replay-link').querySelector('a')!.getAttribute('href')).toBe('#/live/requests/replay-9');
    expect(screen.getByTestId('rd-diff-stats').textContent).toBe('0 words only in the original, 1 only in the replay.');
    const marks = screen.getByTestId('rd-diff-right').querySelectorAll('mark');
    expect([...marks].map((m) => [m.className, m.textContent])).toEqual([['diff-add', 'dear ']]);
    expect(screen.getByTestId('rd-diff-left').textContent).toBe('Hello there my friend');
  });

  it('a replay shows its original side by side and links back', async () => {
    const f = fakeFetch((c) => {
      if (c.url.endsWith('/admin/requests/replay-9')) return { body: capture({ requestId: 'replay-9', replayOf: 'req-1', response: { text: 'Bye', reasoning: '', toolCalls: [] } }) };
      if (c.url.endsWith('/admin/requests/req-1')) return { body: capture() };
      return { body: { rows: [], nextBefore: null } };
    });
    useClient(f);
    render(<RequestDetail id="replay-9" screen="live" onClose={() => undefined} />);
    await screen.findByTestId('timeline');
    expect(screen.getByRole('link', { name: 'req-1' }).getAttribute('href')).toBe('#/live/requests/req-1');
    fireEvent.click(screen.getByTestId('rd-tab-compare'));
    expect(screen.getByTestId('rd-diff-left').textContent).toBe('Hello there my friend');
    expect(screen.getByTestId('rd-diff-right').textContent).toBe('Bye');
  });

  it('reads its hash: linkable over Live or Usage; #/requests/<id> opens over Live', () => {
    expect(requestFromHash('#/live/requests/abc%2F1')).toEqual({ screen: 'live', id: 'abc/1' });
    expect(requestFromHash('#/usage/requests/r-2')).toEqual({ screen: 'usage', id: 'r-2' });
    expect(requestFromHash('#/requests/r-3')).toEqual({ screen: 'live', id: 'r-3' });
    expect(requestFromHash('#/live')).toBeUndefined();
    expect(routeFromHash('#/requests/r-3')).toBe('live');
    expect(routeFromHash('#/usage/requests/r-3')).toBe('usage');
    expect(replayTargets([{ name: 'coder', pattern: false }, { name: 'gpt-*', pattern: true }], [{ models: ['up/m1', 'coder'] }])).toEqual(['coder', 'up/m1']);
  });
});

describe('Test this backend', () => {
  it('shows time to first token and the answer', async () => {
    const f = fakeFetch(() => ({ body: { ok: true, instance: 'up', model: 'm1', ttftMs: 120, totalMs: 300, answer: 'pong' } }));
    useClient(f);
    render(<BackendTestButton kind="instance" name="up" />);
    await act(async () => { fireEvent.click(screen.getByTestId('test-backend-up')); });
    const out = await screen.findByTestId('test-result-up');
    expect(out.textContent).toContain('up answered with m1: first token after 120 ms, done in 300 ms.');
    expect(screen.getByTestId('test-answer').textContent).toBe('pong');
    expect(f.calls[0]).toMatchObject({ method: 'POST', url: 'http://127.0.0.1:8420/admin/instances/up/test', body: {} });
  });

  it('says what went wrong in plain words, for a provider too', async () => {
    const f = fakeFetch(() => ({ body: { ok: false, instance: 'up', model: 'm1', totalMs: 30, error: 'The upstream refused the API key (401).', errorCode: 'upstream_auth' } }));
    useClient(f);
    render(<ProvidersCard snap={snapshot({ providers: [{ name: 'up', kind: 'openai', models: ['up/m1'] }] })} />);
    await act(async () => { fireEvent.click(screen.getByTestId('test-backend-up')); });
    const out = await screen.findByTestId('test-result-up');
    expect(out.textContent).toContain('up did not answer with m1: The upstream refused the API key (401).');
    expect(f.calls[0].url).toBe('http://127.0.0.1:8420/admin/providers/up/test');
  });

  it('an admin API refusal is shown too', async () => {
    const f = fakeFetch(() => ({ status: 404, body: { error: { message: "No provider named 'zz'." } } }));
    useClient(f);
    render(<BackendTestButton kind="provider" name="zz" />);
    await act(async () => { fireEvent.click(screen.getByTestId('test-backend-zz')); });
    await waitFor(() => expect(screen.getByTestId('test-result-zz').textContent).toContain("The test could not run: No provider named 'zz'."));
  });
});
