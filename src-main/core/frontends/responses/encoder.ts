/**
 * The Responses wire format for the shared execution (../shared/stream.ts): one adapter of
 * `ResponsesEncoder` for SSE frames (`event: <type>` + `data: <json>`) and one for WebSocket
 * messages (the events themselves), and the whole response for non-streaming answers. `done` is
 * told the finished encoder, for the conversation store.
 */
import type { ChatEvent } from '../../chat/model';
import type { Json } from '../shared/check';
import type { RelayError } from '../../errors';
import type { Resolved } from '../../dispatch/types';
import type { BodyEncoder, StreamEncoder } from '../shared/stream';
import type { ParsedResponsesRequest } from './request';
import { ResponsesEncoder, type ResponsesEvent } from './response';

type Done = (enc: ResponsesEncoder) => void;

abstract class ResponsesWire<F> implements StreamEncoder<F> {
  private enc: ResponsesEncoder | undefined;

  constructor(
    private readonly parsed: ParsedResponsesRequest,
    private readonly done: Done,
  ) {}

  protected abstract out(events: ResponsesEvent[]): F;

  private encoder(model: string, prompt: () => number): ResponsesEncoder {
    return new ResponsesEncoder(model, this.parsed.echo, this.parsed.customTools, prompt);
  }

  start(resolved: Resolved, prompt: () => number): F {
    this.enc = this.encoder(resolved.label, prompt);
    return this.out(this.enc.start());
  }

  push(ev: ChatEvent): F {
    return this.out(this.enc!.push(ev));
  }

  end(): F {
    const events = this.enc!.end();
    this.done(this.enc!);
    return this.out(events);
  }

  /** `response.failed`; before the start (only keep-alives sent) the response is created first. */
  fail(err: RelayError): F {
    if (this.enc) return this.out(this.enc.fail(err));
    // Failed before any answer: nothing was counted.
    const enc = this.encoder(this.parsed.request.model, () => 0);
    return this.out([...enc.start(), ...enc.fail(err)]);
  }
}

export class ResponsesSse extends ResponsesWire<string> {
  protected out(events: ResponsesEvent[]): string {
    let s = '';
    for (let i = 0; i < events.length; i++) s += `event: ${events[i].type}\ndata: ${JSON.stringify(events[i])}\n\n`;
    return s;
  }
}

/** WebSocket: each event is one message (the sink sends them). */
export class ResponsesMessages extends ResponsesWire<ResponsesEvent[]> {
  protected out(events: ResponsesEvent[]): ResponsesEvent[] {
    return events;
  }
}

export class ResponsesBody implements BodyEncoder<Json> {
  private readonly enc: ResponsesEncoder;

  constructor(
    label: string,
    parsed: ParsedResponsesRequest,
    prompt: () => number,
    private readonly done: Done,
  ) {
    this.enc = new ResponsesEncoder(label, parsed.echo, parsed.customTools, prompt);
  }

  push(ev: ChatEvent): void {
    this.enc.push(ev);
  }

  body(): Json {
    this.enc.end();
    this.done(this.enc);
    return this.enc.response();
  }
}
