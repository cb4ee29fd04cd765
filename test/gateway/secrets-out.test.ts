/**
 * SECURITY: secrets stay out of errors and logs. A malformed JSON body is answered (and logged)
 * with its position only, never a fragment; config errors name secret-looking keys with the
 * value's type only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfigText } from '../../src-main/core/config/load';
import { validateConfig } from '../../src-main/core/config/validate';
import { createLogger } from '../../src-main/core/gateway/logging';
import { startTestGateway, TEST_KEY, type TestGateway } from '../helpers/gateway';

const PLANTED = 'sk-planted-Zq9xW2vB7';
let gw: TestGateway;
const lines: string[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ deps: { logger: createLogger({ level: 'trace', destination: { write: (s: string) => void lines.push(s) } }) } });
});
afterAll(async () => {
  await gw?.close();
});

describe('malformed JSON bodies', () => {
  const bodies = [
    `{"model": "x", "api_key": ${PLANTED}}`,
    `{"model": "x", "messages": [{"role": "user", "content": "${PLANTED}"}]`,
    `{"model": "x"} ${PLANTED}`,
    `${PLANTED}`,
  ];
  for (const [path, headers] of [
    ['/v1/chat/completions', { authorization: `Bearer ${TEST_KEY}` }],
    ['/v1/messages', { 'x-api-key': TEST_KEY, 'anthropic-version': '2023-06-01' }],
  ] as const) {
    it(`${path}: 400 with the position only, nothing of the body in the response or the log`, async () => {
      for (const body of bodies) {
        const r = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
        expect(r.status).toBe(400);
        const text = await r.text();
        expect(text).toMatch(/Malformed JSON body( \(position \d+\))?; send a valid JSON object\./);
        expect(text).not.toContain('planted');
        expect(text).not.toContain('Zq9xW2vB7');
      }
      await new Promise((r) => setImmediate(r));
      const log = lines.join('');
      expect(log).toContain('Malformed JSON body');
      expect(log).not.toContain('Zq9xW2vB7');
    });
  }
});

describe('config errors never print secret values', () => {
  const issues = (raw: unknown): string => {
    try {
      validateConfig(raw);
    } catch (e) {
      if (e instanceof ConfigError) return e.message;
      throw e;
    }
    return '';
  };

  it('adminToken, passwords, apiKey, headers and *key*/*token*/*secret* keys: name and type only', () => {
    const msg = issues({
      server: { adminToken: 'short-tok', apiKeys: ['sk-tiny', { key: 'sk-tiny2' }], metricsToken: 'mtok', hots: 1 },
      lingma: { accounts: [{ username: 'alice', password: 12345678 }] },
      providers: [{ name: 'p', type: 'openai', baseUrl: 'http://127.0.0.1/v1', apiKey: 424242, headers: { 'X-Auth': 987654 } }],
    });
    expect(msg).toContain('server.adminToken: expected a string of at least 16 characters, got a string (value hidden)');
    expect(msg).toContain('server.apiKeys[0]:');
    expect(msg).toContain('server.metricsToken:');
    expect(msg).toContain('lingma.accounts[0].password: expected a string, got a number (value hidden)');
    expect(msg).toContain('providers[0].apiKey: expected a string, got a number (value hidden)');
    expect(msg).toContain("providers[0].headers.X-Auth: expected a string, got a number (value hidden)");
    expect(msg).toContain('server.hots: unknown key');
    for (const v of ['short-tok', 'sk-tiny', 'mtok', '12345678', '424242', '987654']) expect(msg, v).not.toContain(v);
    // Ordinary keys still show the value, which helps.
    expect(issues({ limits: { maxInFlight: 'lots' } })).toContain('got "lots"');
    const keyMsg = issues({ server: { apiKeys: [{ key: 'sk-relay-0123456789', rpm: 'many' }, { key: 'tiny-k' }] } });
    expect(keyMsg).toContain('server.apiKeys[0].rpm: expected an integer >= 1, got "many"');
    expect(keyMsg).toContain('server.apiKeys[1].key: expected a string of at least 8 characters, got a string (value hidden)');
    expect(keyMsg).not.toContain('tiny-k');
  });

  it('a JSON config file with a syntax error does not quote the text around it', () => {
    try {
      parseConfigText('{"server": {"adminToken": relay-admin-SECRETVALUE}}', 'relay.json');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/^Invalid configuration: relay\.json: not valid JSON/);
      expect((e as Error).message).not.toContain('SECRETVALUE');
    }
  });
});
