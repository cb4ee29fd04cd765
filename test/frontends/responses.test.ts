import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { fakeUsage } from '../fakes/openai-upstream';
import { KEY, OTHER_KEY, startHarness, type Harness } from './harness';

let h: Harness;
const json = (r: Response): Promise<any> => r.json();
let client: OpenAI;

beforeAll(async () => {
  h = await startHarness();
  client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => {
  await h?.close();
});

const post = (body: unknown, key = KEY) =>
  fetch(`${h.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('Responses over HTTP with the openai SDK', () => {
  it('answers a string input', async () => {
    const { data, response } = await client.responses.create({ model: 'gpt-5', input: 'hello', instructions: 'be brief' }).withResponse();
    expect(data.object).toBe('response');
    expect(data.id).toMatch(/^resp_/);
    expect(data.status).toBe('completed');
    expect(data.model).toBe('fake/fake-model');
    expect(data.output_text).toBe('Echo: hello');
    expect(data.output[0]).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Echo: hello' }] });
    expect(response.headers.get('x-relay-resolved')).toBe('fake/fake-model');
    const up = h.fake.requests.at(-1);
    const usage = fakeUsage(up.messages, 'Echo: hello');
    expect(data.usage).toMatchObject({ input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens, total_tokens: usage.total_tokens });
    expect(up.messages[0]).toMatchObject({ role: 'system' });
  });

  it('streams the Responses events in order', async () => {
    const stream = await client.responses.create({ model: 'gpt-5', input: [{ role: 'user', content: [{ type: 'input_text', text: 'stream me' }] }], stream: true });
    const types: string[] = [];
    const seqs: number[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      seqs.push(ev.sequence_number);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
      if (ev.type === 'response.completed') completed = ev.response;
    }
    expect(text).toBe('Echo: stream me');
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(completed!.status).toBe('completed');
    expect(completed!.output[0]).toMatchObject({ type: 'message', content: [{ type: 'output_text', text: 'Echo: stream me' }] });
  });

  it('round-trips function calls: function_call items out, function_call_output back as tool messages', async () => {
    h.fake.enqueue({ toolCalls: [{ name: 'shell', arguments: '{"cmd":["ls"]}' }] });
    const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'shell', description: 'run', parameters: { type: 'object', properties: { cmd: { type: 'array', items: { type: 'string' } } } }, strict: false }];
    const stream = client.responses.stream({ model: 'gpt-5', input: 'list files', tools });
    let argsDelta = '';
    stream.on('response.function_call_arguments.delta', (e) => (argsDelta += e.delta));
    const first = await stream.finalResponse();
    const call = first.output.find((o) => o.type === 'function_call') as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ type: 'function_call', name: 'shell', arguments: '{"cmd":["ls"]}', status: 'completed' });
    expect(argsDelta).toBe('{"cmd":["ls"]}');
    expect(h.fake.requests.at(-1).tools[0]).toMatchObject({ type: 'function', function: { name: 'shell' } });

    h.fake.enqueue({ reply: 'There is a.txt' });
    const second = await client.responses.create({
      model: 'gpt-5',
      tools,
      input: [
        { role: 'user', content: 'list files' },
        { type: 'function_call', call_id: call.call_id, name: 'shell', arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: 'a.txt' },
      ],
    });
    expect(second.output_text).toBe('There is a.txt');
    const up = h.fake.requests.at(-1);
    expect(up.messages.find((m: any) => m.role === 'assistant').tool_calls[0]).toMatchObject({ id: call.call_id, function: { name: 'shell' } });
    expect(up.messages.find((m: any) => m.role === 'tool')).toMatchObject({ tool_call_id: call.call_id });
  });

  it('continues a stored response with previous_response_id (owner only); store:false is not kept', async () => {
    const first = await client.responses.create({ model: 'gpt-5', input: 'my name is Ada' });
    h.fake.enqueue({ reply: 'You are Ada.' });
    const second = await client.responses.create({ model: 'gpt-5', input: 'who am I?', previous_response_id: first.id });
    expect(second.output_text).toBe('You are Ada.');
    expect(second.previous_response_id).toBe(first.id);
    const up = h.fake.requests.at(-1);
    expect(up.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(up.messages[1])).toContain('Echo: my name is Ada');

    // Another API key cannot continue it.
    const other = await post({ model: 'gpt-5', input: 'x', previous_response_id: first.id }, OTHER_KEY);
    expect(other.status).toBe(400);
    expect((await json(other)).error).toMatchObject({ code: 'previous_response_not_found', param: 'previous_response_id', type: 'invalid_request_error' });

    const unstored = await client.responses.create({ model: 'gpt-5', input: 'forget me', store: false });
    await expect(client.responses.create({ model: 'gpt-5', input: 'x', previous_response_id: unstored.id })).rejects.toMatchObject({
      status: 400,
      code: 'previous_response_not_found',
    });
  });

  it('answers errors in the OpenAI shape', async () => {
    const r = await post({ input: 'no model' });
    expect(r.status).toBe(400);
    expect((await json(r)).error).toMatchObject({ type: 'invalid_request_error', param: 'model' });
    const unauth = await post({ model: 'gpt-5', input: 'x' }, 'sk-wrong-key-123');
    expect(unauth.status).toBe(401);
    expect((await json(unauth)).error.type).toBe('authentication_error');
    await expect(client.responses.create({ model: 'nope-model', input: 'x' })).rejects.toMatchObject({ status: 404 });
    const img = await post({ model: 'textonly', input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://example.com/a.png' }] }] });
    expect(img.status).toBe(400);
    expect((await json(img)).error.message.toLowerCase()).toContain('image');
  });

  it('explains a bad input: a string or an array of items', async () => {
    const resp = await post({ model: 'gpt-5', input: 5 });
    expect(resp.status).toBe(400);
    expect((await json(resp)).error.message).toMatch(/input.*must be a string or an array of items/);
  });

  it('sends response.failed when the upstream breaks mid-stream', async () => {
    h.fake.enqueue({ errorAfterChunks: 1 });
    const stream = await client.responses.create({ model: 'gpt-5', input: 'break', stream: true });
    const types: string[] = [];
    let failed: OpenAI.Responses.Response | undefined;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'response.failed') failed = ev.response;
    }
    expect(types.at(-1)).toBe('response.failed');
    expect(failed!.status).toBe('failed');
    expect(failed!.error!.message).toBeTruthy();
  });

  it('emulates function calls on a text-only backend', async () => {
    h.plain.enqueue({ reply: '<tool_call>{"name":"shell","arguments":{"cmd":["pwd"]}}</tool_call>' });
    const r = await client.responses.create({ model: 'emu', input: 'where am I?', tools: [{ type: 'function', name: 'shell', parameters: { type: 'object' }, strict: false }] });
    expect(r.output).toHaveLength(1);
    expect(r.output[0]).toMatchObject({ type: 'function_call', name: 'shell', arguments: '{"cmd":["pwd"]}' });
    expect(h.plain.requests.at(-1).tools).toBeUndefined();
  });
});

interface WsConn {
  ws: WebSocket;
  messages: any[];
  next(pred: (m: any) => boolean): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
}

function connect(key = KEY): Promise<WsConn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/v1/responses`, { headers: { authorization: `Bearer ${key}` } });
    const messages: any[] = [];
    const waiters: Array<{ pred: (m: any) => boolean; resolve: (m: any) => void }> = [];
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      messages.push(m);
      for (const w of [...waiters]) {
        if (w.pred(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    const closed = new Promise<{ code: number; reason: string }>((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
    ws.on('open', () =>
      resolve({
        ws,
        messages,
        closed,
        next: (pred) =>
          new Promise((res) => {
            const found = messages.find(pred);
            if (found) res(found);
            else waiters.push({ pred, resolve: res });
          }),
      }),
    );
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
}

describe('Responses over WebSocket', () => {
  it('runs two turns on one connection, chaining with previous_response_id (even with store:false)', async () => {
    const c = await connect();
    c.ws.send(JSON.stringify({ type: 'response.create', model: 'gpt-5', store: false, input: [{ role: 'user', content: [{ type: 'input_text', text: 'turn one' }] }] }));
    const done1 = await c.next((m) => m.type === 'response.completed');
    expect(done1.response.output[0].content[0].text).toBe('Echo: turn one');
    expect(c.messages[0].type).toBe('response.created');

    h.fake.enqueue({ reply: 'second answer' });
    c.ws.send(JSON.stringify({ type: 'response.create', model: 'gpt-5', store: false, previous_response_id: done1.response.id, input: [{ role: 'user', content: [{ type: 'input_text', text: 'turn two' }] }] }));
    const done2 = await c.next((m) => m.type === 'response.completed' && m.response.id !== done1.response.id);
    expect(done2.response.output[0].content[0].text).toBe('second answer');
    const up = h.fake.requests.at(-1);
    expect(up.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'user']);
    // Slots were freed after each turn.
    expect(h.idle()).toBe(true);

    // A bad later message is an error event, not a close.
    c.ws.send(JSON.stringify({ type: 'session.update' }));
    const err = await c.next((m) => m.type === 'error');
    expect(err.error.message).toContain('response.create');
    c.ws.close();
    await c.closed;
  });

  it('answers a generate:false warm-up without calling the backend, and chains from it', async () => {
    const before = h.fake.requests.length;
    const c = await connect();
    c.ws.send(JSON.stringify({ type: 'response.create', model: 'gpt-5', generate: false, instructions: 'sys', input: [{ role: 'user', content: [{ type: 'input_text', text: 'warm' }] }] }));
    const warm = await c.next((m) => m.type === 'response.completed');
    expect(warm.response.output).toEqual([]);
    expect(h.fake.requests.length).toBe(before);
    c.ws.send(JSON.stringify({ type: 'response.create', model: 'gpt-5', previous_response_id: warm.response.id, input: [] }));
    const done = await c.next((m) => m.type === 'response.completed' && m.response.id !== warm.response.id);
    expect(done.response.output[0].content[0].text).toBe('Echo: warm');
    expect(h.fake.requests.length).toBe(before + 1);
    c.ws.close();
  });

  it('reports turn failures as error events with status and code', async () => {
    const c = await connect();
    c.ws.send(JSON.stringify({ type: 'response.create', model: 'gpt-5', input: 'x', previous_response_id: 'resp_unknown' }));
    const err = await c.next((m) => m.type === 'error');
    expect(err).toMatchObject({ status: 400, error: { code: 'previous_response_not_found' } });
    c.ws.send(JSON.stringify({ type: 'response.create', model: 'nope-model', input: 'x' }));
    const err2 = await c.next((m) => m.type === 'error' && m.status === 404);
    expect(err2.error.message).toContain('nope-model');
    c.ws.close();
  });

  it('closes with 1008 and a reason on a bad first message', async () => {
    const a = await connect();
    a.ws.send('not json');
    expect(await a.closed).toMatchObject({ code: 1008, reason: expect.stringContaining('JSON') });
    const b = await connect();
    b.ws.send(JSON.stringify({ type: 'response.create', input: 'no model' }));
    expect(await b.closed).toMatchObject({ code: 1008, reason: expect.stringContaining('model') });
    const c = await connect();
    c.ws.send(JSON.stringify({ type: 'hello', model: 'gpt-5' }));
    expect(await c.closed).toMatchObject({ code: 1008, reason: expect.stringContaining('response.create') });
  });

  it('refuses the upgrade without a valid key, and a plain GET gets 426', async () => {
    await expect(connect('sk-bad-key-xyz')).rejects.toThrow('HTTP 401');
    const r = await fetch(`${h.url}/v1/responses`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(r.status).toBe(426);
    expect((await json(r)).error.code).toBe('upgrade_required');
  });

  it('works with the openai SDK ResponsesWS client', async () => {
    const { ResponsesWS } = await import('openai/resources/responses/ws');
    const rws = new ResponsesWS(client);
    const done = new Promise<OpenAI.Responses.Response>((resolve, reject) => {
      rws.on('response.completed', (e) => resolve(e.response));
      rws.on('error', reject);
    });
    rws.send({ type: 'response.create', model: 'gpt-5', input: 'via sdk' });
    const resp = await done;
    expect(resp.output_text ?? (resp.output[0] as any).content[0].text).toBe('Echo: via sdk');
    rws.close();
  });
});
