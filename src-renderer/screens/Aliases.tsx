import { useState } from 'react';
import type { AdminAlias, AdminSnapshot } from '../../src-main/core/admin/api-types';
import { Badge, Card, ConfirmButton, Empty, Field, type Tone } from '../components/ui';
import { fmtDateTime } from '../lib/format';
import { chainOf, hasErrors, validateAlias, type AliasDraft, type Errors } from '../lib/validate';
import { useDash } from '../store';

const TONE: Record<string, Tone> = { ok: 'ok', degraded: 'warn', down: 'bad', unknown: 'muted' };

type RawTarget = string | { target: string; [k: string]: unknown };
type RawAlias = string | { description?: string; chain: RawTarget[]; [k: string]: unknown };

function targetOf(t: RawTarget): string {
  return typeof t === 'string' ? t : t.target;
}

/** Merge an edited draft into the raw alias table, keeping per-target options that still apply. */
export function applyDraft(raw: Record<string, RawAlias>, original: string | undefined, d: AliasDraft): Record<string, RawAlias> {
  const next = { ...raw };
  const prev = original ? next[original] : undefined;
  if (original) delete next[original];
  const prevChain = prev && typeof prev === 'object' ? prev.chain : [];
  const chain = chainOf(d).map((t) => prevChain.find((p) => targetOf(p) === t && typeof p === 'object') ?? t);
  const rest = prev && typeof prev === 'object' ? prev : {};
  next[d.name.trim()] = { ...rest, chain, ...(d.description.trim() ? { description: d.description.trim() } : { description: undefined }) };
  const entry = next[d.name.trim()] as Record<string, unknown>;
  if (entry.description === undefined) delete entry.description;
  return next;
}

