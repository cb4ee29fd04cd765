/**
 * Tabs that follow the WAI-ARIA tab pattern: one tab in the Tab order (the selected one), arrow
 * keys move and select, Home/End jump to the ends.
 */
import { useRef, type KeyboardEvent } from 'react';

/** Where a key moves the selection among `n` tabs from `i`; undefined for a key tabs ignore. */
export function nextTab(key: string, i: number, n: number): number | undefined {
  switch (key) {
    case 'ArrowRight': case 'ArrowDown': return (i + 1) % n;
    case 'ArrowLeft': case 'ArrowUp': return (i - 1 + n) % n;
    case 'Home': return 0;
    case 'End': return n - 1;
    default: return undefined;
  }
}

export function TabList<T extends string>(props: { label: string; items: readonly { id: T; title: string }[]; current: T; onSelect(id: T): void }) {
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const { items, current } = props;
  const onKey = (e: KeyboardEvent, i: number): void => {
    const j = nextTab(e.key, i, items.length);
    if (j === undefined) return;
    e.preventDefault();
    props.onSelect(items[j].id);
    refs.current[j]?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label={props.label}>
      {items.map((t, i) => (
        <button
          key={t.id}
          ref={(el) => { refs.current[i] = el; }}
          type="button"
          role="tab"
          aria-selected={t.id === current}
          tabIndex={t.id === current ? 0 : -1}
          className={`tab ${t.id === current ? 'tab-on' : ''}`}
          onClick={() => props.onSelect(t.id)}
          onKeyDown={(e) => onKey(e, i)}
        >
          {t.title}
        </button>
      ))}
    </div>
  );
}
