/**
 * A traced answer keeps at most the inspector's `answerChars()` of each string while it streams
 * (issue 14: a long answer is not held whole for the inspector), and the capture of a capped
 * answer is the same as that of the whole one: cut at `maxBodyBytes` with the marker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ChatFold } from '../../src-main/core/chat/collect';
import { RequestTrace } from '../../src-main/core/dispatch/trace';
import type { RequestOutcome } from '../../src-main/core/dispatch/outcome';
import { createInspector, type InspectorConfig } from '../../src-main/core/inspector/index';
import { TRUNCATED } from '../../src-main/core/inspector/capture';
import { cleanupTempDirs, tempDir } from '../helpers/tmp';

afterEach(() => cleanupTempDirs());

const cfg = (over: Partial<InspectorConfig> = {}): InspectorConfig => ({
  enabled: true, maxEntries: 200, maxBytes: 32 * 1024 * 1024, maxBodyBytes: 2048, persist: false, retentionDays: 3, maxDbBytes: 256 * 1024 * 1024, ...over,
});

function traced(chars: number, pieces: number, piece: string): RequestTrace {
  const t = new RequestTrace(0, () => 5, { model: 'm' }, chars);
  for (let i = 0; i < pieces; i++) {
    t.observe({ type: 'reasoning', text: piece });
    t.observe({ type: 'text', text: piece });
    t.observe({ type: 'tool_call', index: 0, id: 'c1', name: 'f', argumentsDelta: piece });
  }
  t.observe({ type: 'finish', reason: 'stop' });
  return t;
}

const outcome = (id: string, t: RequestTrace): RequestOutcome => ({
  id, requestId: id, protocol: 'openai-chat', endpoint: '/v1/chat/completions', apiKeyId: 'k1', requestedModel: 'm',
  stream: true, receivedAt: 0, finishedAt: 5, status: 200, switches: [], sessionReuse: false, trace: t.data(),
});

describe('answer cap of a trace', () => {
  it('a fold with maxChars keeps the first maxChars of text, reasoning and arguments, and says it cut', () => {
    const f = new ChatFold(10);
    for (const s of ['abcd', 'efgh', 'ijkl']) {
      f.push({ type: 'text', text: s });
      f.push({ type: 'reasoning', text: s });
      f.push({ type: 'tool_call', index: 0, id: 'c', name: 'n', argumentsDelta: s });
    }
    const r = f.result();
    expect(r.text).toBe('abcdefghij');
    expect(r.reasoning).toBe('abcdefghij');
    expect(r.toolCalls[0].arguments).toBe('abcdefghij');
    expect(f.cut).toBe(true);
    const whole = new ChatFold();
    whole.push({ type: 'text', text: 'x'.repeat(100_000) });
    expect(whole.result().text.length).toBe(100_000);
    expect(whole.cut).toBe(false);
  });

  it('the inspector tells the trace its bound, and a capped answer captures like the whole one', () => {
    const ins = createInspector({ config: () => cfg(), dataDir: tempDir(), secrets: () => ['sk-secret-0123456789'] });
    const limit = ins.answerChars();
    expect(limit).toBeGreaterThanOrEqual(2048);
    expect(limit).toBeLessThan(2048 + 8192);
    // 200 pieces of 1 KB: 200 KB each, far over the bound; a secret inside the kept part is masked.
    const piece = `sk-secret-0123456789 ${'z'.repeat(1003)}`;
    const capped = traced(limit, 200, piece);
    const answer = capped.data().answer!;
    expect(answer.text.length).toBe(limit);
    expect(answer.reasoning.length).toBe(limit);
    expect(answer.toolCalls[0].arguments.length).toBe(limit);
    ins.observer.finished!(outcome('capped', capped));
    ins.observer.finished!(outcome('whole', traced(Infinity, 200, piece)));
    const a = ins.get('capped')!;
    const b = ins.get('whole')!;
    expect(a.truncated).toBe(true);
    expect(JSON.stringify(a.response)).toContain(TRUNCATED);
    expect(JSON.stringify(a.response)).not.toContain('sk-secret-0123456789');
    expect(a.response).toEqual(b.response);
  });

  it('the ring counts a string beyond Latin-1 at two bytes a character (what V8 keeps)', () => {
    const kept = (text: string): number => {
      const ins = createInspector({ config: () => cfg({ maxBytes: 65_536, maxBodyBytes: 256 * 1024 }), dataDir: tempDir(), secrets: () => [] });
      for (let i = 0; i < 40; i++) {
        const t = new RequestTrace(0, () => 5, { model: 'm' }, ins.answerChars());
        t.observe({ type: 'text', text });
        t.observe({ type: 'finish', reason: 'stop' });
        ins.observer.finished!(outcome(`r${i}`, t));
      }
      return ins.list({ limit: 500 }).length;
    };
    const latin = kept('x'.repeat(4000));
    const wide = kept('中'.repeat(4000));
    expect(latin).toBeGreaterThanOrEqual(14);
    expect(wide).toBeLessThanOrEqual(Math.ceil(latin / 2) + 1);
  });
});

describe('the inspector memory bound covers the answers in flight', () => {
  it('answers streaming side by side share maxBytes with the ring: the oldest captures go first, then the answers are cut', () => {
    const maxBytes = 256 * 1024;
    const ins = createInspector({ config: () => cfg({ maxBytes, maxBodyBytes: 64 * 1024 }), dataDir: tempDir(), secrets: () => [] });
    const limit = ins.answerChars();
    // The ring holds finished captures first (~30 KB each).
    for (let i = 0; i < 4; i++) ins.observer.finished!(outcome(`old-${i}`, traced(limit, 10, 'o'.repeat(1000))));
    expect(ins.get('old-0')).toBeDefined();
    // Eight answers stream at once, each up to `limit` characters: far more than maxBytes together.
    const live = Array.from({ length: 8 }, () => new RequestTrace(0, () => 5, { model: 'm' }, limit, ins.allowance));
    for (let round = 0; round < 80; round++) for (const t of live) t.observe({ type: 'text', text: 'y'.repeat(1024) });
    const kept = live.map((t) => t.data().answer!.text.length);
    // Together exactly the bound (the ring gave up all its room), each cut below the 68 KB it could keep alone.
    expect(kept.reduce((a, b) => a + b, 0)).toBe(maxBytes);
    for (const k of kept) expect(k).toBe(maxBytes / 8);
    // Their captures say they were cut.
    ins.observer.finished!(outcome('cut-0', live[0]));
    expect(ins.get('cut-0')!.truncated).toBe(true);
    // Room was made by dropping the oldest captures.
    expect(ins.get('old-0')).toBeUndefined();
    // Given back once their requests ended (`data()`): a new answer gets its whole share again.
    const next = new RequestTrace(0, () => 5, { model: 'm' }, limit, ins.allowance);
    for (let i = 0; i < 60; i++) next.observe({ type: 'text', text: 'z'.repeat(1024) });
    expect(next.data().answer!.text.length).toBe(Math.min(limit, 60 * 1024));
    expect(ins.allowance.take(maxBytes)).toBe(maxBytes);
  });

  it('a trace without an allowance keeps its answer up to answerChars, as before', () => {
    const t = new RequestTrace(0, () => 5, { model: 'm' }, 5000);
    for (let i = 0; i < 10; i++) t.observe({ type: 'text', text: 'q'.repeat(1000) });
    expect(t.data().answer!.text.length).toBe(5000);
  });
});
