/**
 * The config file's schema (YAML or JSON). The contract (shared/spec/contract.md) fixes the keys it
 * names; the rest are ours. Unknown keys are errors (`additionalProperties: false` everywhere).
 * Defaults live here too: `loadConfig` fills them in, so the rest of core reads a complete `Config`.
 */
import { FormatRegistry, Type, type Static } from '@sinclair/typebox';
import { isHttpsDedicatedDomain } from '../sign-in-policy';
import { NAME_PATTERN, NAME_RULE } from '../names';

// TypeBox knows no string formats by default; they are registered with the schema that uses them,
// so every checker of `ConfigSchema` sees them.
if (!FormatRegistry.Has('uri')) {
  FormatRegistry.Set('uri', (v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  });
}
// SECURITY: an account's dedicated domain receives its password at sign-in: https only.
if (!FormatRegistry.Has('https-uri')) FormatRegistry.Set('https-uri', (v) => isHttpsDedicatedDomain(v));

const Strict = { additionalProperties: false } as const;

/** SECURITY: a name that may become a folder or a key (`core/names.ts`); `rule` words it in errors. */
const SafeName = () => Type.String({ pattern: NAME_PATTERN, rule: NAME_RULE });

export const ApiKeySchema = Type.Union([
  Type.String({ minLength: 8 }),
  Type.Object(
    {
      key: Type.String({ minLength: 8 }),
      name: Type.Optional(SafeName()),
      /** Requests per minute for this key. */
      rpm: Type.Optional(Type.Integer({ minimum: 1 })),
      /** Prompt + completion tokens per UTC day. */
      tokensPerDay: Type.Optional(Type.Integer({ minimum: 1 })),
      /** ISO date or date-time after which the key is refused (401). */
      expiresAt: Type.Optional(Type.String({ minLength: 10 })),
      /** Concurrent requests for this key (defaults to limits.perKeyConcurrency). */
      concurrency: Type.Optional(Type.Integer({ minimum: 1 })),
    },
    Strict,
  ),
]);

export const LoginRecipeSchema = Type.Object(
  {
    frame: Type.Optional(Type.String()),
    username: Type.String(),
    password: Type.String(),
    submit: Type.String(),
    captcha: Type.Array(Type.String()),
    before: Type.Optional(Type.Array(Type.String())),
  },
  Strict,
);

export const AccountSchema = Type.Object(
  {
    username: Type.String({ minLength: 1 }),
    password: Type.Optional(Type.String()),
    name: Type.Optional(SafeName()),
    /** Enterprise dedicated domain; https only (its origin receives the password at sign-in). */
    dedicatedDomain: Type.Optional(Type.String({ format: 'https-uri' })),
    maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    disabled: Type.Optional(Type.Boolean()),
  },
  Strict,
);

/** One model of a provider, with its metadata (`providers[].models` entries may be these). */
export const ModelSpecSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    contextLength: Type.Optional(Type.Integer({ minimum: 1 })),
    maxOutputTokens: Type.Optional(Type.Integer({ minimum: 1 })),
    vision: Type.Optional(Type.Boolean()),
    tools: Type.Optional(Type.Boolean()),
    reasoning: Type.Optional(Type.Boolean()),
  },
  Strict,
);
export type ModelSpec = Static<typeof ModelSpecSchema>;

export const ProviderSchema = Type.Object(
  {
    name: SafeName(),
    type: Type.Literal('openai'),
    baseUrl: Type.String({ format: 'uri' }),
    apiKey: Type.Optional(Type.String()),
    /**
     * The models to offer (else the upstream's `/models` list): ids, or objects with what
     * `/v1/models` should say of them (`contextLength`, `maxOutputTokens`, `vision`, `tools`, `reasoning`).
     */
    models: Type.Optional(Type.Array(Type.Union([Type.String({ minLength: 1 }), ModelSpecSchema]))),
    /** Extra headers sent upstream (e.g. OpenRouter's HTTP-Referer). */
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
    /** Whole-request timeout for non-streaming calls. */
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1000 })),
    /** Does the upstream accept tools / images? Default true. */
    tools: Type.Optional(Type.Boolean()),
    images: Type.Optional(Type.Boolean()),
  },
  Strict,
);

/**
 * Options every hop may carry, whatever its backend kind. Each kind's `optionsSchema`
 * (`core/backends/<kind>/kind.ts`) extends this one with its own keys.
 */
