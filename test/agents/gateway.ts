/**
 * The gateway the agent CLIs talk to in `test/agents/run.sh`: the whole relay as the hosts run it
 * (`createCore`: dispatcher, routing, ledger, the Anthropic and Responses front ends) over two
 * fake OpenAI-compatible upstreams that answer with a fixed marker sentence, so the CLI's output
 * proves the answer came through the gateway:
 * - `fake` (native tools), reached by `claude-*` and `gpt-*` model names;
 * - `plain` (text only, like Lingma), reached by the alias `emu` with `toolEmulation: true`.
 *
 * `E2E_SCRIPT` / `E2E_PLAIN_SCRIPT` (JSON arrays of FakeFault) script the first answers of each
 * upstream, e.g. a tool call. Prints `READY <base url> <api key>` when listening; on
 * SIGTERM/SIGINT prints `STATS <json>` (what reached the upstreams) and exits 0.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { createCore } from '../../src-main/core/relay';
import { startFakeOpenAI, type FakeFault } from '../fakes/openai-upstream';

export const MARKER = 'RELAY-E2E-OK: hello from Lingma Relay';
const KEY = 'sk-relay-agents-e2e-0001';

const textOf = (m: any): string => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''));

async function main(): Promise<void> {
  const fake = await startFakeOpenAI({ models: ['fake-model'], reply: MARKER, chunks: 3 });
  const plain = await startFakeOpenAI({ models: ['plain-model'], reply: MARKER, chunks: 3 });
  if (process.env.E2E_SCRIPT) fake.enqueue(...(JSON.parse(process.env.E2E_SCRIPT) as FakeFault[]));
  if (process.env.E2E_PLAIN_SCRIPT) plain.enqueue(...(JSON.parse(process.env.E2E_PLAIN_SCRIPT) as FakeFault[]));

  const dataDir = mkdtempSync(join(tmpdir(), 'relay-agents-'));
  const config = validateConfig({
    server: { apiKeys: [KEY], logLevel: process.env.TEST_LOG ? 'debug' : 'warn' },
    providers: [
      { name: 'fake', type: 'openai', baseUrl: fake.url, models: ['fake-model'] },
      { name: 'plain', type: 'openai', baseUrl: plain.url, models: ['plain-model'], tools: false, images: false },
    ],
    aliases: {
      'claude-*': { chain: ['fake/fake-model'] },
      'gpt-*': { chain: ['fake/fake-model'] },
      emu: { chain: [{ target: 'plain/plain-model', options: { toolEmulation: true } }] },
    },
  });
  const relay = await createCore({
    config,
    dataDir,
    secrets: new FileSecretStore(dataDir),
    lingma: 'never',
    processMetrics: false,
    logger: createLogger({ level: process.env.TEST_LOG ? 'debug' : 'warn' }),
  });
  await relay.start();
  const url = await relay.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`READY ${url} ${KEY}\n`);

  const stop = async () => {
    const plainTexts = plain.requests.flatMap((r) => (r.messages ?? []).map(textOf));
    const stats = {
      upstreamRequests: fake.requests.length,
      models: [...new Set(fake.requests.map((r) => r.model))],
      withTools: fake.requests.filter((r) => Array.isArray(r.tools) && r.tools.length > 0).length,
      streamed: fake.requests.filter((r) => r.stream).length,
      toolNames: (fake.requests.find((r) => Array.isArray(r.tools))?.tools ?? []).map((t: any) => t.function?.name),
      toolOutputs: fake.requests.flatMap((r) => (r.messages ?? []).filter((m: any) => m.role === 'tool').map((m: any) => textOf(m).slice(0, 300))),
      plainRequests: plain.requests.length,
      plainWithTools: plain.requests.filter((r) => r.tools !== undefined).length,
      // Tool results rendered as text by the emulation step (what the text-only backend saw).
      plainToolResults: plainTexts.flatMap((t: string) => [...t.matchAll(/<tool_result name=[\s\S]{0,300}/g)].map((m) => m[0])),
    };
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
    await relay.stop();
    await fake.close();
    await plain.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((e) => {
  process.stderr.write(`gateway failed to start: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
