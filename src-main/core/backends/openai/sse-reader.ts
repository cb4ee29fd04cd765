import { createParser } from 'eventsource-parser';

/**
 * The `data:` payloads of an upstream `text/event-stream` body, each as soon as its event is
 * complete. Parsing is `eventsource-parser`'s (the SSE spec's line endings: LF, CRLF and a bare
 * CR; multi-line data; comments; lines split across chunks); this only adapts a byte stream to
 * it. Bytes are decoded with a streaming decoder, so a multibyte character split across chunks
 * stays intact.
 *
 * One leniency beyond the spec: an event the server did not end with a blank line before
 * closing (`data: [DONE]` then EOF) is still delivered.
 */
export async function* readSseData(body: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8');
  // Filled by the parser during feed() and drained right after: one array for the whole stream.
  const ready: string[] = [];
  const parser = createParser({ onEvent: (ev) => void ready.push(ev.data) });
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (ready.length === 0) continue;
    for (let i = 0; i < ready.length; i++) yield ready[i]!;
    ready.length = 0;
  }
  // End the last line and the last event (a no-op when the stream ended with a blank line).
  parser.feed(`${decoder.decode()}\n\n`);
  for (let i = 0; i < ready.length; i++) yield ready[i]!;
}
