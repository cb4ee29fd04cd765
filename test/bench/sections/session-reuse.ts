/**
 * Session-reuse benchmark: a 20-turn conversation through a Lingma instance over the simulator,
 * once with session reuse and once with full replay; the simulator counts the prompt bytes it
 * received. Target: with reuse, at most 15 % of the bytes of full replay.
 * Run alone: `npx tsx test/bench/sections/session-reuse.ts` (SESSION_BENCH_TURNS overrides 20).
 */
import type { ChatMessage } from '../../../src-main/core/chat/model';
import { assistant, chatReq, ctx, makeProvider, readyInstance, sim, system, user } from '../../lingma/helpers';

const TARGET = 0.15;

async function conversation(reuse: boolean, turns: number): Promise<{ bytes: number; asks: number; replies: number; ms: number; ttftMs: number[] }> {
  const h = makeProvider({
    lingma: { accounts: [{ username: 'bench', name: 'bench' }] },
    extra: { sessionCache: { enabled: reuse, maxEntries: 1024, ttlSec: 3600 } },
    env: { LINGMA_SIM_LOGGED_IN_AS: 'bench' },
  });
  try {
    const inst = await readyInstance(h);
    await sim(inst, { reset: true, reply: { mode: 'fixed', text: 'Here is a short, plausible answer to this step of the plan, about one paragraph long. It names the files to touch and the order to do it in.', deltas: 6 } });
    const convo: ChatMessage[] = [system('You are a careful senior engineer. Answer briefly and precisely; prefer code over prose.')];
    const ttftMs: number[] = [];
    const t0 = performance.now();
    for (let turn = 1; turn <= turns; turn++) {
      convo.push(user(`Turn ${turn}: explain step ${turn} of the refactoring plan for the payment module, and what could break.`));
      const start = performance.now();
      let first = 0;
      let text = '';
      for await (const e of inst.chat(chatReq(convo), ctx({ apiKeyId: 'bench' }))) {
        if (e.type !== 'text') continue;
        if (!first) first = performance.now();
        text += e.text;
      }
      ttftMs.push(Math.round((first - start) * 10) / 10);
      convo.push(assistant(text));
    }
    const ms = Math.round(performance.now() - t0);
    const s = await sim(inst);
    return { bytes: s.asks.reduce((n, a) => n + a.promptBytes, 0), asks: s.asks.length, replies: s.asks.filter((a) => a.isReply).length, ms, ttftMs };
  } finally {
    await h.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function run(): Promise<{ name: string; rows: Array<Record<string, string | number>>; json: unknown }> {
  const turns = Number(process.env.SESSION_BENCH_TURNS ?? 20);
  const withReuse = await conversation(true, turns);
  const replay = await conversation(false, turns);
  const ratio = replay.bytes ? withReuse.bytes / replay.bytes : 0;
  const rows = [
    { run: 'session reuse', turns, 'prompt bytes sent': withReuse.bytes, 'turns sent as reply': withReuse.replies, 'median ttft ms': median(withReuse.ttftMs), 'total ms': withReuse.ms },
    { run: 'full replay', turns, 'prompt bytes sent': replay.bytes, 'turns sent as reply': replay.replies, 'median ttft ms': median(replay.ttftMs), 'total ms': replay.ms },
    { run: 'reuse / replay', turns, 'prompt bytes sent': `${(ratio * 100).toFixed(1)} %`, 'turns sent as reply': `target ≤ ${TARGET * 100} %`, 'median ttft ms': ratio <= TARGET ? 'ok' : 'MISSED', 'total ms': '-' },
  ];
  return { name: 'session-reuse', rows, json: { turns, reuseBytes: withReuse.bytes, replayBytes: replay.bytes, ratio, target: TARGET, ok: ratio <= TARGET, withReuse, replay } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then(
    (r) => {
      console.table(r.rows);
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
