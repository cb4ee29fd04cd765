/**
 * AliasSource: inline config aliases merged under the aliases of `aliasesFile`, reloaded on
 * `reload()` (the CLI calls it on SIGHUP) and when the file changes. A file that fails to read or
 * parse is rejected with one log line naming the problem; the previous aliases stay in force.
 * `save(text)` is the one way to write the file (the dashboard's editor): validate, write
 * atomically, reload, and put the previous file back when the reload refuses it.
 */
import { readFileSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import type { EventHub } from '../events';
import { writeFileAtomicSync } from '../fs-atomic';
import { AliasError, parseAliases, type AliasesConfig, type ParsedAliases } from './alias-parse';
import type { AliasProvider } from './aliases';
import type { HopOptionKinds } from './hop-options';
import type { ReloadOutcome } from './types';

export interface AliasSourceOptions {
  /** Inline `aliases` from the config (already schema-checked, but validated again here). */
  inline?: AliasesConfig;
  /** `aliasesFile` (YAML or JSON, the same shape as `aliases`). Relative paths resolve against `baseDir`. */
  file?: string;
  baseDir?: string;
  /** Kinds each hop's options are checked against (`backends/registry.ts: hopOptionKinds`). */
  optionKinds?: HopOptionKinds;
  log?: Logger;
  hub?: EventHub;
  /** Watch the file for changes (default true when a file is given). */
  watch?: boolean;
  /** Quiet period before a change is read: editors write files in several steps. */
  debounceMs?: number;
}

export interface AliasSource extends AliasProvider {
  /** Re-read the file now. Never throws: the outcome says whether the new aliases took effect. */
  reload(reason?: string): ReloadOutcome;
  /**
   * Replace the file with `text` (YAML or JSON): validated first with the inline aliases merged
   * as a reload would (throws AliasError naming the problem; nothing written), written
   * atomically, reloaded; when the reload refuses it, the previous file is put back and reloaded,
   * and the AliasError says why. Throws AliasError when there is no file to save to.
   */
  save(text: string): ReloadOutcome;
  /** The definitions as written: inline aliases with the file's over them (file unreadable: inline only). */
  raw(): Record<string, unknown>;
  /** The file's text as it is on disk now ('' when it does not exist; undefined without a file). */
  text(): string | undefined;
  /** Why the file on disk would be refused if it were loaded now (a broken file), or undefined. */
  fileProblem(): string | undefined;
  readonly file?: string;
  close(): void;
}

function parseAliasesText(text: string, file: string): unknown {
  try {
    // YAML is a superset of JSON: one parser for both.
    return parseYaml(text) ?? {};
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    throw new AliasError(`aliases file ${file} is not valid YAML/JSON: ${msg}`);
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function readAliasesFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AliasError(code === 'ENOENT' ? `aliases file ${file} does not exist` : `aliases file ${file} cannot be read (${code ?? 'error'})`);
  }
  return parseAliasesText(text, file);
}

function merge(inline: AliasesConfig | undefined, fromFile: unknown, file: string): unknown {
  if (fromFile === undefined) return inline ?? {};
  if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
    throw new AliasError(`aliases file ${file} must hold a mapping of alias name to definition`);
  }
  // The file's aliases win over inline ones of the same name.
  return { ...(inline ?? {}), ...(fromFile as Record<string, unknown>) };
}

/**
 * Load the aliases once (throws AliasError when the inline aliases or the file are invalid at
 * start, so the relay refuses to start with a clear message), then keep them current.
 */
export function createAliasSource(opts: AliasSourceOptions): AliasSource {
  const file = opts.file ? resolvePath(opts.baseDir ?? process.cwd(), opts.file) : undefined;
  const sourceName = file ?? 'config';
  const load = (): { parsed: ParsedAliases; count: number } => {
    const raw = merge(opts.inline, file ? readAliasesFile(file) : undefined, file ?? 'config');
    const parsed = parseAliases(raw, opts.optionKinds);
    return { parsed, count: parsed.defs.size };
  };

  const first = load();
  let current = first.parsed;
  let last: ReloadOutcome = { at: Date.now(), ok: true, source: sourceName, aliases: first.count };

  const reload = (reason = 'reload'): ReloadOutcome => {
    try {
      const next = load();
      current = next.parsed;
      last = { at: Date.now(), ok: true, source: sourceName, aliases: next.count };
      opts.log?.info({ source: sourceName, aliases: next.count, reason }, 'aliases reloaded');
    } catch (e) {
      const message = e instanceof AliasError ? e.message : `aliases reload failed: ${(e as Error).message}`;
      last = { at: Date.now(), ok: false, source: sourceName, error: message, aliases: current.defs.size };
      opts.log?.warn({ source: sourceName, reason, error: message }, `aliases reload rejected, previous aliases kept: ${message}`);
    }
    opts.hub?.emit('aliases', last);
    return last;
  };

  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  if (file && opts.watch !== false) {
    const name = basename(file);
    const debounce = opts.debounceMs ?? 150;
    try {
      // Watch the directory, not the file: editors that save by rename replace the inode, which
      // would silently end a watch on the file itself.
      watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          timer = undefined;
          reload('file changed');
        }, debounce);
        timer.unref();
      });
      watcher.on('error', (e) => opts.log?.warn({ source: file, error: (e as Error).message }, 'aliases file watch failed; reload with SIGHUP'));
    } catch (e) {
      opts.log?.warn({ source: file, error: (e as Error).message }, 'aliases file cannot be watched; reload with SIGHUP');
    }
  }

  const save = (text: string): ReloadOutcome => {
    if (!file) throw new AliasError('aliases cannot be saved: no aliases file is configured');
    // Validate exactly as a reload would read it, before anything is written.
    parseAliases(merge(opts.inline, parseAliasesText(text, file), file));
    const previous = readText(file);
    writeFileAtomicSync(file, text);
    const outcome = reload('saved');
    if (outcome.ok) return outcome;
    // Refused after all (the file changed under us): the file goes back to what runs.
    if (previous === undefined) rmSync(file, { force: true });
    else writeFileAtomicSync(file, previous);
    reload('rolled back');
    throw new AliasError(outcome.error ?? 'aliases rejected');
  };

  const raw = (): Record<string, unknown> => {
    try {
      const merged = merge(opts.inline, file ? readAliasesFile(file) : undefined, file ?? 'config');
      return merged as Record<string, unknown>;
    } catch {
      return { ...(opts.inline ?? {}) };
    }
  };

  const fileProblem = (): string | undefined => {
    if (!file) return undefined;
    try {
      load();
      return undefined;
    } catch (e) {
      return e instanceof AliasError ? e.message : (e as Error).message;
    }
  };

  return {
    file,
    text: () => (file ? (readText(file) ?? '') : undefined),
    fileProblem,
    current: () => current,
    lastReload: () => last,
    reload,
    save,
    raw,
    close() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      watcher?.close();
      watcher = undefined;
    },
  };
}
