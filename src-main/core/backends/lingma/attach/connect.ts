/** How the relay reaches a running app (spec §7): its WebSocket first, else its Unix socket / named pipe. */
import { RpcConnection, type RpcOptions } from '../rpc';
import type { AttachTarget } from './discover';

/** Opens a connection to the app; the error names every way that failed. */
export async function connectTarget(target: AttachTarget, opts: RpcOptions): Promise<{ rpc: RpcConnection; via: string }> {
  const ways: Array<[string | undefined, (where: string, o: RpcOptions) => Promise<RpcConnection>]> = [
    [target.wsUrl, (url, o) => RpcConnection.connect(url, o)],
    [target.ipcPath, (path, o) => RpcConnection.connectIpc(path, o)],
  ];
  const failures: string[] = [];
  for (const [where, open] of ways) {
    if (!where) continue;
    try {
      return { rpc: await open(where, opts), via: where };
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  throw new Error(failures.join('; ') || 'no transport');
}
