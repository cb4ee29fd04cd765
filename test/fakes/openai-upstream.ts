/**
 * A fake OpenAI-compatible upstream (what Ollama, vLLM, OpenRouter ... look like to the gateway),
 * with faults on demand. Plain node:http so the benchmark can use it too.
 *
 *   const up = await startFakeOpenAI({ models: ['m1'] });
 *   up.url            // http://127.0.0.1:PORT/v1
 *   up.enqueue({ status: 500 })            // next request gets a 500
 *   up.enqueue({ status: 429, retryAfter: 7 })
 *   up.enqueue({ hang: true })             // never answers (until the client gives up)
 *   up.enqueue({ dropAfterChunks: 2 })     // destroys the socket mid-stream
 *   up.requests       // every request body received, in order
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** The usage this fake reports for a chat answer: a quarter of the JSON of the messages it got, a quarter of the answer. */
export function fakeUsage(messages: unknown, answer: string): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const promptTokens = Math.ceil(JSON.stringify(messages ?? []).length / 4);
  const completionTokens = Math.ceil(answer.length / 4);
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

export interface FakeFault {
  /** Answer with this status and an OpenAI-shaped error body. */
  status?: number;
  message?: string;
  /** Error `code` in the body (e.g. `context_length_exceeded`). */
  code?: string;
  retryAfter?: number;
  /** Accept the request and never answer. */
  hang?: boolean;
  /** Wait this long before the first byte. */
  delayFirstByteMs?: number;
  /** Stream this many content chunks, then destroy the socket. */
  dropAfterChunks?: number;
  /** Stream this many content chunks, then send an in-stream `{"error":...}` event. */
  errorAfterChunks?: number;
  /** Reply text for this request only. */
  reply?: string;
  /** Answer with tool calls (name + JSON arguments) instead of text. */
  toolCalls?: Array<{ name: string; arguments: string }>;
  /** Send reasoning deltas before the answer. */
  reasoning?: string;
}

export interface FakeOptions {
  models?: string[];
  /** Default reply; by default echoes the last user message as `Echo: <text>`. */
  reply?: string | ((body: any) => string);
  /** Content chunks a reply is split into (streaming). */
  chunks?: number;
  /** Delay between streamed chunks. */
  chunkDelayMs?: number;
  /** Require this bearer key (401 otherwise). */
  apiKey?: string;
  /** When a request carries tools and no fault says otherwise, call the first tool. */
  autoToolCall?: boolean;
}

export interface FakeUpstream {
  /** Base URL including `/v1`. */
  url: string;
  port: number;
  /** Parsed JSON bodies of chat/embeddings requests, in arrival order. */
  requests: any[];
  /** Headers of those requests. */
  headers: IncomingMessage['headers'][];
  enqueue(...faults: FakeFault[]): void;
  /** Requests currently open (not yet finished or closed). */
  open(): number;
  /** Requests whose client went away before the answer was complete. */
  aborted(): number;
  /** TCP connections accepted so far (keep-alive reuse shows as few connections). */
  connections(): number;
  setOptions(o: Partial<FakeOptions>): void;
  close(): Promise<void>;
}

function lastUserText(body: any): string {
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i];
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) return m.content.filter((p: any) => p?.type === 'text').map((p: any) => p.text).join('');
  }
  return '';
}

