/**
 * Local OpenAI-compatible servers on their usual ports: what they are called, and one probe
 * (`GET /v1/models`) that says whether one answers and with which models.
 * SECURITY: only 127.0.0.1 is ever probed. The host is not a parameter: discovery must not become
 * a way to make the relay scan other machines (or follow a redirect to one).
 */
import { request } from './undici';
import type { LocalServerId } from '../../state-types';

export const LOOPBACK = '127.0.0.1';

export interface LocalServerKind {
  id: LocalServerId;
  label: string;
  port: number;
}

/** The servers discovery knows, in the order they are offered. */
export const LOCAL_SERVERS: readonly LocalServerKind[] = [
  { id: 'ollama', label: 'Ollama', port: 11434 },
  { id: 'lmstudio', label: 'LM Studio', port: 1234 },
  { id: 'llamacpp', label: 'llama.cpp server', port: 8080 },
  { id: 'vllm', label: 'vLLM', port: 8000 },
];

export function localBaseUrl(port: number): string {
  return `http://${LOOPBACK}:${port}/v1`;
}

const BODY_LIMIT = 256 * 1024;

/**
 * `GET http://127.0.0.1:PORT/v1/models` within `timeoutMs`. Returns the model ids when the answer
 * is an OpenAI model list (`{data:[{id}]}`; Ollama's `{models:[{name}]}` too), `undefined` when
 * nothing answers there or something else does (no redirect is followed).
 */
export async function probeLocalServer(port: number, timeoutMs: number): Promise<string[] | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await request(`${localBaseUrl(port)}/models`, {
      method: 'GET',
      signal,
      headers: { accept: 'application/json' },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (res.statusCode !== 200) {
      res.body.destroy();
      return undefined;
    }
    let text = '';
    for await (const chunk of res.body) {
      text += chunk.toString();
      if (text.length > BODY_LIMIT) {
        res.body.destroy();
        return undefined;
      }
    }
    const json = JSON.parse(text) as { data?: unknown; models?: unknown };
    const list = Array.isArray(json?.data) ? json.data : Array.isArray(json?.models) ? json.models : undefined;
    if (!list) return undefined;
    return list
      .map((m) => (m && typeof m === 'object' ? String((m as { id?: unknown; name?: unknown }).id ?? (m as { name?: unknown }).name ?? '') : ''))
      .filter((id) => id.length > 0 && id.length <= 200);
  } catch {
    // Refused, timed out, not JSON: nothing usable there.
    return undefined;
  }
}