export const HopOptionsSchema = Type.Object(
  {
    /** Time to the first streamed event on this hop before it counts as failed (overrides `limits.firstByteTimeoutMs`). */
    firstByteTimeoutMs: Type.Optional(Type.Integer({ minimum: 100 })),
    /** Describe tools in the prompt and parse `<tool_call>` blocks back, for a backend without native tools. */
    toolEmulation: Type.Optional(Type.Boolean()),
  },
  Strict,
);

/**
 * Backend options of a hop. Open here: which keys a hop may carry depends on the kind of the
 * provider it targets, so routing checks them against that kind's `optionsSchema` when aliases
 * load (`core/routing/hop-options.ts`).
 */
const HopOptionsRecord = () => Type.Record(Type.String(), Type.Unknown());

export const AliasTargetSchema = Type.Union([
  Type.String({ minLength: 1 }),
  Type.Object(
    {
      target: Type.String({ minLength: 1 }),
      firstByteTimeoutMs: Type.Optional(Type.Integer({ minimum: 100 })),
      /** Backend options for this hop (e.g. `{ lingmaMode: agent, toolEmulation: true }`). */
      options: Type.Optional(HopOptionsRecord()),
    },
    Strict,
  ),
]);

export const AliasSchema = Type.Union([
  /** Shorthand: `name: target`. `default: coder` names the fallback alias. */
  Type.String({ minLength: 1 }),
  Type.Object(
    {
      description: Type.Optional(Type.String()),
      chain: Type.Array(AliasTargetSchema, { minItems: 1 }),
      /** Options for every hop of the chain (a hop's own win). */
      options: Type.Optional(HopOptionsRecord()),
    },
    Strict,
  ),
]);

/** Alias names never become paths; they keep their pattern syntax (`claude-*`) under their own rule (`aliasNameProblem`, checked in `validate.ts`). */
export const AliasesSchema = Type.Record(Type.String({ minLength: 1 }), AliasSchema);

export const ErrorRuleSchema = Type.Object(
  {
    /** Upstream HTTP status (or Lingma statusCode) to match; omitted = any. */
    status: Type.Optional(Type.Integer()),
    /** Case-insensitive regular expression matched against the upstream error message. */
    match: Type.Optional(Type.String()),
    action: Type.Union([Type.Literal('passthrough'), Type.Literal('replace')]),
    /** With `replace`: the status and message the client gets. */
    replaceStatus: Type.Optional(Type.Integer({ minimum: 400, maximum: 599 })),
    message: Type.Optional(Type.String()),
  },
  Strict,
);

