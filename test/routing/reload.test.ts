import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../src-main/core/events';
import { createResolver } from '../../src-main/core/routing/aliases';
import { createAliasSource, type AliasSource } from '../../src-main/core/routing/reload';
import type { ReloadOutcome } from '../../src-main/core/routing/types';
import { fakeProvider } from '../dispatch/fakes';

const providers = () => [fakeProvider('ollama', { models: ['a', 'b', 'c'] })];

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('alias source', () => {
  let dir: string;
  let src: AliasSource | undefined;
  afterEach(() => {
    src?.close();
    src = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function setup(fileText: string) {
    dir = mkdtempSync(join(tmpdir(), 'relay-aliases-'));
    const file = join(dir, 'aliases.yaml');
    writeFileSync(file, fileText);
    return file;
  }

  it('merges inline aliases under the file and reloads on reload()', () => {
    const file = setup('coder: ollama/a\n');
    src = createAliasSource({ inline: { coder: 'ollama/c', fast: 'ollama/b' }, file, watch: false });
    const r = createResolver({ providers, aliases: src });
    expect(r.resolve('coder').targets[0].label).toBe('ollama/a');
    expect(r.resolve('fast').targets[0].label).toBe('ollama/b');
    writeFileSync(file, 'coder: ollama/b\nnew: ollama/c\n');
    const out = src.reload('SIGHUP');
    expect(out.ok).toBe(true);
    expect(out.aliases).toBe(3);
    expect(r.resolve('coder').targets[0].label).toBe('ollama/b');
    expect(r.resolve('new').targets[0].label).toBe('ollama/c');
    expect(r.lastReload()).toEqual(out);
  });

  it('a broken file is rejected, the old aliases stay, the outcome names the problem', () => {
    const file = setup('coder: ollama/a\n');
    const hub = new EventHub();
    const seen: ReloadOutcome[] = [];
    hub.on('aliases', (o) => seen.push(o));
    src = createAliasSource({ file, watch: false, hub });
    const r = createResolver({ providers, aliases: src });
    writeFileSync(file, 'coder: { chain: [x], bogus: 1 }\n');
    const out = src.reload();
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/alias 'coder': unknown key 'bogus'/);
    expect(r.resolve('coder').targets[0].label).toBe('ollama/a');
    writeFileSync(file, 'a: b\nb: a\n');
    expect(src.reload().error).toMatch(/cycle a -> b -> a/);
    writeFileSync(file, 'coder: [unclosed\n');
    expect(src.reload().error).toMatch(/not valid YAML/);
    rmSync(file);
    expect(src.reload().error).toMatch(/does not exist/);
    expect(r.resolve('coder').targets[0].label).toBe('ollama/a');
    expect(seen.map((o) => o.ok)).toEqual([false, false, false, false]);
  });

  it('throws at start when the file is invalid', () => {
    const file = setup('coder: { chain: [] }\n');
    expect(() => createAliasSource({ file, watch: false })).toThrow(/alias 'coder': chain must be a non-empty list/);
  });

  it('reloads when the file changes, including editors that replace the file', async () => {
    const file = setup('coder: ollama/a\n');
    src = createAliasSource({ file, debounceMs: 30 });
    const r = createResolver({ providers, aliases: src });
    writeFileSync(file, 'coder: ollama/b\n');
    await until(() => r.resolve('coder').targets[0].label === 'ollama/b');
    // Save-by-rename, as vim and many editors do.
    const tmp = join(dir, '.aliases.yaml.swp');
    writeFileSync(tmp, 'coder: ollama/c\n');
    renameSync(tmp, file);
    await until(() => r.resolve('coder').targets[0].label === 'ollama/c');
    // A broken save keeps the last good aliases.
    writeFileSync(file, 'coder: { nope: 1 }\n');
    await until(() => src!.lastReload()!.ok === false);
    expect(r.resolve('coder').targets[0].label).toBe('ollama/c');
  });
});
