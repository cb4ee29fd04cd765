/**
 * The OpenAI chat wire format for the shared execution (../shared/stream.ts): `ChatStream` writes
 * `chat.completion.chunk` frames, `ChatBody` folds a whole `chat.completion`.
 */
import { ChatFold } from '../../chat/collect';
import type { ChatEvent, Usage } from '../../chat/model';
import { toOpenAIError, type RelayError } from '../../errors';
import type { Resolved } from '../../dispatch/types';
import type { BodyEncoder, StreamEncoder } from '../shared/stream';
import { ChunkRenderer, completionBody } from './translate';

export class ChatStream implements StreamEncoder<string> {
  private r: ChunkRenderer | undefined;

  /** Usage is the dispatcher's one usage event (real figures or its one estimate); nothing is estimated here. */
  constructor(
    private readonly id: string,
    private readonly created: number,
    private readonly includeUsage: boolean,
  ) {}

  /** The role comes with the first content chunk: nothing to send at the start. */
  start(resolved: Resolved): string {
    this.r = new ChunkRenderer(this.id, this.created, resolved.label, this.includeUsage);
    return '';
  }

  push(ev: ChatEvent): string {
    return this.r!.frame(ev);
  }

  end(): string {
    return this.r!.end(this.r!.usage);
  }

  /** One error event, then `[DONE]`. */
  fail(err: RelayError): string {
    return ChunkRenderer.error(toOpenAIError(err));
  }
}

export class ChatBody implements BodyEncoder<Record<string, unknown>> {
  private readonly fold = new ChatFold();

  constructor(
    private readonly id: string,
    private readonly created: number,
    private readonly label: string,
    /** The dispatcher's prompt figure, read only if the answer carries no usage. */
    private readonly prompt: () => number,
  ) {}

  push(ev: ChatEvent): void {
    this.fold.push(ev);
  }

  body(): Record<string, unknown> {
    const result = this.fold.result();
    // The dispatcher always sends one usage event; without one, its prompt figure and nothing counted.
    const usage: Usage = result.usage ?? { promptTokens: this.prompt(), completionTokens: 0, estimated: true };
    return completionBody(this.id, this.created, this.label, result, usage);
  }
}