export const PriceSchema = Type.Object(
  {
    /** USD per million tokens. */
    input: Type.Number({ minimum: 0 }),
    output: Type.Number({ minimum: 0 }),
    cachedInput: Type.Optional(Type.Number({ minimum: 0 })),
  },
  Strict,
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8420 }),
        apiKeys: Type.Optional(Type.Array(ApiKeySchema)),
        adminToken: Type.Optional(Type.String({ minLength: 16 })),
        metricsToken: Type.Optional(Type.String({ minLength: 8 })),
        /** Extra Host header values accepted (besides 127.0.0.1/localhost/[::1] with the port). */
        allowedHosts: Type.Array(Type.String(), { default: [] }),
        /** Origins allowed to call (CORS and Origin check). Empty = CORS off, cross-origin requests refused. */
        corsOrigins: Type.Array(Type.String(), { default: [] }),
        logLevel: Type.Union(
          [Type.Literal('trace'), Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error'), Type.Literal('silent')],
          { default: 'info' },
        ),
      },
      { ...Strict, default: {} },
    ),
    lingma: Type.Object(
      {
        binary: Type.String({ default: 'auto' }),
        extraArgs: Type.Array(Type.String(), { default: [] }),
        accounts: Type.Array(AccountSchema, { default: [] }),
        maxConcurrencyPerInstance: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
        startupTimeoutMs: Type.Integer({ minimum: 1000, default: 30000 }),
        rpcTimeoutMs: Type.Integer({ minimum: 500, default: 15000 }),
        /** Max time between two streamed messages of one answer before the call is a timeout. */
        answerIdleTimeoutMs: Type.Integer({ minimum: 1000, default: 120000 }),
        /** Agent-mode model names (`agent`, `lingma-agent`). */
        agentModels: Type.Array(Type.String(), { default: ['agent', 'lingma-agent'] }),
        locale: Type.String({ default: 'en' }),
        /** The runtime dialect (lingma-protocol.md §6): `auto` detects per process. */
        protocol: Type.Union([Type.Literal('auto'), Type.Literal('chat'), Type.Literal('session')], { default: 'auto' }),
        /** Also serve through a Lingma / Qoder CN app already running and signed in (§7). */
        attach: Type.Union([Type.Literal('auto'), Type.Literal('off')], { default: 'auto' }),
        login: Type.Object(
          {
            auto: Type.Boolean({ default: true }),
            /**
             * Extra origins credentials may be typed into, besides the official https sign-in
             * origins; `scheme://host:port`, a port `*` matches any port (`http://127.0.0.1:*`).
             */
            allowedOrigins: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
            timeoutMs: Type.Integer({ minimum: 5000, default: 90000 }),
            maxRetries: Type.Integer({ minimum: 0, maximum: 10, default: 2 }),
            /** Path to a Chromium-family browser for the headless login driver (`auto` searches). */
            browser: Type.String({ default: 'auto' }),
            recipe: Type.Optional(LoginRecipeSchema),
          },
          { ...Strict, default: {} },
        ),
      },
      { ...Strict, default: {} },
    ),
    providers: Type.Array(ProviderSchema, { default: [] }),
    /**
     * Local OpenAI-compatible servers (Ollama, LM Studio, llama.cpp, vLLM) looked for on 127.0.0.1
     * at a first start with nothing configured (and on demand from the dashboard). What is found is
     * only offered: a person confirms it in the dashboard, or `serve --discover` adds it.
     */
    discovery: Type.Object(
      {
        /** Scan at start when no provider and no Lingma account is configured. */
        enabled: Type.Boolean({ default: true }),
        /**
         * Ports probed on 127.0.0.1 by server (default: ollama 11434, lmstudio 1234, llamacpp 8080,
         * vllm 8000); when given, only the servers listed are probed.
         */
        ports: Type.Optional(Type.Object(
          {
            ollama: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
            lmstudio: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
            llamacpp: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
            vllm: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
          },
          Strict,
        )),
        /** How long one probe (`GET /v1/models`) may take. */
        timeoutMs: Type.Integer({ minimum: 50, maximum: 10000, default: 500 }),
      },
      { ...Strict, default: {} },
    ),
    aliasesFile: Type.Optional(Type.String()),
    aliases: Type.Optional(AliasesSchema),
    errorRules: Type.Array(ErrorRuleSchema, { default: [] }),
    limits: Type.Object(
      {
        maxInFlight: Type.Integer({ minimum: 1, default: 64 }),
        queueTimeoutMs: Type.Integer({ minimum: 0, default: 30000 }),
        perKeyConcurrency: Type.Integer({ minimum: 1, default: 16 }),
        /** Requests per key waiting for a per-key slot before 429 "too many pending requests". */
        perKeyQueue: Type.Integer({ minimum: 0, default: 64 }),
        maxBodyBytes: Type.Integer({ minimum: 1024, default: 16777216 }),
        maxSwitches: Type.Integer({ minimum: 0, default: 3 }),
        firstByteTimeoutMs: Type.Integer({ minimum: 100, default: 60000 }),
        /** SSE comment keep-alive interval while a stream waits for a slot or its first byte. */
        keepAliveMs: Type.Integer({ minimum: 100, default: 5000 }),
        /** A streaming client whose socket stays full this long gets an error and its upstream call is released. */
        clientDrainTimeoutMs: Type.Integer({ minimum: 100, default: 60000 }),
        /** Graceful stop: how long in-flight requests may take to finish. */
        shutdownGraceMs: Type.Integer({ minimum: 0, default: 10000 }),
      },
      { ...Strict, default: {} },
    ),
    health: Type.Object(
      {
        failureThreshold: Type.Integer({ minimum: 1, default: 1 }),
        baseBackoffMs: Type.Integer({ minimum: 100, default: 2000 }),
        maxBackoffMs: Type.Integer({ minimum: 100, default: 120000 }),
        probeIntervalMs: Type.Integer({ minimum: 100, default: 5000 }),
      },
      { ...Strict, default: {} },
    ),
    sessionCache: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        maxEntries: Type.Integer({ minimum: 0, default: 1024 }),
        ttlSec: Type.Integer({ minimum: 1, default: 3600 }),
      },
      { ...Strict, default: {} },
    ),
    /**
     * Team mode (headless only): several nodes sharing keys, limits and accounts through Redis
     * (`redisUrl`) and the usage ledger through PostgreSQL (`postgresUrl`); either part alone.
     * Absent = single node, in-memory state, SQLite. Env: RELAY_REDIS_URL, RELAY_POSTGRES_URL,
     * RELAY_NODE_NAME, RELAY_CLUSTER_SECRET, RELAY_ADVERTISE_URL.
     */
    cluster: Type.Optional(Type.Object(
      {
        redisUrl: Type.Optional(Type.String({ pattern: '^rediss?://' })),
        postgresUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
        /** This node's name in the cluster (default: the host name). */
        nodeName: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' })),
        /** Node-to-node authentication and the key that encrypts stored passwords (at least 16 characters). */
        secret: Type.Optional(Type.String({ minLength: 16 })),
        /** The URL other nodes reach this one at (default: the address it listens on). */
        advertiseUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
        /** How long an account lease or a concurrency slot outlives a node that stopped renewing it. */
        leaseSec: Type.Integer({ minimum: 2, maximum: 600, default: 15 }),
      },
      { ...Strict },
    )),
    ledger: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        retentionDays: Type.Integer({ minimum: 1, default: 90 }),
        prices: Type.Record(Type.String(), PriceSchema, { default: {} }),
        /** A batch is written every flushIntervalMs or when batchSize records wait: a crash loses at most one batch. */
        flushIntervalMs: Type.Integer({ minimum: 1, default: 250 }),
        batchSize: Type.Integer({ minimum: 1, default: 500 }),
        queueMax: Type.Integer({ minimum: 1, default: 50000 }),
        /** When the ledger is degraded: serve and count budgets in memory (`open`) or refuse with 429 (`closed`). */
        onDegraded: Type.Union([Type.Literal('open'), Type.Literal('closed')], { default: 'open' }),
      },
      { ...Strict, default: {} },
    ),
    /**
     * The request inspector (core/inspector): each request's redacted bodies, upstream request and
     * timeline, in memory (the most recent `maxEntries`, at most `maxBytes` together with what the
     * answers of requests in flight keep for their captures), and in
     * `<data dir>/inspector.db` (0600) only with `persist: true`, kept `retentionDays` and at most `maxDbBytes`.
     */
    inspector: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        maxEntries: Type.Integer({ minimum: 1, maximum: 100_000, default: 200 }),
        maxBytes: Type.Integer({ minimum: 65_536, default: 32 * 1024 * 1024 }),
        /** A body (request, answer, upstream) larger than this is cut, with a marker. */
        maxBodyBytes: Type.Integer({ minimum: 1024, default: 256 * 1024 }),
        persist: Type.Boolean({ default: false }),
        retentionDays: Type.Number({ minimum: 0.01, default: 3 }),
        maxDbBytes: Type.Integer({ minimum: 1_048_576, default: 256 * 1024 * 1024 }),
      },
      { ...Strict, default: {} },
    ),
  },
  { ...Strict },
);

export type Config = Static<typeof ConfigSchema>;
export type ApiKeyConfig = Static<typeof ApiKeySchema>;
export type AccountConfig = Static<typeof AccountSchema>;
export type ProviderConfig = Static<typeof ProviderSchema>;
export type AliasConfig = Static<typeof AliasSchema>;
export type AliasTargetConfig = Static<typeof AliasTargetSchema>;
export type HopOptions = Static<typeof HopOptionsSchema>;
export type ErrorRule = Static<typeof ErrorRuleSchema>;
export type Price = Static<typeof PriceSchema>;
export type LoginRecipeConfig = Static<typeof LoginRecipeSchema>;

/** Recipe defaults from shared/spec/lingma-protocol.md section 5. */
export const DEFAULT_LOGIN_RECIPE: LoginRecipeConfig = {
  frame: '#alibaba-login-box',
  username: '#fm-login-id',
  password: '#fm-login-password',
  submit: 'button[type=submit], .fm-button, .password-login',
  captcha: ['#nc_1_wrapper', '.nc-container', '#nocaptcha', '.baxia-dialog', 'iframe[src*="captcha"]'],
};
