import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { editAliasesText, unknownTargets, yamlProblems } from '../../src-main/core/routing/alias-document';
import { ADMIN_TOKEN } from './fakes';
import { adminHarness, type AdminHarness } from '../helpers/admin';

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const harnesses: AdminHarness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});
async function setup() {
  const relay = adminHarness();
  harnesses.push(relay);
  const app = await relay.build();
  return { relay, app, file: relay.deps.aliases.file! };
}

const COMMENTED = `# Team aliases: keep this header.
# fast is for autocomplete
fast:
  description: quick # inline note
  chain:
    - lingma/qwen3-coder   # first choice
# the catch-all
default: lingma/qwen3-coder
`;

describe('aliases file edits (yaml Document API)', () => {
  it('a structured edit keeps every comment and the layout of what it did not touch', () => {
    const out = editAliasesText(COMMENTED, {
      fast: { description: 'quicker', chain: ['lingma/qwen3-coder'] },
      default: 'lingma/qwen3-coder',
      added: { chain: ['lingma/qwen3-coder'], firstByteTimeoutMs: 5000 },
    });
    expect(out).toContain('# Team aliases: keep this header.');
    expect(out).toContain('# fast is for autocomplete');
    expect(out).toContain('# first choice');
    expect(out).toContain('# the catch-all');
    expect(out).toContain('description: quicker');
    expect(out).toMatch(/added:\n {2}chain:/);
    // Removing an alias removes only it.
    const removed = editAliasesText(out, { default: 'lingma/qwen3-coder' });
    expect(removed).not.toContain('fast:');
    expect(removed).toContain('# Team aliases: keep this header.');
  });

  it('parse problems come with a line and column', () => {
    const p = yamlProblems('ok: 1\nbad: [unclosed\n');
    expect(p.length).toBeGreaterThan(0);
    expect(p[0].line).toBeGreaterThanOrEqual(2);
    expect(p[0].col).toBeGreaterThanOrEqual(1);
    expect(yamlProblems('a: b\n')).toEqual([]);
  });
});

describe('PUT /admin/aliases', () => {
  it('an edit from the dashboard keeps the file\'s comments', async () => {
    const { app, file, relay } = await setup();
    writeFileSync(file, COMMENTED);
    relay.deps.aliases.reload();
    const res = await app.inject({
      method: 'PUT', url: '/admin/aliases', headers: auth,
      payload: { aliases: { fast: { description: 'changed', chain: ['lingma/qwen3-coder'] }, default: 'lingma/qwen3-coder' } },
    });
    expect(res.statusCode).toBe(200);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('# Team aliases: keep this header.');
    expect(text).toContain('# first choice');
    expect(text).toContain('# the catch-all');
    expect(text).toContain('description: changed');
    // The inline config alias `coder` is not copied into the file.
    expect(text).not.toContain('coder:');
  });

  it('unknown targets are saved but warned about, naming them; the snapshot flags them', async () => {
    const { app } = await setup();
    const res = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: { odd: { chain: ['lingma/no-such-model', 'lingma/qwen3-coder'] } } } });
    expect(res.statusCode).toBe(200);
    expect(res.json().warnings).toEqual([expect.objectContaining({ alias: 'odd', target: 'lingma/no-such-model', message: expect.stringMatching(/unknown model/) })]);
    const state = (await app.inject({ url: '/admin/state', headers: auth })).json();
    const odd = state.aliases.find((a: { name: string }) => a.name === 'odd');
    expect(odd.targets.find((t: { label: string }) => t.label.includes('no-such-model'))).toMatchObject({ unknownModel: true });
    expect(odd.targets.find((t: { label: string }) => t.label === 'lingma/qwen3-coder').unknownModel).toBeUndefined();
    const got = (await app.inject({ url: '/admin/aliases', headers: auth })).json();
    expect(got.warnings.map((w: { target: string }) => w.target)).toEqual(['lingma/no-such-model']);
  });

  it('refuses to overwrite a file that is broken on disk (409 with the diff) unless confirmed', async () => {
    const { app, file } = await setup();
    writeFileSync(file, 'fast: [unclosed\n');
    const got = (await app.inject({ url: '/admin/aliases', headers: auth })).json();
    expect(got.fileProblem).toMatch(/not valid YAML/);
    const refused = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: { fast: 'lingma/qwen3-coder' } } });
    expect(refused.statusCode).toBe(409);
    const body = refused.json();
    expect(body.error).toMatchObject({ code: 'aliases_file_broken', param: 'confirm' });
    expect(body.diff).toContain('-fast: [unclosed');
    expect(body.diff).toContain('+fast: lingma/qwen3-coder');
    expect(readFileSync(file, 'utf8')).toBe('fast: [unclosed\n');
    const ok = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { aliases: { fast: 'lingma/qwen3-coder' }, confirm: true } });
    expect(ok.statusCode).toBe(200);
    expect(readFileSync(file, 'utf8')).toContain('fast: lingma/qwen3-coder');
  });

  it('raw text: saved as written; a YAML error is a 400 naming line and column; exactly one of aliases/text', async () => {
    const { app, file, relay } = await setup();
    const text = '# mine\nquick: lingma/qwen3-coder # note\n';
    const ok = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { text } });
    expect(ok.statusCode).toBe(200);
    expect(readFileSync(file, 'utf8')).toBe(text);
    expect(relay.deps.resolver.aliases().map((a) => a.name)).toContain('quick');
    const bad = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { text: 'a: b\nc: [x\n' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ param: 'text', message: expect.stringMatching(/line \d+, column \d+/) });
    expect(readFileSync(file, 'utf8')).toBe(text);
    const both = await app.inject({ method: 'PUT', url: '/admin/aliases', headers: auth, payload: { text, aliases: {} } });
    expect(both.statusCode).toBe(400);
    expect(both.json().error.param).toBe('aliases');
  });

  it('test: needs a listening gateway (503 in words) and a model (400 naming it)', async () => {
    const { app } = await setup();
    const missing = await app.inject({ method: 'POST', url: '/admin/aliases/test', headers: auth, payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.param).toBe('model');
    const notListening = await app.inject({ method: 'POST', url: '/admin/aliases/test', headers: auth, payload: { model: 'coder' } });
    expect(notListening.statusCode).toBe(503);
  });
});

describe('unknownTargets', () => {
  it('names targets no provider lists; aliases and patterns are not unknown', async () => {
    const { relay } = await setup();
    const u = unknownTargets({ a: 'b', b: { chain: ['lingma/qwen3-coder', 'ghost/model', 'lingma/*'] } }, relay.deps.providers());
    expect(u).toEqual([{ alias: 'b', target: 'ghost/model' }]);
  });
});
