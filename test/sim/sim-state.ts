/** The simulator's shared state: login records, faults (`/__sim/control`), stats, models. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const VERSION = '2.11.1-sim';
export const log = (...a: unknown[]) => process.stderr.write(`[lingma-sim ${process.pid}] ${a.map(String).join(' ')}\n`);

/** Set by the entry point. */
export const env = { workDir: '', httpPort: 0, socketPort: 0, loginBase: 'https://lingma.alibabacloud.com', transportType: null as string | null };

export interface UserRecord {
  id: string;
  name: string;
  accountId: string;
  token: string;
  refreshToken: string;
  expireTime: number;
  userType: string;
  quotaExceeded?: boolean;
}

export const userFile = (workDir: string) => join(workDir, 'cache', 'user');
export function readUser(workDir = env.workDir): UserRecord | undefined {
  try {
    return JSON.parse(readFileSync(userFile(workDir), 'utf8')) as UserRecord;
  } catch {
    return undefined;
  }
}
export function writeUser(workDir: string, name: string): UserRecord {
  const rec: UserRecord = {
    id: `uid-${createHash('sha256').update(name).digest('hex').slice(0, 12)}`,
    name,
    accountId: `acc-${name}`,
    token: `tok-${randomBytes(8).toString('hex')}`,
    refreshToken: `rt-${randomBytes(8).toString('hex')}`,
    expireTime: Date.now() + 30 * 24 * 3600 * 1000,
    userType: 'personal_standard',
  };
  mkdirSync(join(workDir, 'cache'), { recursive: true });
  writeFileSync(userFile(workDir), JSON.stringify(rec));
  writeFileSync(join(workDir, 'cache', 'id'), rec.id);
  return rec;
}

export interface ReplyPlan {
  /** `default`: a fixed deterministic answer; `echo`: "echo: <question text>"; `fixed`: `text`. */
  mode?: 'default' | 'echo' | 'fixed';
  text?: string;
  deltas?: number;
  /** Send the second delta as an `overwrite` that extends the text (default true; legacy only). */
  overwrite?: boolean;
  /** Send an overwrite that rewrites already-sent text (legacy only). */
  rewrite?: boolean;
  /** Reasoning (`chat/think`, or `agent_thought_chunk`). */
  think?: string;
  /** Put the reasoning inside the answer between ````think:: fences instead (split mid-fence). */
  thinkFences?: boolean;
  delayMs?: number;
  /** Put `fullAnswer` in `chat/finish` (default true). */
  fullAnswer?: boolean;
}

/** A failure the runtime reports (spec §8), used once. */
export interface UpstreamError {
  status: number;
  message: string;
  /** Extra fields on the finish (e.g. `isQueued`, `retryAfterSeconds`). */
  fields?: Record<string, unknown>;
  /** `finish` (default), `ack` (legacy acknowledgement / JSON-RPC error of session/prompt), `stream` (answer text). */
  where?: 'finish' | 'ack' | 'stream';
}

export interface Faults {
  /** Which dialect(s) the runtime speaks; the other answers -32601. */
  dialect: 'chat' | 'session' | 'both';
  split: number;
  splitBinary: boolean;
  batch: boolean;
  crashAfterDeltas: number | null;
  hang: 'no_ack' | 'no_stream' | 'all' | null;
  finishStatus: number[];
  noFinish: boolean;
  filtered: boolean;
  blockUnknownSessions: boolean;
  blockAllSessions: boolean;
  toolInvoke: boolean;
  quotaExceeded: boolean;
  /** With quotaExceeded: a reset time (ms since epoch) in auth/status. */
  quotaResetTime: number | null;
  /** Use `is_quota_exceeded` instead of `IsQuotaExceeded`. */
  quotaSnakeCase: boolean;
  /** Next ack: `isSuccess: false` (legacy). */
  ackIsSuccessFalse: boolean;
  /** Next answer: an `error` / `fatal_error` push after n deltas. */
  errorPush: { method: 'error' | 'fatal_error'; message: string; afterDeltas?: number } | null;
  /** Legacy: send `context/usage/sync`; session: send `context_usage` (default true). */
  usageSync: boolean | null;
  upstreamError: UpstreamError | null;
  /** `login/generateUrl` answers -32601; `auth/login` gives the URL. */
  noGenerateUrl: boolean;
  /** session/cancel answers -32601 (the driver falls back to chat/stop). */
  noSessionCancel: boolean;
  /** The next n `auth/status` calls answer an internal error (a runtime slow to settle after start). */
  authStatusErrors: number;
  reply: ReplyPlan;
}

export const faults: Faults = {
  dialect: 'chat',
  split: 0,
  splitBinary: false,
  batch: false,
  crashAfterDeltas: null,
  hang: null,
  finishStatus: [],
  noFinish: false,
  filtered: false,
  blockUnknownSessions: true,
  blockAllSessions: false,
  toolInvoke: true,
  quotaExceeded: false,
  quotaResetTime: null,
  quotaSnakeCase: false,
  ackIsSuccessFalse: false,
  errorPush: null,
  usageSync: null,
  upstreamError: null,
  noGenerateUrl: false,
  noSessionCancel: false,
  authStatusErrors: 0,
  reply: {},
};

