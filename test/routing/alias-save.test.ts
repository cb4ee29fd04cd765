import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AliasError } from '../../src-main/core/routing/aliases';
import { createAliasSource } from '../../src-main/core/routing/reload';
import { EventHub } from '../../src-main/core/events';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'relay-alias-save-'));
  dirs.push(d);
  return d;
}

describe('AliasSource.save(text)', () => {
  it('validates, writes, reloads: the new aliases are in force and announced once', () => {
    const file = join(tmp(), 'aliases.yaml');
    writeFileSync(file, 'old:\n  chain: [lingma/a]\n');
    const hub = new EventHub();
    const outcomes: boolean[] = [];
    hub.on('aliases', (o) => outcomes.push(o.ok));
    const src = createAliasSource({ inline: { base: 'lingma/b' }, file, hub, watch: false });
    const out = src.save('fast:\n  chain: [lingma/c]\n');
    expect(out).toMatchObject({ ok: true, aliases: 2 });
    expect(outcomes).toEqual([true]);
    expect(readFileSync(file, 'utf8')).toContain('fast:');
    expect([...src.current().defs.keys()].sort()).toEqual(['base', 'fast']);
    expect(src.raw()).toEqual({ base: 'lingma/b', fast: { chain: ['lingma/c'] } });
    src.close();
  });

  it('refuses invalid text naming the problem; file and running aliases unchanged, no reload', () => {
    const file = join(tmp(), 'aliases.yaml');
    writeFileSync(file, 'old: lingma/a\n');
    const hub = new EventHub();
    let reloads = 0;
    hub.on('aliases', () => reloads++);
    const src = createAliasSource({ file, hub, watch: false });
    expect(() => src.save('a: [unclosed')).toThrow(/not valid YAML/);
    expect(() => src.save('- a\n- b\n')).toThrow(AliasError);
    expect(() => src.save('x:\n  chain: []\n')).toThrow(AliasError);
    expect(readFileSync(file, 'utf8')).toBe('old: lingma/a\n');
    expect([...src.current().defs.keys()]).toEqual(['old']);
    expect(reloads).toBe(0);
    src.close();
  });

  it('refuses to save when no aliases file is configured', () => {
    const src = createAliasSource({ inline: {}, watch: false });
    expect(() => src.save('a: lingma/a\n')).toThrow(/no aliases file/);
    src.close();
  });
});
