/** The terminal output of `npm run serve` for a person: readable log lines, the start summary and next steps. */
import { describe, expect, it } from 'vitest';
import { colorWanted, formatLogLine, prettyDestination, wantsHumanOutput } from '../../src-main/cli/pretty-log';
import { maskKey, nextSteps, startLines, type StartState } from '../../src-main/cli/start-summary';
import { createLogger } from '../../src-main/core/gateway/logging';
import { EventHub } from '../../src-main/core/events';
import type { LogLine } from '../../src-main/core/state-types';

const clock = () => '12:04:05';

describe('readable log lines', () => {
  it('one line per record: time, level, message, then the fields', () => {
    const rec = JSON.stringify({ level: 30, time: 1, msg: 'relay listening', url: 'http://127.0.0.1:8420', providers: ['ollama', 'lingma'], pidFile: null });
    expect(formatLogLine(rec, { clock })).toBe('12:04:05 INFO  relay listening  url=http://127.0.0.1:8420 providers=ollama,lingma pidFile=null');
    expect(formatLogLine(`${JSON.stringify({ level: 40, time: 1, msg: 'could not list models', err: 'connect ECONNREFUSED 127.0.0.1:11434' })}\n`, { clock })).toBe(
      '12:04:05 WARN  could not list models  err="connect ECONNREFUSED 127.0.0.1:11434"',
    );
    expect(formatLogLine(JSON.stringify({ level: 50, time: 1, msg: 'stop failed', detail: { a: 1 } }), { clock })).toBe('12:04:05 ERROR stop failed  detail={"a":1}');
  });

  it('the per-request line reads like an access log', () => {
    const rec = JSON.stringify({ level: 30, time: 1, reqId: 'req-7', method: 'POST', url: '/v1/chat/completions', status: 200, ms: 12.5, msg: 'request' });
    expect(formatLogLine(rec, { clock })).toBe('12:04:05 INFO  POST /v1/chat/completions 200 12.5ms  reqId=req-7');
  });

  it('colours only when asked; text that is not JSON passes through; long values are cut', () => {
    const rec = JSON.stringify({ level: 40, time: 1, msg: 'x' });
    expect(formatLogLine(rec, { clock, color: true })).toContain('\x1b[33mWARN \x1b[0m');
    expect(formatLogLine(rec, { clock })).not.toContain('\x1b[');
    expect(formatLogLine('plain text\n')).toBe('plain text');
    const long = formatLogLine(JSON.stringify({ level: 30, time: 1, msg: 'm', v: 'y'.repeat(500) }), { clock });
    expect(long.length).toBeLessThan(200);
    expect(long.endsWith('…')).toBe(true);
  });

  it('a pretty logger still hands the dashboard JSON-derived lines, already redacted', () => {
    const out: string[] = [];
    const hub = new EventHub();
    const got: LogLine[] = [];
    hub.on('log', (l) => got.push(l));
    const log = createLogger({ hub, destination: prettyDestination({ write: (s: string) => out.push(s) }, { clock }) });
    log.info({ apiKey: 'sk-relay-secret-value-123', port: 1 }, 'hello');
    expect(out).toEqual(['12:04:05 INFO  hello  apiKey=[redacted] port=1\n']);
    expect(got[0]).toMatchObject({ level: 'info', msg: 'hello', fields: { apiKey: '[redacted]', port: 1 } });
    expect(out.join('')).not.toContain('sk-relay-secret');
  });

  it('human output when both streams are terminals, unless RELAY_LOG_FORMAT says otherwise', () => {
    expect(wantsHumanOutput(true, true, {})).toBe(true);
    expect(wantsHumanOutput(false, true, {})).toBe(false);
    expect(wantsHumanOutput(true, false, {})).toBe(false);
    expect(wantsHumanOutput(undefined, undefined, {})).toBe(false);
    expect(wantsHumanOutput(true, true, { RELAY_LOG_FORMAT: 'json' })).toBe(false);
    expect(wantsHumanOutput(false, false, { RELAY_LOG_FORMAT: 'pretty' })).toBe(true);
    expect(colorWanted({ NO_COLOR: '' })).toBe(false);
    expect(colorWanted({ TERM: 'xterm-256color' })).toBe(true);
  });
});

