/**
 * Sticky affinity: the key a conversation is known by (hashed, never kept in clear: it may be a
 * prompt) and the rendezvous weight that maps it to an instance name. Every node of a team
 * computes the same key and the same weights.
 */
import { createHash } from 'node:crypto';
import { textOf, type ChatRequest } from '../chat/model';

/** The affinity key of a request, hashed (never kept in clear: it may be a prompt). */
export function affinityKey(req: ChatRequest | undefined): string | undefined {
  if (!req) return undefined;
  let key: string | undefined;
  if (req.sessionKey) key = `s:${req.sessionKey}`;
  else if (req.user) key = `u:${req.user}`;
  else {
    const system = req.messages.filter((m) => m.role === 'system').map((m) => textOf(m.content)).join('\n');
    if (system) key = `p:${system}`;
    else {
      const first = req.messages.find((m) => m.role !== 'system');
      if (first) key = `m:${textOf(first.content)}`;
    }
  }
  return key === undefined ? undefined : createHash('sha1').update(key).digest('hex').slice(0, 16);
}

/** 32-bit FNV-1a with a final avalanche: cheap, well-spread rendezvous weights. */
export function weight(key: string, name: string): number {
  let h = 0x811c9dc5;
  const s = `${key}\u0000${name}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
