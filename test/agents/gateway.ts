/**
 * The gateway the agent CLIs talk to in `test/agents/run.sh`: the real gateway (dispatcher,
 * routing, Anthropic and Responses front ends) over a fake OpenAI-compatible upstream that
 * answers every request with a fixed marker sentence, so the CLI's output proves the answer came
 * through the gateway.
 *
 * `E2E_SCRIPT` (JSON array of FakeFault) scripts the upstream's first answers, e.g. a tool call.
 * Prints `READY <base url> <api key>` when listening; on SIGTERM/SIGINT prints `STATS <json>`
 * (what reached the upstream) and exits 0.
 */
import type { FakeFault } from '../fakes/openai-upstream';
import { KEY, startHarness } from '../frontends/harness';

export const MARKER = 'RELAY-E2E-OK: hello from Lingma Relay';

async function main(): Promise<void> {
  const h = await startHarness({ fake: { reply: MARKER, chunks: 3 }, plain: { reply: MARKER, chunks: 3 } });
  // E2E_SCRIPT: a JSON array of faults for the upstream's next requests (e.g. tool calls).
  if (process.env.E2E_SCRIPT) h.fake.enqueue(...(JSON.parse(process.env.E2E_SCRIPT) as FakeFault[]));
  // E2E_PLAIN_SCRIPT: the same for the text-only upstream behind the `emu` alias (tool emulation).
  if (process.env.E2E_PLAIN_SCRIPT) h.plain.enqueue(...(JSON.parse(process.env.E2E_PLAIN_SCRIPT) as FakeFault[]));
  process.stdout.write(`READY ${h.url} ${KEY}\n`);
  const stop = async () => {
    const plainTexts = h.plain.requests.flatMap((r) => (r.messages ?? []).map((m: any) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))));
    const stats = {
      plainRequests: h.plain.requests.length,
      plainWithTools: h.plain.requests.filter((r) => r.tools !== undefined).length,
      // Tool results rendered as text by the emulation step (what the text-only backend saw).
      plainToolResults: plainTexts.flatMap((t: string) => [...t.matchAll(/<tool_result name=[\s\S]{0,300}/g)].map((m) => m[0])),
      upstreamRequests: h.fake.requests.length,
      models: [...new Set(h.fake.requests.map((r) => r.model))],
      withTools: h.fake.requests.filter((r) => Array.isArray(r.tools) && r.tools.length > 0).length,
      streamed: h.fake.requests.filter((r) => r.stream).length,
      toolNames: (h.fake.requests.find((r) => Array.isArray(r.tools))?.tools ?? []).map((t: any) => t.function?.name),
      toolOutputs: h.fake.requests.flatMap((r) =>
        (r.messages ?? []).filter((m: any) => m.role === 'tool').map((m: any) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)).slice(0, 300)),
      ),
    };
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
    await h.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((e) => {
  process.stderr.write(`gateway failed to start: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