const base: StartState = {
  url: 'http://127.0.0.1:8420',
  dataDir: '/home/a/.config/lingma-relay',
  apiKey: 'sk-relay-0123456789abcdef0123',
  firstRun: {},
  providers: [],
  accountsEditable: false,
  nothingConfigured: true,
  discovery: { scanning: false, scannedAt: 1, probed: [], servers: [] },
};

describe('start summary and next steps', () => {
  it('shows the endpoint, a masked key and the dashboard', () => {
    const lines = startLines({ ...base, providers: ['ollama'], nothingConfigured: false });
    expect(lines[0]).toBe('relay listening on http://127.0.0.1:8420');
    expect(lines.join('\n')).toContain('endpoint   http://127.0.0.1:8420/v1');
    expect(lines.join('\n')).toContain('API key    sk-relay-01…0123');
    expect(lines.join('\n')).not.toContain('sk-relay-0123456789abcdef0123');
    expect(lines.join('\n')).toContain('dashboard  http://127.0.0.1:8420/ui/');
    expect(lines.join('\n')).not.toContain('next:');
    expect(maskKey('short')).toBe('•••••');
  });

  it('the first run shows the generated secrets whole, this once', () => {
    const text = startLines({ ...base, firstRun: { apiKey: 'sk-relay-0123456789abcdef0123', adminToken: 'admin-token-0123456789abcdef' } }).join('\n');
    expect(text).toContain('sk-relay-0123456789abcdef0123  (generated now and shown this once');
    expect(text).toContain('admin token, shown this once: admin-token-0123456789abcdef');
  });

  it('nothing can serve: found servers say how to use them, the Lingma pool says where to add an account', () => {
    const discovery = {
      scanning: false, scannedAt: 1, probed: [],
      servers: [
        { id: 'ollama' as const, label: 'Ollama', port: 11434, baseUrl: 'http://127.0.0.1:11434/v1', models: ['a', 'b', 'c'], status: 'offered' as const },
        { id: 'vllm' as const, label: 'vLLM', port: 8000, baseUrl: 'http://127.0.0.1:8000/v1', models: ['m'], status: 'in_use' as const },
      ],
    };
    expect(nextSteps({ ...base, discovery })).toEqual([
      'found Ollama on :11434: run with --discover to use it (or "Use it" in the dashboard: http://127.0.0.1:8420/ui/#/)',
    ]);
    expect(nextSteps({ ...base, providers: ['lingma'], accountsEditable: true })).toEqual(['add a Lingma account in the dashboard: http://127.0.0.1:8420/ui/#/accounts']);
    const text = startLines({ ...base, providers: ['lingma'], accountsEditable: true }).join('\n');
    expect(text).toContain('next:\n  - add a Lingma account in the dashboard: http://127.0.0.1:8420/ui/#/accounts');
  });

  it('an installed Lingma without the pool, or nothing at all, still names a way forward', () => {
    const lingma = { installed: true as const, label: 'ide-plugin', version: '2.5.1', inUse: false };
    expect(nextSteps({ ...base, discovery: { ...base.discovery!, lingma } })[0]).toMatch(/^Lingma is installed \(ide-plugin 2\.5\.1\): add an account with LINGMA_ACCOUNTS=user:password/);
    expect(nextSteps(base)[0]).toMatch(/^nothing can serve yet: install the Lingma IDE plugin or desktop app/);
    // Something configured: no next steps.
    expect(nextSteps({ ...base, providers: ['openrouter'], nothingConfigured: false })).toEqual([]);
  });
});
