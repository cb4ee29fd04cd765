/**
 * The OpenAI-compatible HTTP backend (`type: openai` in config): Ollama, vLLM, llama.cpp's server,
 * OpenRouter, DeepSeek, OpenAI itself. One provider = one base URL = one instance, spoken to over
 * an undici keep-alive pool.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { Pool, type Dispatcher } from './undici';
import type { ChatEvent, ChatRequest, EmbeddingsRequest, EmbeddingsResult } from '../../chat/model';
import type { ProviderConfig } from '../../config/schema';
import { errors, RelayError } from '../../errors';
import type {
  CallContext,
  Capabilities,
  Instance,
  InstanceEvents,
  InstanceSnapshot,
  InstanceState,
  ModelInfo,
  Provider,
  ProviderEvents,
} from '../types';
import { modelFromConfig, modelFromUpstream } from './models';
import { readSseData } from './sse-reader';
import { ChunkReader, completionToEvents, parseRetryAfter, toOpenAIBody, upstreamBodyError } from './translate';

const ERROR_BODY_LIMIT = 64 * 1024;
const PROBE_TIMEOUT_MS = 5000;

export interface OpenAIDeps {
  log: Logger;
}

/** Connection-level failures (nothing came back): retryable, with a message that names the provider, not its key. */
function connectionError(provider: string, e: unknown): RelayError {
  const code = (e as { code?: string })?.code ?? '';
  const name = (e as Error)?.name ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return errors.timeout(`${provider} did not answer in time.`, { retryable: true, detail: `${name} ${code}` });
  }
  return errors.upstream(`Could not reach ${provider}.`, { code: 'upstream_unreachable', retryable: true, detail: `${name} ${code} ${(e as Error)?.message ?? ''}` });
}

async function readLimited(body: Dispatcher.ResponseData['body']): Promise<string> {
  let out = '';
  for await (const chunk of body) {
    out += chunk.toString();
    if (out.length > ERROR_BODY_LIMIT) {
      body.destroy();
      break;
    }
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { error: { message: text.slice(0, 300) } };
  }
}