function split(text: string, n: number): string[] {
  if (n <= 1 || text.length <= 1) return [text];
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFakeOpenAI(initial: FakeOptions = {}): Promise<FakeUpstream> {
  let opts: FakeOptions = { models: ['fake-model'], chunks: 4, chunkDelayMs: 0, ...initial };
  const faults: FakeFault[] = [];
  const requests: any[] = [];
  const headers: IncomingMessage['headers'][] = [];
  let openCount = 0;
  let abortedCount = 0;
  let seq = 0;
  let connectionCount = 0;
  const sockets = new Set<Socket>();

  const sendError = (res: ServerResponse, status: number, message: string, code?: string, retryAfter?: number) => {
    const h: Record<string, string> = { 'content-type': 'application/json' };
    if (retryAfter !== undefined) h['retry-after'] = String(retryAfter);
    res.writeHead(status, h);
    res.end(JSON.stringify({ error: { message, type: status === 429 ? 'rate_limit_error' : 'invalid_request_error', code: code ?? null, param: null } }));
  };

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const path = url.replace(/\?.*$/, '');
    if (req.method === 'GET' && (path === '/v1/models' || path === '/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: (opts.models ?? []).map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })) }));
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, 404, `no route ${req.method} ${path}`);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: any;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        sendError(res, 400, 'bad json');
        return;
      }
      requests.push(body);
      headers.push(req.headers);
      if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
        sendError(res, 401, 'Incorrect API key provided.', 'invalid_api_key');
        return;
      }
      const fault = faults.shift() ?? {};
      openCount++;
      let finished = false;
      res.on('close', () => {
        openCount--;
        if (!finished) abortedCount++;
      });
      const done = () => {
        finished = true;
      };
      void handle(path, body, fault, res, done).catch(() => res.destroy());
    });
  });

  async function handle(path: string, body: any, fault: FakeFault, res: ServerResponse, done: () => void) {
    if (fault.hang) return; // never answer; the socket stays open until the client leaves
    if (fault.delayFirstByteMs) await sleep(fault.delayFirstByteMs);
    if (res.destroyed) return;
    if (fault.status && fault.status >= 400) {
      done();
      sendError(res, fault.status, fault.message ?? `fake upstream error ${fault.status}`, fault.code, fault.retryAfter);
      return;
    }
    if (path === '/v1/embeddings' || path === '/embeddings') {
      const inputs: unknown[] = Array.isArray(body.input) ? body.input : [body.input];
      const dim = body.dimensions ?? 8;
      const data = inputs.map((inp, index) => {
        const s = typeof inp === 'string' ? inp : JSON.stringify(inp);
        const v = Array.from({ length: dim }, (_, i) => ((s.charCodeAt(i % Math.max(1, s.length)) || 0) % 17) / 17);
        return { object: 'embedding', index, embedding: v };
      });
      done();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: inputs.length * 3, total_tokens: inputs.length * 3 } }));
      return;
    }
    if (path !== '/v1/chat/completions' && path !== '/chat/completions') {
      done();
      sendError(res, 404, `no route POST ${path}`);
      return;
    }
    const id = `chatcmpl-fake-${++seq}`;
    const model = String(body.model ?? 'unknown');
    const replyOpt = fault.reply ?? opts.reply;
    const text = typeof replyOpt === 'function' ? replyOpt(body) : (replyOpt ?? `Echo: ${lastUserText(body)}`);
    const toolCalls =
      fault.toolCalls ??
      (opts.autoToolCall && Array.isArray(body.tools) && body.tools.length && !body.messages?.some((m: any) => m.role === 'tool')
        ? [{ name: body.tools[0].function?.name ?? 'tool', arguments: JSON.stringify({ q: lastUserText(body) }) }]
        : undefined);
    const usage = fakeUsage(body.messages, toolCalls ? JSON.stringify(toolCalls) : text);
    const finish = toolCalls ? 'tool_calls' : 'stop';

    if (!body.stream) {
      done();
      res.writeHead(200, { 'content-type': 'application/json' });
      const message: any = { role: 'assistant', content: toolCalls ? null : text };
      if (fault.reasoning) message.reasoning_content = fault.reasoning;
      if (toolCalls) message.tool_calls = toolCalls.map((t, i) => ({ id: `call_${seq}_${i}`, type: 'function', function: t }));
      res.end(JSON.stringify({ id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model, choices: [{ index: 0, message, finish_reason: finish }], usage }));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    (res.socket as Socket | null)?.setNoDelay(true);
    const created = Math.floor(Date.now() / 1000);
    const frame = (delta: any, finishReason: string | null = null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finishReason }] })}\n\n`;
    res.write(frame({ role: 'assistant', content: '' }));
    if (fault.reasoning) for (const r of split(fault.reasoning, 2)) res.write(frame({ reasoning_content: r }));
    let sent = 0;
    if (toolCalls) {
      toolCalls.forEach((t, i) => {
        res.write(frame({ tool_calls: [{ index: i, id: `call_${seq}_${i}`, type: 'function', function: { name: t.name, arguments: '' } }] }));
        for (const a of split(t.arguments, 2)) res.write(frame({ tool_calls: [{ index: i, function: { arguments: a } }] }));
      });
    } else {
      for (const piece of split(text, opts.chunks ?? 4)) {
        if (res.destroyed) return;
        if (fault.dropAfterChunks !== undefined && sent >= fault.dropAfterChunks) {
          // Let the chunks already written reach the client, then cut the connection.
          await sleep(20);
          res.socket?.destroy();
          return;
        }
        if (fault.errorAfterChunks !== undefined && sent >= fault.errorAfterChunks) {
          done();
          res.end(`data: ${JSON.stringify({ error: { message: 'fake mid-stream failure', type: 'server_error', code: 'fake' } })}\n\n`);
          return;
        }
        res.write(frame({ content: piece }));
        sent++;
        if (opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
      }
    }
    if (res.destroyed) return;
    res.write(frame({}, finish));
    if (body.stream_options?.include_usage) res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
    done();
    res.end('data: [DONE]\n\n');
  }

  server.on('connection', (s) => {
    connectionCount++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    headers,
    enqueue: (...f) => void faults.push(...f),
    open: () => openCount,
    aborted: () => abortedCount,
    connections: () => connectionCount,
    setOptions: (o) => void (opts = { ...opts, ...o }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
