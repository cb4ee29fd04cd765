/** Relay nodes of one team for a test: each its own data dir, all on one private Redis. */
import { createLogger } from '../../src-main/core/gateway/logging';
import { validateConfig } from '../../src-main/core/config/validate';
import { createCore, type Relay, type CoreDeps } from '../../src-main/core/relay';
import { FileSecretStore } from '../../src-main/cli/file-secrets';
import { tempDir } from '../helpers/tmp';

export const SECRET = 'team-secret-for-tests-0123456789';

export interface Node {
  name: string;
  relay: Relay;
  url: string;
}

export interface NodeOptions {
  dataDir?: string;
  /** More cluster settings (e.g. leaseSec). */
  cluster?: Record<string, unknown>;
  /** More createCore options (e.g. a spawner, `lingma: 'auto'`). */
  relay?: Partial<CoreDeps>;
}

/** Start a node: `config` is laid over a cluster section pointing at `redisUrl` (undefined: no Redis, e.g. PostgreSQL only). */
export async function startNode(name: string, redisUrl: string | undefined, config: Record<string, unknown>, o: NodeOptions = {}): Promise<Node> {
  const dataDir = o.dataDir ?? tempDir(`relay-${name}-`);
  const cfg = validateConfig({
    ...config,
    cluster: { ...(redisUrl ? { redisUrl } : {}), nodeName: name, secret: SECRET, ...o.cluster },
  });
  const relay = await createCore({
    config: cfg, dataDir, secrets: new FileSecretStore(dataDir), lingma: 'never', processMetrics: false,
    logger: createLogger({ level: process.env.TEST_LOG ? 'debug' : 'silent' }),
    ...o.relay,
  });
  await relay.start();
  const url = await relay.listen({ host: '127.0.0.1', port: 0 });
  return { name, relay, url };
}

export async function chat(url: string, key: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({ model: 'up/m1', messages: [{ role: 'user', content: 'hello' }], ...body }),
    signal,
  });
}

/** Wait for `cond` (checked on each turn of the event loop's timers) or fail naming `what`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
