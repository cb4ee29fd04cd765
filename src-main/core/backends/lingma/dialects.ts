/**
 * Which dialect a runtime speaks (spec §6): `lingma.protocol` forces one; `auto` probes
 * `session/new` once per connection to a process and falls back to the legacy `chat/ask` when the
 * runtime answers "method not found" (-32601). The answer is remembered by the caller.
 */
import type { Logger } from 'pino';
import { METHOD_NOT_FOUND, type RpcChannel } from './channel';
import { createChatDialect } from './dialect-chat';
import { createSessionDialect, newSession } from './dialect-session';
import { rpcToRelay, type Dialect, type DialectName } from './dialect';
import { RpcError } from './rpc';

export type ProtocolSetting = 'auto' | DialectName;

export function createDialect(name: DialectName): Dialect {
  return name === 'session' ? createSessionDialect() : createChatDialect();
}

export function isMethodNotFound(e: unknown): boolean {
  return e instanceof RpcError && e.kind === 'remote' && (e.code === METHOD_NOT_FOUND || /method not found|unknown method/i.test(e.message));
}

/**
 * Detect (or take the forced) dialect. A probe that fails for another reason (timeout, closed)
 * throws: nothing is remembered and the next call probes again.
 */
export async function detectDialect(rpc: RpcChannel, setting: ProtocolSetting, cwd: string, log: Logger, signal?: AbortSignal): Promise<Dialect> {
  if (setting !== 'auto') return createDialect(setting);
  let probeSession: string;
  try {
    probeSession = await newSession(rpc, cwd, signal);
  } catch (e) {
    if (isMethodNotFound(e)) {
      log.info({ dialect: 'chat' }, 'the Lingma runtime does not know session/new; using the legacy chat/ask dialect');
      return createDialect('chat');
    }
    throw rpcToRelay(e, 'session/new');
  }
  log.info({ dialect: 'session' }, 'the Lingma runtime speaks the session dialect');
  // The probe's session holds nothing: drop it (best effort).
  void rpc.request('chat/deleteSessionById', { sessionId: probeSession }, { timeoutMs: 5000 }).catch(() => undefined);
  return createDialect('session');
}
