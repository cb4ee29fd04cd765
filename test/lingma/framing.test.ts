import { describe, expect, it } from 'vitest';
import { FrameReader, FramingError, encodeFrame } from '../../src-main/core/backends/lingma/framing';

const msg = (i: number, text = 'hi') => ({ jsonrpc: '2.0', id: i, method: 'chat/answer', params: { text } });

describe('framing', () => {
  it('encodes the Content-Length as UTF-8 bytes', () => {
    const f = encodeFrame({ t: 'é中😀' });
    const [head, body] = f.split('\r\n\r\n');
    expect(head).toBe(`Content-Length: ${Buffer.byteLength(body, 'utf8')}`);
    expect(Buffer.byteLength(body, 'utf8')).toBeGreaterThan(body.length);
  });

  it('reads one whole frame', () => {
    const r = new FrameReader();
    expect(r.push(encodeFrame(msg(1)))).toEqual([msg(1)]);
    expect(r.pending).toBe(0);
  });

  it('reads a frame split across many messages, byte by byte', () => {
    const r = new FrameReader();
    const bytes = Buffer.from(encodeFrame(msg(2, 'split')), 'utf8');
    const out: unknown[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...r.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual([msg(2, 'split')]);
  });

  it('reads several frames batched into one message', () => {
    const r = new FrameReader();
    const all = encodeFrame(msg(1)) + encodeFrame(msg(2)) + encodeFrame(msg(3));
    expect(r.push(all)).toEqual([msg(1), msg(2), msg(3)]);
  });

  it('reads batched frames whose boundaries fall mid-message', () => {
    const r = new FrameReader();
    const bytes = Buffer.from(encodeFrame(msg(1, 'a')) + encodeFrame(msg(2, 'b')) + encodeFrame(msg(3, 'c')), 'utf8');
    const cut1 = 30;
    const cut2 = bytes.length - 7;
    const out = [...r.push(bytes.subarray(0, cut1)), ...r.push(bytes.subarray(cut1, cut2)), ...r.push(bytes.subarray(cut2))];
    expect(out).toEqual([msg(1, 'a'), msg(2, 'b'), msg(3, 'c')]);
  });

  it('keeps a multibyte UTF-8 character split mid-character intact', () => {
    const r = new FrameReader();
    const m = msg(4, '你好😀é');
    const bytes = Buffer.from(encodeFrame(m), 'utf8');
    // Find the byte index of the emoji's first byte and cut inside it.
    const body = bytes.indexOf(Buffer.from('😀', 'utf8'));
    expect(body).toBeGreaterThan(0);
    const a = r.push(bytes.subarray(0, body + 2));
    expect(a).toEqual([]);
    expect(r.push(bytes.subarray(body + 2))).toEqual([m]);
  });

  it('accepts other headers and any header case', () => {
    const r = new FrameReader();
    const body = JSON.stringify({ a: 1 });
    expect(r.push(`content-type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`)).toEqual([{ a: 1 }]);
  });

  it('rejects bare JSON with "Unknown message header"', () => {
    const r = new FrameReader();
    expect(() => r.push('{"jsonrpc":"2.0"}')).toThrow(/Unknown message header/);
  });

  it('rejects garbage headers and stays failed', () => {
    const r = new FrameReader();
    expect(() => r.push('%%% nonsense\r\n\r\n')).toThrow(FramingError);
    expect(() => r.push(encodeFrame(msg(1)))).toThrow(FramingError);
  });

  it('rejects a missing or non-numeric Content-Length', () => {
    expect(() => new FrameReader().push('X-Other: 1\r\n\r\n{}')).toThrow(/no Content-Length/);
    expect(() => new FrameReader().push('Content-Length: abc\r\n\r\n{}')).toThrow(/Bad Content-Length/);
  });

  it('rejects a body that is not JSON, and an oversize frame', () => {
    expect(() => new FrameReader().push('Content-Length: 3\r\n\r\nabc')).toThrow(/not JSON/);
    expect(() => new FrameReader(10).push('Content-Length: 100\r\n\r\n')).toThrow(/exceeds the limit/);
  });

  it('rejects a header that never ends', () => {
    const r = new FrameReader();
    expect(() => r.push(`Content-Length: 5${' '.repeat(9000)}`)).toThrow(/no header terminator/);
  });

  // The cases below are where vscode-jsonrpc's reader differs from the runtime's needs
  // (ARCHITECTURE.md, "Lingma framing: ours, not vscode-jsonrpc").
  it('tolerates a stray line break after a frame (a writer that ends frames with CRLF)', () => {
    const r = new FrameReader();
    expect([...r.push(`${encodeFrame(msg(1))}\r\n`), ...r.push(encodeFrame(msg(2)))]).toEqual([msg(1), msg(2)]);
  });

  it('fails at once on bare JSON and on a corrupt huge length, instead of waiting for more bytes', () => {
    expect(() => new FrameReader().push('{"jsonrpc":"2.0","id":1}')).toThrow(FramingError);
    expect(() => new FrameReader(1024).push('Content-Length: 999999999\r\n\r\n{')).toThrow(/exceeds the limit/);
  });

  it('a body that is not JSON stops the reader: nothing after it is read', () => {
    const r = new FrameReader();
    expect(() => r.push(`Content-Length: 3\r\n\r\nabc${encodeFrame(msg(2))}`)).toThrow(/not JSON/);
    expect(() => r.push(encodeFrame(msg(3)))).toThrow(FramingError);
  });

  it('waits for a partial header without failing', () => {
    const r = new FrameReader();
    expect(r.push('Content-Le')).toEqual([]);
    expect(r.push('ngth: 2\r\n\r\n{}')).toEqual([{}]);
  });
});
