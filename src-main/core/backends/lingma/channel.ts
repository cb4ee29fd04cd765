/**
 * THE SEAM between "how we reach a Lingma runtime" and "how we talk to it".
 *
 * Everything above the wire (the dialects in `dialect-chat.ts` / `dialect-session.ts`, dialect
 * detection in `dialects.ts`, the sign-in glue in `signin.ts`) needs only this interface: JSON-RPC
 * requests, the server's pushes, and a close event. `RpcConnection` (rpc.ts) implements it over a
 * loopback WebSocket to a process the supervisor spawned. A runtime the relay did NOT spawn (an
 * attached Lingma / Qoder CN app, spec §7: WebSocket port or Unix socket / named pipe from
 * `SharedClientCache/.info.json`) only has to produce another `RpcChannel` (e.g. `RpcConnection`
 * over that port, or the same framing over a `net.Socket`) and can then reuse the dialects and the
 * `DialectSession` runner unchanged: no spawn, no login, never stopped.
 */

export interface RpcChannel {
  /** True once the connection is gone; requests then reject at once. */
  readonly closed: boolean;
  request<T = unknown>(method: string, params: unknown, opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<T>;
  notify(method: string, params: unknown): void;
  /** Every server-initiated message (id-carrying ones are already answered by the channel). */
  on(event: 'message', fn: (method: string, params: unknown, id: number | string | undefined) => void): unknown;
  on(event: 'close', fn: (info: { detail: string }) => void): unknown;
  off(event: 'message', fn: (method: string, params: unknown, id: number | string | undefined) => void): unknown;
  off(event: 'close', fn: (info: { detail: string }) => void): unknown;
}

/** JSON-RPC "method not found": the runtime does not speak that method (dialect probe). */
export const METHOD_NOT_FOUND = -32601;
