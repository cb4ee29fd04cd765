/**
 * One team node in a child process, so a test can kill it (SIGKILL: no lease given back, no
 * process stopped). Options as JSON in TEAM_NODE: { name, redisUrl, dataDir, config, cluster, sim }.
 * Prints `ready <url>` once its Lingma account (if any) is ready, then runs until killed.
 */
import type { LingmaProvider } from '../../src-main/core/backends/lingma/provider';
import { simSpawner } from '../lingma/helpers';
import { startNode, waitFor } from './nodes';

const o = JSON.parse(process.env.TEAM_NODE ?? '{}') as {
  name: string; redisUrl: string; dataDir: string; config: Record<string, unknown>; cluster?: Record<string, unknown>; sim?: Record<string, string>;
};
const node = await startNode(o.name, o.redisUrl, o.config, {
  dataDir: o.dataDir,
  cluster: o.cluster,
  relay: { lingma: 'auto', spawner: simSpawner(o.sim ?? {}), env: { ...process.env, LINGMA_BIN: '' } },
});
const lingma = node.relay.providers.find((p) => p.name === 'lingma') as LingmaProvider | undefined;
if (lingma) await waitFor(() => lingma.lingmaInstances().some((i) => i.state() === 'ready'), 'a Lingma account to be ready here', 60_000);
process.stdout.write(`ready ${node.url}\n`);
