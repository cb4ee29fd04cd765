/**
 * The gateway under benchmark, as its own process (so its RSS can be measured): the real relay
 * (createRelay) with one OpenAI-compatible provider pointing at the mock upstream. Prints
 * `relay listening on <url> key=<key>` on stdout. Built to plain JS with esbuild by run.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateConfig } from '../../src-main/core/config/validate';
import { createRelay } from '../../src-main/core/relay';
import { FileSecretStore } from '../../src-main/cli/file-secrets';

const upstream = process.env.BENCH_UPSTREAM;
if (!upstream) throw new Error('BENCH_UPSTREAM is required');
const dataDir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
const KEY = 'sk-relay-bench-key-000000000000';

const config = validateConfig({
  server: { apiKeys: [KEY], logLevel: (process.env.BENCH_LOG_LEVEL as 'info') ?? 'info' },
  providers: [{ name: 'mock', type: 'openai', baseUrl: upstream, models: ['m'], maxConcurrency: 1024 }],
  limits: { maxInFlight: 2048, perKeyConcurrency: 2048, perKeyQueue: 4096, queueTimeoutMs: 60000 },
  // BENCH_LEDGER=0 measures the gateway without its usage ledger (to see what the ledger costs).
  ledger: { enabled: process.env.BENCH_LEDGER !== '0' },
});
const relay = await createRelay({ config, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never' });
await relay.start();
const url = await relay.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`relay listening on ${url} key=${KEY}\n`);

const stop = () => {
  relay
    .stop()
    .catch(() => undefined)
    .finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
