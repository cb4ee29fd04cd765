/**
 * Incremental reader of an upstream `text/event-stream` body: yields the `data:` payload of each
 * event as soon as its terminating blank line arrives. Handles CRLF, events split across network
 * chunks, multi-line data, comments. Works on bytes until a line is complete, so a multibyte
 * character split across chunks is never corrupted.
 */
export async function* readSseData(body: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  let buf = '';
  let data: string[] = [];
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (;;) {
      const nl = buf.indexOf('\n', start);
      if (nl === -1) break;
      let line = buf.slice(start, nl);
      start = nl + 1;
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) {
          yield data.length === 1 ? data[0] : data.join('\n');
          data = [];
        }
        continue;
      }
      if (line.charCodeAt(0) === 58 /* ':' */) continue; // comment / keep-alive
      if (line.startsWith('data:')) data.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
      // `event:`, `id:`, `retry:` fields carry nothing an OpenAI-compatible chat stream needs.
    }
    buf = start === 0 ? buf : buf.slice(start);
  }
  buf += decoder.decode();
  if (buf.startsWith('data:')) data.push(buf.slice(buf.charCodeAt(5) === 32 ? 6 : 5).replace(/\r?\n?$/, ''));
  if (data.length) yield data.join('\n');
}