function AliasEditor(props: { snap: AdminSnapshot; alias?: AdminAlias; onDone: () => void }) {
  const raw = (props.snap.aliasesRaw ?? {}) as Record<string, RawAlias>;
  const [d, setD] = useState<AliasDraft>({
    name: props.alias?.name ?? '',
    description: props.alias?.description ?? '',
    chain: (props.alias?.chain ?? []).join('\n'),
  });
  const [errs, setErrs] = useState<Errors<AliasDraft>>({});
  const [serverErr, setServerErr] = useState<string>();
  const [busy, setBusy] = useState(false);
  const others = Object.keys(raw).concat(props.snap.aliases.map((a) => a.name)).filter((n) => n !== props.alias?.name);
  const suggestions = [...new Set([...props.snap.providers.flatMap((p) => p.models), ...props.snap.aliases.map((a) => a.name)])].slice(0, 40);

  const save = async (ev: { preventDefault(): void }) => {
    ev.preventDefault();
    const e = validateAlias(d, others);
    setErrs(e);
    setServerErr(undefined);
    if (hasErrors(e)) return;
    const client = useDash.getState().client;
    if (!client) return;
    setBusy(true);
    try {
      await client.saveAliases(applyDraft(raw, props.alias?.name, d));
      useDash.getState().toast('ok', `Alias ${d.name.trim()} saved`);
      props.onDone();
    } catch (err) {
      setServerErr(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const fid = `alias-${props.alias?.name ?? 'new'}`;
  return (
    <form className="form" onSubmit={save} noValidate data-testid={`${fid}-form`}>
      <div className="form-grid">
        <Field label="Name" htmlFor={`${fid}-name`} error={errs.name} hint="What clients send as the model; * matches anything (claude-*).">
          <input id={`${fid}-name`} value={d.name} onChange={(e) => setD({ ...d, name: e.target.value })} spellCheck={false} autoComplete="off" />
        </Field>
        <Field label="Description" htmlFor={`${fid}-desc`}>
          <input id={`${fid}-desc`} value={d.description} onChange={(e) => setD({ ...d, description: e.target.value })} autoComplete="off" />
        </Field>
      </div>
      <Field label="Chain (one target per line, tried in order)" htmlFor={`${fid}-chain`} error={errs.chain} hint={suggestions.length ? `Known: ${suggestions.slice(0, 8).join(', ')}${suggestions.length > 8 ? '…' : ''}` : 'provider/model, a bare model, or another alias'}>
        <textarea id={`${fid}-chain`} rows={4} value={d.chain} onChange={(e) => setD({ ...d, chain: e.target.value })} spellCheck={false} className="mono" />
      </Field>
      {serverErr && <div className="form-error" role="alert">{serverErr}</div>}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>{busy ? 'Saving…' : 'Save alias'}</button>
        <button type="button" className="btn btn-ghost" onClick={props.onDone}>Cancel</button>
      </div>
    </form>
  );
}

export function Aliases({ snap }: { snap: AdminSnapshot }) {
  const [editing, setEditing] = useState<string | 'new'>();
  const reload = snap.aliasesReload;
  const remove = async (name: string) => {
    const raw = { ...((snap.aliasesRaw ?? {}) as Record<string, RawAlias>) };
    delete raw[name];
    const { client, toast } = useDash.getState();
    try {
      await client?.saveAliases(raw);
      toast('ok', `Alias ${name} removed`);
    } catch (e) {
      toast('error', `Remove ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return (
    <div className="screen" data-testid="screen-aliases">
      {reload && !reload.ok && (
        <div className="banner banner-bad" role="alert">The last aliases reload failed ({fmtDateTime(reload.at)}): {reload.error}. The previous aliases stay in force.</div>
      )}
      <Card
        title={<>Aliases <span className="count">{snap.aliases.length}</span></>}
        actions={editing !== 'new' && <button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>New alias</button>}
      >
        <p className="muted small">An alias is a name clients use as the model, with a chain of targets tried in order when one fails.{snap.aliasesPath ? <> Saved to <span className="mono">{snap.aliasesPath}</span>.</> : null}</p>
        {editing === 'new' && <AliasEditor snap={snap} onDone={() => setEditing(undefined)} />}
        {snap.aliases.length === 0 && editing !== 'new' ? (
          <Empty testId="empty-aliases" title="No aliases yet" action={<button type="button" className="btn btn-primary" onClick={() => setEditing('new')}>Create an alias</button>}>
            <p>Clients can already use <span className="mono">provider/model</span> names. Aliases add short names (like <span className="mono">coder</span>) with fallbacks, and patterns like <span className="mono">claude-*</span> for tools that hard-code model names.</p>
          </Empty>
        ) : (
          <ul className="alias-list">
            {snap.aliases.map((a) => (
              <li key={a.name} className="alias" data-testid={`alias-${a.name}`}>
                {editing === a.name ? (
                  <AliasEditor snap={snap} alias={a} onDone={() => setEditing(undefined)} />
                ) : (
                  <>
                    <div className="alias-head">
                      <span className="strong mono">{a.name}</span>
                      {a.pattern && <Badge tone="info">pattern</Badge>}
                      {a.description && <span className="muted">{a.description}</span>}
                      <span className="spacer" />
                      <button type="button" className="btn btn-small btn-ghost" onClick={() => setEditing(a.name)}>Edit</button>
                      <ConfirmButton small label="Delete" confirm={`Delete ${a.name}`} onConfirm={() => remove(a.name)} />
                    </div>
                    <ol className="chain">
                      {a.targets.map((t, idx) => (
                        <li key={`${t.label}-${idx}`} className="chain-step">
                          <Badge tone={TONE[t.status]} title={t.total ? `${t.ready} of ${t.total} instances ready` : 'no instance of this provider'}>
                            <span className="mono">{t.label}</span>
                          </Badge>
                          {t.total > 0 && <span className="muted small">{t.ready}/{t.total}</span>}
                          {idx < a.targets.length - 1 && <span className="chain-arrow" aria-hidden="true">→</span>}
                        </li>
                      ))}
                    </ol>
                  </>
                )}
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}
