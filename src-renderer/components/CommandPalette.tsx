/**
 * The command palette (⌘K / Ctrl+K, or the top bar's button): the common actions by name: go to
 * a screen, sign in all accounts, copy the endpoint, switch the theme. A modal dialog with a
 * filtered list (combobox + listbox): arrows move, Enter runs, Escape closes and focus returns.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import type { AdminSnapshot } from '../../src-main/core/admin/api-types';
import { setTheme } from '../lib/theme';
import { signInAll, useDash } from '../store';
import { copyText } from './ui';

export interface PaletteCommand {
  id: string;
  title: string;
  hint?: string;
  run(): void;
}

/** Commands whose every word of `query` appears in the title or hint (case-insensitive), in order. */
export function filterCommands(cmds: readonly PaletteCommand[], query: string): PaletteCommand[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!words.length) return [...cmds];
  return cmds.filter((c) => {
    const hay = `${c.title} ${c.hint ?? ''}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** The palette's commands for a snapshot and the dashboard's screens. */
export function commandsFor(snap: AdminSnapshot, routes: readonly { id: string; title: string }[], go: (id: string) => void): PaletteCommand[] {
  const toast = useDash.getState().toast;
  return [
    ...routes.map((r) => ({ id: `go-${r.id}`, title: `Go to ${r.title}`, hint: 'screen', run: () => go(r.id) })),
    { id: 'sign-in-all', title: 'Sign in all accounts', hint: 'accounts', run: () => void signInAll(snap) },
    { id: 'copy-endpoint', title: 'Copy the API endpoint', hint: snap.endpoint, run: () => void copyText(snap.endpoint).then((ok) => toast(ok ? 'ok' : 'error', ok ? 'Endpoint copied' : 'Could not copy')) },
    { id: 'theme-light', title: 'Theme: light', hint: 'appearance', run: () => setTheme('light') },
    { id: 'theme-dark', title: 'Theme: dark', hint: 'appearance', run: () => setTheme('dark') },
    { id: 'theme-system', title: 'Theme: follow the system', hint: 'appearance', run: () => setTheme('system') },
  ];
}

/** ⌘K / Ctrl+K toggles `open`. */
export function usePaletteShortcut(toggle: () => void): void {
  useEffect(() => {
    const on = (e: KeyboardEvent): void => {
      if ((e.metaKey || e.ctrlKey) && !e.altKey && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        toggle();
      }
    };
    window.addEventListener('keydown', on);
    return () => window.removeEventListener('keydown', on);
  }, [toggle]);
}

export function CommandPalette({ commands, onClose }: { commands: readonly PaletteCommand[]; onClose(): void }) {
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  const input = useRef<HTMLInputElement>(null);
  const shown = useMemo(() => filterCommands(commands, query), [commands, query]);
  const back = useRef<Element | null>(null);

  useEffect(() => {
    back.current = document.activeElement;
    input.current?.focus();
    return () => {
      if (back.current instanceof HTMLElement) back.current.focus();
    };
  }, []);
  useEffect(() => setActive(0), [query]);

  const run = (c: PaletteCommand | undefined): void => {
    if (!c) return;
    onClose();
    c.run();
  };
  const onKey = (e: React.KeyboardEvent): void => {
    if (e.key === 'Escape') { e.preventDefault(); onClose(); return; }
    if (e.key === 'ArrowDown') { e.preventDefault(); setActive((a) => (shown.length ? (a + 1) % shown.length : 0)); return; }
    if (e.key === 'ArrowUp') { e.preventDefault(); setActive((a) => (shown.length ? (a - 1 + shown.length) % shown.length : 0)); return; }
    if (e.key === 'Enter') { e.preventDefault(); run(shown[active]); return; }
    // Focus stays in the dialog.
    if (e.key === 'Tab') e.preventDefault();
  };

  return (
    <div className="palette-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <div className="palette" role="dialog" aria-modal="true" aria-label="Command palette" data-testid="palette" onKeyDown={onKey}>
        <input
          ref={input}
          className="palette-input"
          role="combobox"
          aria-expanded="true"
          aria-controls="palette-list"
          aria-activedescendant={shown[active] ? `palette-${shown[active].id}` : undefined}
          aria-label="Command"
          placeholder="Type a command…"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          spellCheck={false}
          autoComplete="off"
        />
        <ul id="palette-list" className="palette-list" role="listbox" aria-label="Commands">
          {shown.map((c, i) => (
            <li
              key={c.id}
              id={`palette-${c.id}`}
              role="option"
              aria-selected={i === active}
              className={`palette-item ${i === active ? 'palette-on' : ''}`}
              data-testid={`cmd-${c.id}`}
              onMouseEnter={() => setActive(i)}
              onClick={() => run(c)}
            >
              <span>{c.title}</span>
              {c.hint && <span className="palette-hint">{c.hint}</span>}
            </li>
          ))}
          {!shown.length && <li className="palette-empty" role="option" aria-selected="false" aria-disabled="true">No command matches.</li>}
        </ul>
      </div>
    </div>
  );
}
