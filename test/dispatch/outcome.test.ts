/** Usage decided once (UsageMeter), and the outcome's observers. */
import { describe, expect, it } from 'vitest';
import type { ChatEvent } from '../../src-main/core/chat/model';
import { estimatePromptTokens, estimateTokens } from '../../src-main/core/chat/tokens';
import { notify, UsageMeter, type RequestObserver } from '../../src-main/core/dispatch/outcome';

const feed = (m: UsageMeter, evs: ChatEvent[]): ChatEvent[] => evs.filter((e) => m.observe(e));

describe('UsageMeter', () => {
  it('takes real figures from the backend as they are, and swallows the backend usage event', () => {
    const m = new UsageMeter(() => 50);
    const passed = feed(m, [
      { type: 'text', text: 'hello' },
      { type: 'usage', usage: { promptTokens: 11, completionTokens: 22, cachedTokens: 3, estimated: false } },
      { type: 'finish', reason: 'stop' },
    ]);
    expect(passed.map((e) => e.type)).toEqual(['text', 'finish']);
    expect(m.decide()).toEqual({ promptTokens: 11, completionTokens: 22, cachedTokens: 3, estimated: false });
  });

  it("replaces a backend's own estimate by the one estimate (the announced prompt figure and the output seen)", () => {
    const req = { messages: [{ role: 'system' as const, content: [{ type: 'text' as const, text: 'You are terse.' }] }, { role: 'user' as const, content: [{ type: 'text' as const, text: 'Say hi.' }] }] };
    const m = new UsageMeter(() => estimatePromptTokens(req));
    feed(m, [
      { type: 'reasoning', text: 'abcdefgh' },
      { type: 'text', text: 'x'.repeat(40) },
      { type: 'tool_call', index: 0, id: 'c', name: 'run', argumentsDelta: '{}' },
      // Lingma-like: an estimate over its rendered prompt, with a reused share.
      { type: 'usage', usage: { promptTokens: 16, completionTokens: 9, cachedTokens: 400, estimated: true } },
    ]);
    // The prompt estimate, and the output seen (text, the tool call's name and arguments, and the
    // reasoning) counted once; the backend's reused share is kept within the prompt.
    const prompt = estimatePromptTokens(req);
    expect(prompt).toBeGreaterThan(estimateTokens('You are terse.Say hi.')); // + per-message overhead
    expect(m.decide()).toEqual({
      promptTokens: prompt,
      completionTokens: estimateTokens('x'.repeat(40) + 'run{}' + 'abcdefgh'),
      reasoningTokens: estimateTokens('abcdefgh'),
      cachedTokens: prompt,
      estimated: true,
    });
  });

  it('estimates the prompt only when something needs it, and then once', () => {
    let calls = 0;
    const real = new UsageMeter(() => (calls++, 40));
    feed(real, [{ type: 'text', text: 'hi' }, { type: 'usage', usage: { promptTokens: 3, completionTokens: 1, estimated: false } }]);
    real.decide();
    expect(calls).toBe(0); // real figures: no estimate made (and no tokenizer loaded for it)
    const est = new UsageMeter(() => (calls++, 40));
    expect(est.promptEstimate).toBe(40); // e.g. Anthropic's message_start
    feed(est, [{ type: 'text', text: 'abcd' }]);
    expect(est.decide().promptTokens).toBe(40);
    expect(calls).toBe(1);
  });

  it('decides once: a figure arriving after the decision changes nothing', () => {
    const m = new UsageMeter(() => 5);
    feed(m, [{ type: 'text', text: 'abcd' }]);
    const first = m.decide();
    expect(first).toEqual({ promptTokens: 5, completionTokens: 1, estimated: true });
    feed(m, [{ type: 'usage', usage: { promptTokens: 99, completionTokens: 99, estimated: false } }]);
    expect(m.decide()).toBe(first);
    expect(m.isDecided).toBe(true);
  });
});

describe('notify', () => {
  it('an observer that throws does not keep the others from hearing', () => {
    const heard: string[] = [];
    const errs: string[] = [];
    const observers: RequestObserver[] = [
      { started: () => { throw new Error('broken observer'); } },
      { started: (r) => heard.push(r.requestId) },
      {},
    ];
    const start = { id: 'u', requestId: 'r1', protocol: 'anthropic' as const, endpoint: '/v1/messages', apiKeyId: 'k', requestedModel: 'm', stream: true, receivedAt: 0 };
    notify(observers, 'started', start, (e) => errs.push((e as Error).message));
    expect(heard).toEqual(['r1']);
    expect(errs).toEqual(['broken observer']);
  });
});