/** Take a one-shot fault. */
export function take<K extends 'crashAfterDeltas' | 'noFinish' | 'filtered' | 'ackIsSuccessFalse' | 'errorPush' | 'upstreamError'>(k: K): Faults[K] {
  const v = faults[k];
  (faults as unknown as Record<string, unknown>)[k] = k === 'crashAfterDeltas' || k === 'errorPush' || k === 'upstreamError' ? null : false;
  return v;
}

export interface AskRecord {
  requestId: string;
  sessionIdIn: string;
  sessionIdOut: string;
  isReply: boolean;
  mode: string;
  sessionType: string;
  model: string;
  hasModelConfig: boolean;
  customModel: unknown;
  pluginPayloadConfig: unknown;
  promptBytes: number;
  text: string;
  answer: string;
  statusCode: number | null;
}

export interface PromptRecord {
  requestId: string;
  sessionIdIn: string;
  model: string;
  mode: string;
  meta: Record<string, unknown>;
  promptBytes: number;
  text: string;
  images: unknown[];
  contextParams: unknown[];
  answer: string;
  statusCode: number | null;
}

export const stats = {
  pid: process.pid,
  version: VERSION,
  asks: [] as AskRecord[],
  prompts: [] as PromptRecord[],
  sessionsCreated: [] as string[],
  setModels: [] as Array<{ sessionId: string; modelId: string }>,
  cancels: [] as string[],
  deletedSessions: [] as string[],
  stops: [] as string[],
  initializes: 0,
  ignoredWhileWedged: 0,
  workspacePathEmpty: 0,
  unknownHeaders: 0,
  unknownMethods: [] as string[],
  serverRequestsSent: 0,
  serverRequestsAnswered: 0,
  nonNullAnswers: 0,
  toolInvokeResults: [] as unknown[],
  logouts: 0,
  authLogins: 0,
  endpoint: 'https://lingma.alibabacloud.com',
  endpointUpdates: [] as string[],
  callbacks: 0,
  connections: 0,
};

export function resetStats(): void {
  for (const k of ['asks', 'prompts', 'sessionsCreated', 'setModels', 'cancels', 'deletedSessions', 'stops', 'unknownMethods', 'toolInvokeResults'] as const) stats[k] = [] as never;
  stats.serverRequestsSent = 0;
  stats.serverRequestsAnswered = 0;
  stats.nonNullAnswers = 0;
}

export const unanswered = new Map<number, { method: string; at: number }>();
/** Upstream sessions (both dialects) and the model each was set to. */
export const sessions = new Map<string, { turns: number; model?: string }>();
export const issuedStates = new Set<string>();

export const FINISH_REASONS: Record<number, string> = {
  406: 'Session blocked, please clear context',
  408: 'Response timeout',
  80408: 'Response timeout',
  500: 'Internal server error',
  418: 'Unknown sse issue',
  101: 'Signature invalid',
};

export const DEFAULT_ANSWER = 'Hello from the Lingma simulator. This answer is deterministic.';
export const REASONING_MODELS = new Set(['dashscope_qwq']);
const MODEL_LIST = [
  { key: 'dashscope_qwen3_coder_default', displayName: 'Auto', format: 'openai', source: 'system', isReasoning: false, isVl: false, url: '', apiKey: '', model: '' },
  { key: 'dashscope_qwen3_coder', displayName: 'Qwen3-Coder', format: 'openai', source: 'system', isReasoning: false, isVl: false },
  { key: 'dashscope_qwen_max_latest', displayName: 'Qwen-Max', format: 'openai', source: 'system', isReasoning: false, isVl: true },
  { key: 'dashscope_qwq', displayName: 'QwQ', format: 'openai', source: 'system', isReasoning: true, isVl: false },
];
const INLINE_ONLY = { key: 'dashscope_qwen_coder_inline', displayName: 'Qwen-Coder-Inline', format: 'openai', source: 'system', isReasoning: false, isVl: false };
export const MODELS = {
  assistant: MODEL_LIST.slice(0, 3),
  chat: MODEL_LIST,
  developer: MODEL_LIST.slice(1, 2),
  inline: [MODEL_LIST[1], INLINE_ONLY],
  quest: [MODEL_LIST[0], MODEL_LIST[1]],
};

/** Split into n pieces by characters (never inside a surrogate pair). */
export function splitPieces(s: string, n: number): string[] {
  const chars = Array.from(s);
  const size = Math.max(1, Math.ceil(chars.length / n));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out.length ? out : [''];
}

/** The answer text of a plan, and the reasoning to send (`think`, or the default of a reasoning model). */
export function plannedAnswer(text: string, model: string): { answer: string; think?: string } {
  const plan = faults.reply;
  const answer = plan.mode === 'echo' ? `echo: ${text}` : plan.mode === 'fixed' ? (plan.text ?? '') : DEFAULT_ANSWER;
  return { answer, think: plan.think ?? (REASONING_MODELS.has(model) ? 'Considering the question step by step.' : undefined) };
}

/** The answer's pieces; with `thinkFences` the reasoning is inside the text, cut through the fences. */
export function answerPieces(answer: string, think: string | undefined): string[] {
  const plan = faults.reply;
  const n = Math.max(1, plan.deltas ?? 4);
  if (plan.thinkFences && think) {
    const whole = `\`\`\`\`think::\n${think}\`\`\`\`\n${answer}`;
    // Odd piece sizes so fences are cut in the middle.
    const out: string[] = [];
    for (let i = 0; i < whole.length; i += 5) out.push(whole.slice(i, i + 5));
    return out;
  }
  return splitPieces(answer, n);
}
