/**
 * SECURITY (issue 11): the admin token and the API keys hold however a path is spelled. The relay is
 * built by its real wiring (createCore); its routes are enumerated from the app itself
 * (`routeTable`), so a new route is covered without touching this file. Every route, HTTP and
 * WebSocket upgrade, is requested without credentials under many spellings of its path — percent-
 * encoded letters, doubled slashes, dot segments, upper case, trailing slash, query, `;`
 * parameters, backslash, encoded slash, absolute-form — written byte for byte over a socket. Each
 * must be refused (401/404, 400 for a malformed or foreign absolute target) with an error body,
 * never the route's own answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requiredGuard, routeTable, type RouteEntry } from '../../src-main/core/gateway/plugins/route-guard';
import type { Relay } from '../../src-main/core/relay';
import { startCore, type TestCore } from '../helpers/core';
import { rawRequest, upgradeHeaders, type RawResponse } from '../helpers/raw-http';

let core: TestCore;
let relay: Relay;
let port: number;
let adminToken: string;
let apiKey: string;

beforeAll(async () => {
  core = await startCore();
  ({ relay, port, adminToken, apiKey } = core);
});

afterAll(async () => {
  await core?.close();
});

/** A concrete path for a route pattern: parameters and wildcards filled with a plain name. */
const concrete = (url: string): string => url.replace(/:[A-Za-z_]\w*/g, 'x').replace(/\*/g, 'x');

const pct = (c: string): string => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

interface Spelling {
  name: string;
  target: (path: string) => string;
  /** Statuses a refusal may have for this spelling. */
  refused: number[];
}

