/**
 * Reasoning inside the answer text between ````think:: and ```` fences (spec §4 verified values),
 * split out into reasoning, across chunk boundaries: a fence may arrive in pieces, so a tail that
 * could still become a fence is held back until the next chunk (or `flush`).
 */
export const THINK_OPEN = '````think::';
export const THINK_CLOSE = '````';

export interface Piece {
  kind: 'text' | 'reasoning';
  text: string;
}

export class ThinkSplitter {
  private inThink = false;
  private held = '';
  /** A fence just ended the text seen so far: a newline at the start of what follows is dropped. */
  private afterFence = false;

  push(chunk: string): Piece[] {
    let s = this.held + chunk;
    this.held = '';
    const out: Piece[] = [];
    for (;;) {
      if (this.afterFence && s) {
        if (s === '\r') {
          this.held = s;
          return merge(out);
        }
        // A newline right after a fence belongs to the fence.
        if (s.startsWith('\r\n')) s = s.slice(2);
        else if (s.startsWith('\n')) s = s.slice(1);
        this.afterFence = false;
      }
      const marker = this.inThink ? THINK_CLOSE : THINK_OPEN;
      const kind = this.inThink ? 'reasoning' : 'text';
      const at = s.indexOf(marker);
      if (at >= 0) {
        if (at > 0) out.push({ kind, text: s.slice(0, at) });
        s = s.slice(at + marker.length);
        this.inThink = !this.inThink;
        this.afterFence = true;
        continue;
      }
      const keep = partialSuffix(s, marker);
      const emit = s.slice(0, s.length - keep);
      if (emit) out.push({ kind, text: emit });
      this.held = s.slice(s.length - keep);
      return merge(out);
    }
  }

  /** The end of the answer: whatever is held back is plain content of the current kind. */
  flush(): Piece[] {
    const s = this.held;
    this.held = '';
    return s ? [{ kind: this.inThink ? 'reasoning' : 'text', text: s }] : [];
  }
}

/** Only the answer text of a whole string (fences removed), e.g. a `fullAnswer`. */
export function answerOnly(s: string): string {
  const t = new ThinkSplitter();
  return [...t.push(s), ...t.flush()].filter((p) => p.kind === 'text').map((p) => p.text).join('');
}

/** Length of the longest suffix of `s` that is a proper prefix of `marker`. */
function partialSuffix(s: string, marker: string): number {
  for (let n = Math.min(s.length, marker.length - 1); n > 0; n--) if (marker.startsWith(s.slice(s.length - n))) return n;
  return 0;
}

function merge(pieces: Piece[]): Piece[] {
  const out: Piece[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && last.kind === p.kind) last.text += p.text;
    else out.push({ ...p });
  }
  return out;
}
