import { useState } from 'react';
import type { AdminSnapshot } from '../../src-main/core/admin/api-types';
import { manage } from '../api/manage';
import { AliasesBanner } from '../components/Manage/AliasesBanner';
import '../components/Manage/manage.css';
import { Badge, Card, ConfirmButton, Empty, type Tone } from '../components/ui';
import { TabList } from '../components/TabList';
import { useDash } from '../store';
import { AliasEditor, UnknownModel } from './aliases/AliasEditor';
import { AliasTestButton } from './aliases/AliasTest';
import { hopOf, targetOf, type RawAlias } from './aliases/draft';
import { RawEditor } from './aliases/RawEditor';
import { useAliasSave } from './aliases/useAliasSave';

export { applyDraft } from './aliases/draft';

const TONE: Record<string, Tone> = { ok: 'ok', degraded: 'warn', down: 'bad', unknown: 'muted' };

/** The hop options an alias carries, in words under its chain (edited in the alias's editor). */
function HopNotes({ raw }: { raw: RawAlias | undefined }) {
  if (!raw || typeof raw === 'string') return null;
  const notes = raw.chain.flatMap((t) => {
    const h = hopOf(t);
    const parts = [h.firstByteTimeoutMs && `first byte within ${h.firstByteTimeoutMs} ms`, h.toolEmulation && 'tools emulated'].filter(Boolean);
    return parts.length ? [`${targetOf(t)}: ${parts.join(', ')}`] : [];
  });
  if (!notes.length) return null;
  return <p className="muted small hop-notes" data-testid="hop-notes">{notes.join(' · ')}</p>;
}

export function Aliases({ snap }: { snap: AdminSnapshot }) {
  const [editing, setEditing] = useState<string | 'new'>();
  const [tab, setTab] = useState<'list' | 'yaml'>('list');
  const saver = useAliasSave();
  const remove = async (name: string) => {
    const raw = { ...((snap.aliasesRaw ?? {}) as Record<string, RawAlias>) };
    delete raw[name];
    try {
      await saver.save((c, confirm) => manage.saveAliases(c, raw, confirm), `Alias ${name} removed`);
    } catch (e) {
      useDash.getState().toast('error', `Remove ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return (
    <div className="screen" data-testid="screen-aliases">
      <AliasesBanner snap={snap} onAliases />
      {saver.dialog}
      <Card
        title={<>Aliases <span className="count">{snap.aliases.length}</span></>}
        actions={(
          <>
            <TabList<'list' | 'yaml'> label="Editor" items={[{ id: 'list', title: 'Aliases' }, { id: 'yaml', title: 'YAML' }]} current={tab} onSelect={setTab} />
            {tab === 'list' && editing !== 'new' && <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>New alias</button>}
          </>
        )}
      >
        <p className="muted small">An alias is a name clients use as the model, with a chain of targets tried in order when one fails.{snap.aliasesPath ? <> Saved to <span className="mono">{snap.aliasesPath}</span>; its comments and layout are kept.</> : null}</p>
        {tab === 'yaml' ? <RawEditor saver={saver} path={snap.aliasesPath} /> : (
          <>
            {editing === 'new' && <AliasEditor snap={snap} saver={saver} onDone={() => setEditing(undefined)} />}
            {snap.aliases.length === 0 && editing !== 'new' ? (
              <Empty testId="empty-aliases" title="No aliases yet" action={<button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>Create an alias</button>}>
                <p>Clients can already use <span className="mono">provider/model</span> names. Aliases add short names (like <span className="mono">coder</span>) with fallbacks, and patterns like <span className="mono">claude-*</span> for tools that hard-code model names.</p>
              </Empty>
            ) : (
              <ul className="alias-list">
                {snap.aliases.map((a) => (
                  <li key={a.name} className="alias" data-testid={`alias-${a.name}`}>
                    {editing === a.name ? (
                      <AliasEditor snap={snap} saver={saver} alias={a} onDone={() => setEditing(undefined)} />
                    ) : (
                      <>
                        <div className="alias-head">
                          <span className="strong mono">{a.name}</span>
                          {a.name === 'default' && <Badge tone="info" title="Any model name nothing else matches is sent here.">catch-all</Badge>}
                          {a.pattern && <Badge tone="info">pattern</Badge>}
                          {a.description && <span className="muted">{a.description}</span>}
                          <span className="spacer" />
                          {!a.pattern && <AliasTestButton model={a.name} />}
                          <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(a.name)}>Edit</button>
                          <ConfirmButton small label="Delete" confirm={`Delete ${a.name}`} onConfirm={() => remove(a.name)} />
                        </div>
                        <ol className="chain">
                          {a.targets.map((t, idx) => (
                            <li key={`${t.label}-${idx}`} className="chain-step">
                              <Badge tone={t.unknownModel ? 'bad' : TONE[t.status]} title={t.unknownModel ? 'No provider lists this model' : t.total ? `${t.ready} of ${t.total} instances ready` : 'no instance of this provider'}>
                                <span className="mono">{t.label}</span>
                              </Badge>
                              {t.unknownModel && <UnknownModel />}
                              {t.total > 0 && <span className="muted small">{t.ready}/{t.total}</span>}
                              {idx < a.targets.length - 1 && <span className="chain-arrow" aria-hidden="true">→</span>}
                            </li>
                          ))}
                        </ol>
                        <HopNotes raw={(snap.aliasesRaw ?? {})[a.name] as RawAlias | undefined} />
                      </>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </Card>
    </div>
  );
}
