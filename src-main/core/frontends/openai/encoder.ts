/**
 * The OpenAI chat wire format for the shared execution (../shared/stream.ts): `ChatStream` writes
 * `chat.completion.chunk` frames, `ChatBody` folds a whole `chat.completion`.
 */
import { ChatFold } from '../../chat/collect';
import type { ChatEvent, ChatRequest, Usage } from '../../chat/model';
import { estimatePromptTokens, estimateTokens } from '../../chat/tokens';
import { toOpenAIError, type RelayError } from '../../errors';
import type { Resolved } from '../../gateway/types';
import type { BodyEncoder, StreamEncoder } from '../shared/stream';
import { ChunkRenderer, completionBody } from './translate';

export class ChatStream implements StreamEncoder<string> {
  private r: ChunkRenderer | undefined;
  private completion = 0;

  constructor(
    private readonly id: string,
    private readonly created: number,
    private readonly request: ChatRequest,
    private readonly includeUsage: boolean,
  ) {}

  /** The role comes with the first content chunk: nothing to send at the start. */
  start(resolved: Resolved): string {
    this.r = new ChunkRenderer(this.id, this.created, resolved.label, this.includeUsage);
    return '';
  }

  push(ev: ChatEvent): string {
    const frame = this.r!.frame(ev);
    if (frame && this.includeUsage && (ev.type === 'text' || ev.type === 'reasoning')) this.completion += estimateTokens(ev.text);
    return frame;
  }

  end(): string {
    let usage = this.r!.usage;
    if (!usage && this.includeUsage) usage = { promptTokens: estimatePromptTokens(this.request), completionTokens: this.completion, estimated: true };
    return this.r!.end(usage);
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
    private readonly request: ChatRequest,
  ) {}

  push(ev: ChatEvent): void {
    this.fold.push(ev);
  }

  body(): Record<string, unknown> {
    const result = this.fold.result();
    const usage: Usage = result.usage ?? {
      promptTokens: estimatePromptTokens(this.request),
      completionTokens: estimateTokens(result.text) + estimateTokens(result.reasoning) + result.toolCalls.reduce((n, c) => n + estimateTokens(c.arguments), 0),
      estimated: true,
    };
    return completionBody(this.id, this.created, this.label, result, usage);
  }
}