/** Spellings of a path `/<first>/<rest...>` (first = admin or v1). */
function spellings(): Spelling[] {
  const seg = (p: string) => p.split('/').slice(1);
  const join = (s: string[]) => `/${s.join('/')}`;
  const encodeFirstChar = (i: number) => (p: string) => {
    const s = seg(p);
    const k = s.findIndex((x, n) => n >= i && /^[A-Za-z]/.test(x));
    if (k < 0) return p;
    s[k] = pct(s[k][0]) + s[k].slice(1);
    return join(s);
  };
  const refused = [401, 404];
  const absoluteOwn = [400, 401, 404];
  return [
    { name: 'as registered', target: (p) => p, refused: [401] },
    { name: 'first letter %-encoded', target: encodeFirstChar(0), refused },
    { name: 'letter of a later segment %-encoded', target: encodeFirstChar(1), refused },
    { name: 'first segment %-encoded, upper-case hex', target: (p) => { const s = seg(p); s[0] = [...s[0]].map((c) => pct(c).toUpperCase()).join(''); return join(s); }, refused },
    { name: 'first segment fully %-encoded', target: (p) => { const s = seg(p); s[0] = [...s[0]].map(pct).join(''); return join(s); }, refused },
    { name: 'doubled leading slash', target: (p) => `/${p}`, refused },
    { name: 'doubled inner slash', target: (p) => p.replace(/^(\/[^/]+)\//, '$1//'), refused },
    { name: 'dot segment before', target: (p) => `/v1/..${p}`, refused },
    { name: 'encoded dot segment before', target: (p) => `/v1/%2e%2e${p}`, refused },
    { name: 'leading ./', target: (p) => `/.${p}`, refused },
    { name: 'inner ./', target: (p) => p.replace(/^(\/[^/]+)\//, '$1/./'), refused },
    { name: 'upper case', target: (p) => p.toUpperCase(), refused },
    { name: 'capitalised', target: (p) => p.replace(/^\/(.)/, (_m, c: string) => `/${c.toUpperCase()}`), refused },
    { name: 'trailing slash', target: (p) => `${p}/`, refused },
    { name: 'query', target: (p) => `${p}?x=1&token=`, refused },
    { name: 'empty query', target: (p) => `${p}?`, refused },
    { name: '; parameter', target: (p) => `${p};x`, refused },
    { name: '; parameter on the first segment', target: (p) => p.replace(/^(\/[^/]+)/, '$1;x'), refused },
    { name: 'encoded slash', target: (p) => p.replace(/^(\/[^/]+)\//, '$1%2f'), refused },
    { name: 'backslash', target: (p) => p.replace(/^(\/[^/]+)\//, '$1\\'), refused: [400, 401, 404] },
    { name: 'absolute-form, own host', target: (p) => `http://127.0.0.1:${port}${p}`, refused: absoluteOwn },
    { name: 'absolute-form, own host, upper-case scheme, %-encoded', target: (p) => `HTTP://localhost:${port}${encodeFirstChar(0)(p)}`, refused: absoluteOwn },
    { name: 'absolute-form, foreign host', target: (p) => `http://evil.example${p}`, refused: [400] },
    { name: 'absolute-form, user info', target: (p) => `http://x@127.0.0.1:${port}${p}`, refused: [400] },
    { name: 'absolute-form, other scheme', target: (p) => `ftp://127.0.0.1:${port}${p}`, refused: [400] },
  ];
}

/**
 * A refusal carries an error body (OpenAI's `{ error }`, Anthropic's `{ type: 'error', error,
 * request_id }`) or none at all: never the route's own answer. Returns what is wrong, if anything.
 */
function refusalProblem(r: RawResponse, allowed: number[], what: string): string | undefined {
  const shown = `${what} -> ${r.status} ${r.body.slice(0, 160)}`;
  if (!allowed.includes(r.status)) return `${shown} (expected ${allowed.join('/')})`;
  if (r.body === '') return undefined;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return `${shown} (not a JSON error body)`;
  }
  const keys = Object.keys(body).filter((k) => k !== 'type' && k !== 'request_id');
  if (keys.length !== 1 || keys[0] !== 'error' || ('type' in body && body.type !== 'error')) return `${shown} (not an error body)`;
  return undefined;
}

function expectRefusal(r: RawResponse, allowed: number[], what: string): void {
  expect(refusalProblem(r, allowed, what)).toBeUndefined();
}

/** Every route whose path is under /admin (guard 'admin') or /v1 (guard 'apiKey'), by its path. */
function routesUnder(guard: 'admin' | 'apiKey'): RouteEntry[] {
  return routeTable(relay.app).filter((r) => requiredGuard(r.url) === guard);
}

const isWebSocket = (r: RouteEntry): boolean => r.method === 'GET' && (r.url === '/admin/events' || r.url === '/v1/responses');

/** Every route under `guard`'s prefix, every spelling, HTTP and (for the sockets) upgrade: the problems found. */
async function probeAll(guard: 'admin' | 'apiKey'): Promise<{ probes: number; problems: string[] }> {
  let probes = 0;
  const problems: string[] = [];
  for (const route of routesUnder(guard)) {
    const path = concrete(route.url);
    await Promise.all(spellings().map(async (s) => {
      const target = s.target(path);
      const what = `${route.method} ${target} (${route.url}, ${s.name})`;
      const hasBody = !['GET', 'HEAD', 'DELETE'].includes(route.method);
      const r = await rawRequest(port, {
        method: route.method,
        target,
        headers: hasBody ? { 'content-type': 'application/json' } : {},
        body: hasBody ? '{}' : undefined,
      });
      probes++;
      const p = refusalProblem(r, s.refused, what);
      if (p) problems.push(p);
      if (isWebSocket(route)) {
        // The same spelling as a WebSocket upgrade: never 101.
        const up = await rawRequest(port, { target, headers: upgradeHeaders({ 'sec-websocket-protocol': guard === 'admin' ? 'relay-admin' : undefined }) });
        probes++;
        const q = refusalProblem(up, s.refused, `upgrade ${what}`);
        if (q) problems.push(q);
      }
    }));
  }
  return { probes, problems };
}

describe('admin routes: the token is needed however the path is spelled', () => {
  it('knows the admin routes from the app itself (HTTP and the events socket)', () => {
    const urls = routesUnder('admin').map((r) => `${r.method} ${r.url}`);
    for (const must of ['GET /admin/state', 'GET /admin/events', 'POST /admin/keys', 'PATCH /admin/settings', 'POST /admin/accounts', 'GET /admin/usage/totals']) {
      expect(urls).toContain(must);
    }
  });

  it('the spellings reach the real routes (with the token they are answered)', async () => {
    const auth = { authorization: `Bearer ${adminToken}` };
    for (const target of ['/admin/state', '/%61dmin/state', '/admin/%73tate', '/admin/state/', '/admin/state?x=1', `http://127.0.0.1:${port}/admin/state`]) {
      const r = await rawRequest(port, { target, headers: auth });
      expect(r.status, target).toBe(200);
      expect(JSON.parse(r.body)).toHaveProperty('instances');
    }
  });

  it('refuses every admin route under every spelling without the token', async () => {
    const { probes, problems } = await probeAll('admin');
    expect(problems).toEqual([]);
    expect(probes).toBeGreaterThan(100);
  });

  it('an API key is not an admin token, under any spelling', async () => {
    for (const target of ['/admin/state', '/%61dmin/state', `http://127.0.0.1:${port}/%61dmin/state`]) {
      const r = await rawRequest(port, { target, headers: { authorization: `Bearer ${apiKey}` } });
      expectRefusal(r, [401], target);
    }
  });

  it('POST /%61dmin/keys makes no key without the token', async () => {
    const before = (await relay.keys.list()).length;
    const r = await rawRequest(port, { method: 'POST', target: '/%61dmin/keys', headers: { 'content-type': 'application/json' }, body: '{"name":"stolen"}' });
    expectRefusal(r, [401], 'POST /%61dmin/keys');
    expect((await relay.keys.list()).length).toBe(before);
  });
});

describe('/v1 routes: the API key is needed however the path is spelled', () => {
  it('knows the /v1 routes from the app itself', () => {
    const urls = routesUnder('apiKey').map((r) => `${r.method} ${r.url}`);
    for (const must of ['POST /v1/chat/completions', 'GET /v1/models', 'POST /v1/messages', 'POST /v1/responses', 'GET /v1/responses', 'POST /v1/embeddings', 'GET /v1/aliases', 'GET /v1/health']) {
      expect(urls).toContain(must);
    }
  });

  it('refuses every /v1 route under every spelling without the key', async () => {
    const { probes, problems } = await probeAll('apiKey');
    expect(problems).toEqual([]);
    expect(probes).toBeGreaterThan(100);
  });

  it('the admin token is not an API key', async () => {
    const r = await rawRequest(port, { target: '/%76%31/models', headers: { authorization: `Bearer ${adminToken}` } });
    expectRefusal(r, [401], '/%76%31/models with the admin token');
  });
});
