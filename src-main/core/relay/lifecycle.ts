/** Opening the socket (errors a person can act on) and the bounded drain before a stop. */
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Admission } from '../dispatch/admission';

/** `http://host:port` with IPv6 hosts in brackets. */
export function baseUrl(host: string, port: number): string {
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/** Listens on `host:port`; resolves with the real port (0 asks for a free one). */
export async function listenOn(app: FastifyInstance, host: string, port: number): Promise<number> {
  try {
    await app.listen({ host, port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`Port ${port} on ${host} is already in use (is another Lingma Relay running?). Pick another with --port.`);
    if (code === 'EADDRNOTAVAIL') throw new Error(`Cannot listen on ${host}: no such address on this machine.`);
    if (code === 'EACCES') throw new Error(`Not allowed to listen on ${host}:${port} (ports below 1024 need privileges).`);
    throw e;
  }
  return (app.server.address() as AddressInfo).port;
}

/**
 * Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes the remaining
 * connections and waits for the gateway to close.
 */
export async function drainGateway(app: FastifyInstance, admission: Admission, graceMs: number, onCloseError: (e: unknown) => void): Promise<void> {
  // 1. Stop accepting; in-flight requests continue.
  const closed = app.close();
  // 2. Let them finish, bounded.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    admission.idle(),
    new Promise<void>((r) => {
      timer = setTimeout(r, graceMs);
      timer.unref?.();
    }),
  ]);
  clearTimeout(timer);
  app.server.closeAllConnections?.();
  await closed.catch(onCloseError);
}
