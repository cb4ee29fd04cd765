/**
 * TypeBox schemas of the OpenAI request bodies we read. Fields we do not read are allowed and
 * ignored (clients send many: `store`, `metadata`, `logprobs` ...). Checked with a compiled
 * validator; the first problem becomes a 400 naming the field.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { errors, type RelayError } from '../../errors';
import { describeSchema, keyPath, showValue } from '../../config/validate';
import { ValueErrorType } from '@sinclair/typebox/value';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const TextPart = Type.Object({ type: Type.Literal('text'), text: Type.String() });
const ImagePart = Type.Object({
  type: Type.Literal('image_url'),
  image_url: Type.Union([
    Type.String(),
    Type.Object({ url: Type.String(), detail: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('low'), Type.Literal('high')])) }),
  ]),
});
const OtherPart = Type.Object({ type: Type.String() });
// `hint`: our own keyword, the message when a value fits no member of a union.
const ContentPart = Type.Union([TextPart, ImagePart, OtherPart], {
  hint: 'must be a content part object, e.g. {"type":"text","text":"..."}',
});

const ToolCallSchema = Type.Object({
  id: Type.String(),
  type: Type.Optional(Type.String()),
  function: Type.Object({ name: Type.String(), arguments: Type.Optional(Type.String()) }),
});

export const MessageSchema = Type.Object({
  role: Type.Union(['system', 'developer', 'user', 'assistant', 'tool', 'function'].map((r) => Type.Literal(r))),
  content: Type.Optional(Nullable(Type.Union([Type.String(), Type.Array(ContentPart)]))),
  name: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Nullable(Type.Array(ToolCallSchema))),
  tool_call_id: Type.Optional(Type.String()),
  function_call: Type.Optional(Nullable(Type.Object({ name: Type.String(), arguments: Type.Optional(Type.String()) }))),
  reasoning_content: Type.Optional(Nullable(Type.String())),
});

const FunctionDef = Type.Object({
  name: Type.String({ minLength: 1 }),
  description: Type.Optional(Type.String()),
  parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  strict: Type.Optional(Nullable(Type.Boolean())),
});

const ToolSchema = Type.Object({ type: Type.Literal('function'), function: FunctionDef });

const ToolChoiceSchema = Type.Union([
  Type.Literal('auto'),
  Type.Literal('none'),
  Type.Literal('required'),
  Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String() }) }),
]);

const Num = (min: number, max: number) => Type.Number({ minimum: min, maximum: max });

export const ChatCompletionSchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  messages: Type.Array(MessageSchema, { minItems: 1 }),
  stream: Type.Optional(Nullable(Type.Boolean())),
  stream_options: Type.Optional(Nullable(Type.Object({ include_usage: Type.Optional(Type.Boolean()) }))),
  n: Type.Optional(Nullable(Type.Integer())),
  tools: Type.Optional(Nullable(Type.Array(ToolSchema))),
  tool_choice: Type.Optional(Nullable(ToolChoiceSchema)),
  parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
  functions: Type.Optional(Nullable(Type.Array(FunctionDef))),
  function_call: Type.Optional(Nullable(Type.Union([Type.Literal('auto'), Type.Literal('none'), Type.Object({ name: Type.String() })]))),
  response_format: Type.Optional(Nullable(Type.Object({ type: Type.String() }))),
  stop: Type.Optional(Nullable(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 16 })]))),
  temperature: Type.Optional(Nullable(Num(0, 2))),
  top_p: Type.Optional(Nullable(Num(0, 1))),
  top_k: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  max_completion_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  seed: Type.Optional(Nullable(Type.Integer())),
  user: Type.Optional(Nullable(Type.String())),
  prompt_cache_key: Type.Optional(Nullable(Type.String())),
  reasoning_effort: Type.Optional(
    Nullable(Type.Union(['minimal', 'low', 'medium', 'high'].map((e) => Type.Literal(e)))),
  ),
});

export const EmbeddingsSchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  input: Type.Union([
    Type.String(),
    Type.Array(Type.String(), { minItems: 1 }),
    Type.Array(Type.Integer(), { minItems: 1 }),
    Type.Array(Type.Array(Type.Integer(), { minItems: 1 }), { minItems: 1 }),
  ], { hint: 'must be a string, an array of strings, an array of tokens, or an array of token arrays' }),
  encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
  dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
  user: Type.Optional(Type.String()),
});

export const chatCheck = TypeCompiler.Compile(ChatCompletionSchema);
export const embeddingsCheck = TypeCompiler.Compile(EmbeddingsSchema);

type Checker = typeof chatCheck | typeof embeddingsCheck;

function typeMatches(schema: TSchema, value: unknown): boolean {
  const s = schema as { type?: string; const?: unknown; properties?: Record<string, TSchema> };
  if (s.const !== undefined) return value === s.const;
  if (s.type === 'object') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    // discriminate content parts / tools by a literal `type`
    const t = s.properties?.type as { const?: unknown } | undefined;
    return t?.const === undefined || (value as { type?: unknown }).type === t.const;
  }
  if (s.type === 'array') return Array.isArray(value);
  if (s.type === 'integer') return typeof value === 'number';
  if (s.type === 'null') return value === null;
  return typeof value === s.type;
}

/** The first problem of a body as a 400 naming the field, e.g. `messages[0].role`. */
export function firstProblem(check: Checker, body: unknown): RelayError {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return errors.invalid('Request body must be a JSON object.');
  }
  const e = check.Errors(body).First();
  if (!e) return errors.invalid('Invalid request.');
  let schema = e.schema;
  let value = e.value;
  let path = e.path;
  // Inside a union, explain against the member that fits the value's type.
  for (let depth = 0; depth < 4 && e.type === ValueErrorType.Union; depth++) {
    const members = flatMembers(schema).filter((m) => typeMatches(m, value));
    if (members.length !== 1) break;
    const inner = TypeCompiler.Compile(members[0]).Errors(value).First();
    if (!inner) break;
    schema = inner.schema;
    value = inner.value;
    path = path + inner.path;
    if (inner.type !== ValueErrorType.Union) {
      return problem(path, inner.type, schema, value);
    }
  }
  return problem(path, e.type, schema, value);
}

/** The leaf members of a union, nested unions (e.g. a nullable union) flattened. */
function flatMembers(schema: TSchema): TSchema[] {
  const any = (schema as { anyOf?: TSchema[] }).anyOf;
  if (!any) return [schema];
  return any.flatMap((m) => ((m as { anyOf?: TSchema[] }).anyOf ? flatMembers(m) : [m]));
}

function problem(pointer: string, type: ValueErrorType, schema: TSchema, value: unknown): RelayError {
  const param = keyPath(pointer);
  if (type === ValueErrorType.ObjectRequiredProperty || value === undefined) return errors.invalid(`${param}: required`, param, 'missing_required_parameter');
  const hint = (schema as { hint?: unknown }).hint;
  if (typeof hint === 'string' && (schema as { anyOf?: unknown }).anyOf) {
    return errors.invalid(`${param} ${hint}; got ${showValue(value)}`, param);
  }
  if (type === ValueErrorType.ArrayMinItems && (schema as { minItems?: number }).minItems === 1) {
    return errors.invalid(`${param}: must not be empty`, param);
  }
  return errors.invalid(`${param}: expected ${describeSchema(schema)}, got ${showValue(value)}`, param);
}