export class OpenAIInstance implements Instance {
  readonly name: string;
  readonly provider: string;
  readonly kind = 'openai';
  readonly maxConcurrency: number;
  readonly events = new EventEmitter<InstanceEvents>();
  private pool: Pool | undefined;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly headers: Record<string, string>;
  /** Built once per target: the upstream paths and the base URL the snapshot shows. */
  private readonly chatPath: string;
  private readonly baseUrl: string;
  private st: InstanceState = 'stopped';
  private startedAt: number | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly cfg: ProviderConfig,
    private readonly log: Logger,
  ) {
    this.name = cfg.name;
    this.provider = cfg.name;
    this.maxConcurrency = cfg.maxConcurrency ?? 64;
    const u = new URL(cfg.baseUrl);
    this.origin = u.origin;
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.chatPath = `${this.basePath}/chat/completions`;
    this.baseUrl = `${this.origin}${this.basePath}`;
    this.headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(cfg.headers ?? {}) };
    // SECURITY: the provider key lives only in this header map; it is never logged or put in an error.
    if (cfg.apiKey) this.headers.authorization = `Bearer ${cfg.apiKey}`;
  }

  state(): InstanceState {
    return this.st;
  }

  private setState(next: InstanceState): void {
    if (next === this.st) return;
    const prev = this.st;
    this.st = next;
    this.events.emit('state', this.snapshot(), prev);
  }

  snapshot(): InstanceSnapshot {
    return {
      name: this.name,
      provider: this.provider,
      kind: this.kind,
      state: this.st,
      login: { state: 'not_applicable' },
      startedAt: this.startedAt,
      restarts: 0,
      lastError: this.lastError,
      extra: { baseUrl: this.baseUrl },
    };
  }

  private client(): Pool {
    if (!this.pool) {
      this.pool = new Pool(this.origin, {
        connections: this.maxConcurrency,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connectTimeout: 10_000,
        // The dispatcher owns first-byte timeouts; a long answer may take minutes between bytes.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    }
    return this.pool;
  }

  async start(): Promise<void> {
    this.client();
    this.startedAt = Date.now();
    this.setState('ready');
  }

  async stop(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.setState('closed');
    if (pool) await pool.destroy().catch(() => undefined);
  }

  /** Closed to new calls; the calls in flight finish on the old connections (undici `close()`). */
  async retire(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.setState('closed');
    if (pool) await pool.close().catch(() => undefined);
  }

  async ensureReady(): Promise<void> {
    if (this.st !== 'ready') await this.start();
  }

  /** `path`: the full upstream path (basePath included). */
  private async post(path: string, body: unknown, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    try {
      return await this.client().request({
        origin: this.origin,
        path,
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(body),
        signal,
      });
    } catch (e) {
      if (signal.aborted) throw abortReason(signal);
      throw connectionError(this.name, e);
    }
  }

  private async failFrom(res: Dispatcher.ResponseData): Promise<RelayError> {
    const text = await readLimited(res.body).catch(() => '');
    const err = upstreamBodyError(res.statusCode, parseJson(text), parseRetryAfter(res.headers['retry-after']), this.name, [this.cfg.apiKey]);
    this.lastError = err.message;
    return err;
  }

  async *chat(req: ChatRequest, ctx: CallContext): AsyncGenerator<ChatEvent> {
    const body = toOpenAIBody(req);
    // For the request inspector: the body as posted (headers, with the API key, stay out).
    ctx.meta.upstream = { kind: 'openai', body, info: { path: this.chatPath } };
    const res = await this.post(this.chatPath, body, ctx.signal);
    if (res.statusCode >= 400) throw await this.failFrom(res);
    const type = String(res.headers['content-type'] ?? '');
    if (!type.includes('text/event-stream')) {
      // The server ignored `stream: true` and sent one JSON body.
      const text = await readLimited(res.body);
      yield* completionToEvents(parseJson(text), this.name, [this.cfg.apiKey]);
      return;
    }
    const reader = new ChunkReader(this.name, [this.cfg.apiKey]);
    const out: ChatEvent[] = [];
    let sawDone = false;
    let complete = false;
    try {
      // Read to the body's natural end (the server closes it right after `[DONE]`): breaking out
      // early would destroy the body, costing an AbortError per request and maybe the keep-alive socket.
      for await (const data of readSseData(res.body)) {
        if (sawDone) continue;
        if (data === '[DONE]') {
          sawDone = true;
          continue;
        }
        let chunk: unknown;
        try {
          chunk = JSON.parse(data);
        } catch {
          throw errors.upstream(`${this.name} sent a malformed stream chunk.`, { code: 'upstream_bad_stream', detail: data.slice(0, 200) });
        }
        reader.read(chunk, out);
        if (out.length) {
          for (let i = 0; i < out.length; i++) yield out[i];
          out.length = 0;
        }
      }
      complete = true;
    } catch (e) {
      if (ctx.signal.aborted) throw abortReason(ctx.signal);
      if (e instanceof RelayError) {
        this.lastError = e.message;
        throw e;
      }
      const err = errors.upstream(`${this.name} closed the stream unexpectedly.`, { code: 'upstream_stream_closed', retryable: true, detail: String(e) });
      this.lastError = err.message;
      throw err;
    } finally {
      // Ending early (client gone, first-byte timeout, consumer stopped) frees the upstream request at once.
      if (!complete && !res.body.destroyed) res.body.destroy();
    }
    if (!sawDone && reader.finish === undefined) {
      throw errors.upstream(`${this.name} ended the stream without finishing the answer.`, { code: 'upstream_stream_closed', retryable: true });
    }
    if (reader.usage) yield { type: 'usage', usage: reader.usage };
    yield { type: 'finish', reason: reader.finish ?? 'stop' };
  }

  async embed(req: EmbeddingsRequest, ctx: CallContext): Promise<EmbeddingsResult> {
    const body: Record<string, unknown> = { model: req.model, input: req.input };
    if (req.dimensions !== undefined) body.dimensions = req.dimensions;
    if (req.encodingFormat) body.encoding_format = req.encodingFormat;
    if (req.user) body.user = req.user;
    const res = await this.post(`${this.basePath}/embeddings`, body, ctx.signal);
    if (res.statusCode >= 400) throw await this.failFrom(res);
    const json: any = parseJson(await readLimited(res.body));
    if (!Array.isArray(json?.data)) throw errors.upstream(`${this.name} sent a malformed embeddings answer.`, { code: 'upstream_bad_body' });
    const data = [...json.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((d) => d.embedding);
    return {
      data,
      usage: { promptTokens: Number(json.usage?.prompt_tokens) || 0, totalTokens: Number(json.usage?.total_tokens) || 0 },
    };
  }

  /** GET /models. Returns the models (with the metadata the upstream gives), or throws a RelayError. */
  async listModels(signal: AbortSignal): Promise<ModelInfo[]> {
    let res: Dispatcher.ResponseData;
    try {
      res = await this.client().request({ origin: this.origin, path: `${this.basePath}/models`, method: 'GET', headers: this.headers, signal });
    } catch (e) {
      if (signal.aborted) throw errors.timeout(`${this.name} did not answer the model listing in time.`, { retryable: true });
      throw connectionError(this.name, e);
    }
    if (res.statusCode >= 400) throw await this.failFrom(res);
    const json: any = parseJson(await readLimited(res.body));
    const list: any[] = Array.isArray(json?.data) ? json.data : Array.isArray(json?.models) ? json.models : [];
    return list.map(modelFromUpstream).filter((m): m is ModelInfo => m !== undefined);
  }

  async probe(signal: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
    const both = AbortSignal.any([signal, timeout]);
    try {
      await this.listModels(both);
    } catch (e) {
      // A server without /models (404) is still alive.
      if (e instanceof RelayError && e.upstreamStatus === 404) return;
      throw e;
    }
  }
}

function abortReason(signal: AbortSignal): RelayError {
  return signal.reason instanceof RelayError ? signal.reason : errors.cancelled();
}

export class OpenAIProvider implements Provider {
  readonly name: string;
  readonly kind = 'openai';
  readonly capabilities: Capabilities;
  readonly events = new EventEmitter<ProviderEvents>();
  private readonly instance: OpenAIInstance;
  private modelList: ModelInfo[];
  private byLower = new Map<string, string>();

  constructor(
    private readonly cfg: ProviderConfig,
    private readonly deps: OpenAIDeps,
  ) {
    this.name = cfg.name;
    this.capabilities = { tools: cfg.tools ?? true, images: cfg.images ?? true, embeddings: true };
    this.instance = new OpenAIInstance(cfg, deps.log);
    this.modelList = [];
    this.setModels((cfg.models ?? []).map(modelFromConfig));
  }

  private setModels(models: ModelInfo[]): void {
    const byId = new Map<string, ModelInfo>();
    for (const m of models) if (!byId.has(m.id)) byId.set(m.id, m);
    this.modelList = [...byId.values()];
    this.byLower = new Map(this.modelList.map((m) => [m.id.toLowerCase(), m.id]));
    this.events.emit('models');
  }

  instances(): readonly Instance[] {
    return [this.instance];
  }

  models(): ModelInfo[] {
    return this.modelList;
  }

  resolveModel(name: string): string | undefined {
    return this.byLower.get(name.toLowerCase());
  }

  /** Refresh the model list from the upstream unless the config pins it. Never throws. */
  async refreshModels(): Promise<void> {
    if (this.cfg.models?.length) return;
    try {
      this.setModels(await this.instance.listModels(AbortSignal.timeout(PROBE_TIMEOUT_MS)));
    } catch (e) {
      this.deps.log.warn({ provider: this.name, err: (e as Error).message }, 'could not list models; requests naming %s/<model> are still routed', this.name);
    }
  }

  async start(): Promise<void> {
    await this.instance.start();
    // Model listing must not hold up start-up (a local server may come up later).
    void this.refreshModels();
  }

  async stop(): Promise<void> {
    await this.instance.stop();
  }

  async retire(): Promise<void> {
    await this.instance.retire();
  }
}

export function createOpenAIProvider(cfg: ProviderConfig, deps: OpenAIDeps): OpenAIProvider {
  return new OpenAIProvider(cfg, deps);
}
