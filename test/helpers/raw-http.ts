/**
 * One HTTP/1.1 request written byte for byte over a TCP socket: the request target goes out exactly
 * as given (no client normalizes `//`, `..`, `%61`, `;`, `\` or an absolute-form URL away).
 * Resolves once the response head (and its body, if it has one) has arrived; a `101 Switching
 * Protocols` resolves at its head and the socket is destroyed.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  /** Lower-cased header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: string;
}

export interface RawRequest {
  method?: string;
  target: string;
  /** Default: Host 127.0.0.1:<port>, Connection: close. A header set to undefined is left out. */
  headers?: Record<string, string | undefined>;
  body?: string;
}

function dechunk(raw: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(raw.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return raw.indexOf('\r\n', eol + 2) >= 0 ? Buffer.concat(parts) : undefined;
    if (raw.length < eol + 2 + size + 2) return undefined;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

export function rawRequest(port: number, req: RawRequest): Promise<RawResponse> {
  const headers: Record<string, string | undefined> = { host: `127.0.0.1:${port}`, connection: 'close', ...req.headers };
  if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
  const head = [`${req.method ?? 'GET'} ${req.target} HTTP/1.1`];
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) head.push(`${k}: ${v}`);
  const bytes = `${head.join('\r\n')}\r\n\r\n${req.body ?? ''}`;

  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (ended: boolean): void => {
      if (done) return;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (ended) {
          done = true;
          reject(new Error(`connection closed without a response head (${buf.length} bytes)`));
        }
        return;
      }
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
      const h: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        if (i < 0) continue;
        const k = l.slice(0, i).trim().toLowerCase();
        const v = l.slice(i + 1).trim();
        h[k] = h[k] === undefined ? v : `${h[k]}, ${v}`;
      }
      const rest = buf.subarray(end + 4);
      let body: Buffer | undefined;
      if (status === 101 || status === 204 || status === 304 || (req.method ?? 'GET') === 'HEAD') body = Buffer.alloc(0);
      else if (h['content-length'] !== undefined) body = rest.length >= Number(h['content-length']) ? rest.subarray(0, Number(h['content-length'])) : undefined;
      else if (/chunked/i.test(h['transfer-encoding'] ?? '')) body = dechunk(rest);
      else if (ended) body = rest;
      if (body === undefined) {
        if (ended) {
          done = true;
          reject(new Error('connection closed in the middle of the body'));
        }
        return;
      }
      done = true;
      socket.destroy();
      resolve({ status, headers: h, body: body.toString('utf8') });
    };
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
    socket.write(bytes);
  });
}

/** The head of a WebSocket upgrade request (without any credential). */
export function upgradeHeaders(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    connection: 'Upgrade',
    upgrade: 'websocket',
    'sec-websocket-version': '13',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...extra,
  };
}
