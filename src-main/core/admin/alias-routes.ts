/**
 * Alias admin routes (registered inside the admin scope: admin token required):
 *   GET  /admin/aliases         the definitions, the file's text, whether the file on disk is broken,
 *                               and the targets that name no known model
 *   PUT  /admin/aliases         `{ aliases }` (structured editor: edited through the YAML Document
 *                               API, comments and layout kept) or `{ text }` (raw editor); a file
 *                               that is broken on disk now is replaced only with `confirm: true`
 *                               (else 409 with the diff); unknown targets come back as `warnings`
 *   POST /admin/aliases/test    `{ model }`: one tiny chat through the gateway; the path it took
 * Every write goes through `AliasSource.save` (validate → atomic write → reload → roll back).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import YAML from 'yaml';
import { unifiedDiff } from '../clients/diff';
import { keyIdOf } from '../config/keys';
import { errors } from '../errors';
import { AliasError } from '../routing/aliases';
import { editAliasesText, unknownTargets, yamlProblems } from '../routing/alias-document';
import type { ReloadOutcome } from '../routing/types';
import type { AliasTestResult, AliasWarning } from './api-types';
import type { AdminDeps } from './deps';
import { postToGateway } from './self-request';
import { aliasesProblem, AliasesBody, AliasTestBody } from './schemas';
import { aliasesView, type StateContext } from './state';

const HEADER = '# Written by the Lingma Relay dashboard.\n';

function warningsOf(deps: AdminDeps, aliases: Record<string, unknown>): AliasWarning[] {
  return unknownTargets(aliases, deps.providers()).map((u) => ({
    alias: u.alias,
    target: u.target,
    message: `alias '${u.alias}': target '${u.target}' is an unknown model (no provider lists it)`,
  }));
}

/** Aliases the body leaves as the inline config has them and the file does not mention: not written. */
function fileAliases(deps: AdminDeps, next: Record<string, unknown>, inFile: Record<string, unknown>): Record<string, unknown> {
  const raw = deps.aliases.raw();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next)) {
    if (!(k in inFile) && k in raw && JSON.stringify(raw[k]) === JSON.stringify(v)) continue;
    out[k] = v;
  }
  return out;
}

function parsedFile(text: string): Record<string, unknown> {
  try {
    const v = YAML.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export async function aliasRoutes(app: FastifyInstance, opts: { ctx: StateContext }): Promise<void> {
  const { ctx } = opts;
  const { deps } = ctx;

  app.get('/admin/aliases', async () => {
    const raw = deps.aliases.raw();
    return {
      aliases: aliasesView(ctx),
      raw,
      text: deps.aliases.text() ?? '',
      path: deps.aliases.file,
      lastReload: deps.resolver.lastReload(),
      fileProblem: deps.aliases.fileProblem(),
      warnings: warningsOf(deps, raw),
    };
  });

  app.put('/admin/aliases', { schema: { body: AliasesBody } }, async (req, reply) => {
    const body = req.body as AliasesBody;
    if ((body.aliases === undefined) === (body.text === undefined)) throw errors.invalid('Send either aliases (the definitions) or text (the whole file).', 'aliases');
    const before = deps.aliases.text() ?? '';
    const broken = deps.aliases.fileProblem();
    let text: string;
    let next: Record<string, unknown>;
    if (body.text !== undefined) {
      text = body.text.endsWith('\n') ? body.text : `${body.text}\n`;
      const p = yamlProblems(text)[0];
      if (p) throw errors.invalid(`text: ${p.line ? `line ${p.line}, column ${p.col}: ` : ''}${p.message}`, 'text');
      // The inline config's aliases (those the old file did not define) stay under the new file's.
      const oldFile = parsedFile(before);
      const inline = Object.fromEntries(Object.entries(deps.aliases.raw()).filter(([k]) => !(k in oldFile)));
      next = { ...inline, ...parsedFile(text) };
    } else {
      next = body.aliases!;
      const toWrite = fileAliases(deps, next, parsedFile(before));
      // A file that does not parse cannot be edited in place: it is replaced (only when confirmed below).
      text = yamlProblems(before).length ? `${HEADER}${Object.keys(toWrite).length ? YAML.stringify(toWrite) : ''}` : editAliasesText(before || HEADER, toWrite);
    }
    const bad = aliasesProblem(next, deps.providers().map((p) => p.name));
    if (bad) throw errors.invalid(bad, body.text !== undefined ? 'text' : 'aliases');
    if (broken && !body.confirm) {
      // SECURITY: the diff is of the aliases file (no secrets live there); masked like every diff on screen.
      return reply.code(409).send({
        error: {
          message: `The aliases file on disk is broken (${broken}); saving replaces it. Check the diff and send confirm: true to overwrite it.`,
          type: 'invalid_request_error', code: 'aliases_file_broken', param: 'confirm',
        },
        problem: broken,
        diff: unifiedDiff(before, text, deps.aliases.file ?? 'aliases.yaml'),
      });
    }
    let outcome: ReloadOutcome;
    try {
      outcome = deps.aliases.save(text);
    } catch (e) {
      if (e instanceof AliasError) throw errors.invalid(e.message, body.text !== undefined ? 'text' : 'aliases');
      throw e;
    }
    deps.hub.emit('config', 'aliases');
    const warnings = warningsOf(deps, deps.aliases.raw());
    if (warnings.length) req.log.warn({ targets: warnings.map((w) => w.target) }, 'aliases saved with unknown targets');
    return { ok: true, path: deps.aliases.file, aliases: aliasesView(ctx), lastReload: outcome, warnings };
  });

  app.post('/admin/aliases/test', { schema: { body: AliasTestBody } }, async (req): Promise<AliasTestResult> => {
    const { model } = req.body as AliasTestBody;
    const primary = deps.keys.primaryKey();
    const keyId = primary ? keyIdOf(primary) : deps.keys.list()[0]?.id;
    if (!keyId) throw errors.invalid('There is no API key to send the test as; create one first.', 'model', 'no_api_key');
    const requestId = `alias-test-${randomUUID()}`;
    const res = await postToGateway(deps, '/v1/chat/completions', keyId, requestId, {
      model, max_tokens: 16, stream: false, messages: [{ role: 'user', content: 'Reply with the single word: pong' }],
    });
    let message = '';
    let answer: string | undefined;
    try {
      const j = JSON.parse(res.text) as { error?: { message?: string }; choices?: { message?: { content?: string } }[] };
      message = j.error?.message ?? '';
      answer = j.choices?.[0]?.message?.content ?? undefined;
    } catch {
      message = res.text.slice(0, 200);
    }
    const capture = deps.inspector.get(requestId);
    const path = (capture?.timeline ?? [])
      .filter((t) => t.kind === 'attempt')
      .map((t) => ({ target: t.target ?? '', instance: t.instance, outcome: t.outcome ?? '', reason: t.reason }));
    return {
      ok: res.status < 400,
      status: res.status,
      model,
      resolved: res.headers.get('x-relay-resolved') ?? capture?.resolved,
      alias: capture?.alias,
      path,
      answer,
      error: res.status < 400 ? undefined : message || `HTTP ${res.status}`,
      requestId,
    };
  });
}
