/** The structured alias editor: name, description, the chain, and each hop's options. */
import { useState } from 'react';
import type { AdminAlias, AdminSnapshot } from '../../../src-main/core/admin/api-types';
import { manage } from '../../api/manage';
import { Field } from '../../components/ui';
import { chainOf, hasErrors, validateAlias, type AliasDraft, type Errors } from '../../lib/validate';
import { AliasTestButton } from './AliasTest';
import { applyDraft, hopOf, hopProblem, targetOf, type HopDraft, type RawAlias } from './draft';
import type { useAliasSave } from './useAliasSave';

/** Is `target` a model some provider lists, or another alias? (The server says the same on save.) */
export function knownTarget(snap: AdminSnapshot, target: string): boolean {
  if (target.includes('*')) return true;
  if (snap.aliases.some((a) => a.name === target) || target in (snap.aliasesRaw ?? {})) return true;
  const models = snap.providers.flatMap((p) => p.models);
  return models.includes(target) || models.some((m) => m.slice(m.indexOf('/') + 1) === target);
}

export function UnknownModel() {
  return <span className="unknown-model small" data-testid="unknown-model">unknown model</span>;
}

export function AliasEditor(props: { snap: AdminSnapshot; alias?: AdminAlias; onDone: () => void; saver: ReturnType<typeof useAliasSave> }) {
  const raw = (props.snap.aliasesRaw ?? {}) as Record<string, RawAlias>;
  const prev = props.alias ? raw[props.alias.name] : undefined;
  const prevChain = prev && typeof prev === 'object' ? prev.chain : [];
  const [d, setD] = useState<AliasDraft>({
    name: props.alias?.name ?? '',
    description: props.alias?.description ?? '',
    chain: (props.alias?.chain ?? []).join('\n'),
  });
  const [hops, setHops] = useState<Record<string, HopDraft>>(() => Object.fromEntries(prevChain.map((t) => [targetOf(t), hopOf(t)])));
  const [errs, setErrs] = useState<Errors<AliasDraft>>({});
  const [serverErr, setServerErr] = useState<string>();
  const [busy, setBusy] = useState(false);
  const others = Object.keys(raw).concat(props.snap.aliases.map((a) => a.name)).filter((n) => n !== props.alias?.name);
  const suggestions = [...new Set([...props.snap.providers.flatMap((p) => p.models), ...props.snap.aliases.map((a) => a.name)])].slice(0, 40);
  const targets = chainOf(d);
  const hop = (t: string): HopDraft => hops[t] ?? { firstByteTimeoutMs: '', toolEmulation: false };
  const hopErrs = Object.fromEntries(targets.map((t) => [t, hopProblem(hop(t))]));

  const save = async (ev: { preventDefault(): void }) => {
    ev.preventDefault();
    const e = validateAlias(d, others);
    setErrs(e);
    setServerErr(undefined);
    if (hasErrors(e) || Object.values(hopErrs).some(Boolean)) return;
    setBusy(true);
    try {
      const next = applyDraft(raw, props.alias?.name, d, hops);
      if (await props.saver.save((c, confirm) => manage.saveAliases(c, next, confirm), `Alias ${d.name.trim()} saved`)) props.onDone();
    } catch (err) {
      setServerErr(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const fid = `alias-${props.alias?.name ?? 'new'}`;
  const isDefault = d.name.trim() === 'default';
  return (
    <form className="form" onSubmit={save} noValidate data-testid={`${fid}-form`}>
      <div className="form-grid">
        <Field label="Name" htmlFor={`${fid}-name`} error={errs.name} hint={isDefault ? 'default is the catch-all: any model name nothing else matches goes here.' : 'What clients send as the model; * matches anything (claude-*).'}>
          <input id={`${fid}-name`} value={d.name} onChange={(e) => setD({ ...d, name: e.target.value })} spellCheck={false} autoComplete="off" />
        </Field>
        <Field label="Description" htmlFor={`${fid}-desc`}>
          <input id={`${fid}-desc`} value={d.description} onChange={(e) => setD({ ...d, description: e.target.value })} autoComplete="off" />
        </Field>
      </div>
      <Field label="Chain (one target per line, tried in order)" htmlFor={`${fid}-chain`} error={errs.chain} hint={suggestions.length ? `Known: ${suggestions.slice(0, 8).join(', ')}${suggestions.length > 8 ? '…' : ''}` : 'provider/model, a bare model, or another alias'}>
        <textarea id={`${fid}-chain`} rows={4} value={d.chain} onChange={(e) => setD({ ...d, chain: e.target.value })} spellCheck={false} className="mono" />
      </Field>
      {targets.length > 0 && (
        <table className="table hop-table" data-testid={`${fid}-hops`}>
          <caption className="small muted">Each hop's options</caption>
          <thead><tr><th scope="col">Target</th><th scope="col">First-byte timeout (ms)</th><th scope="col">Tool emulation</th><th scope="col"><span className="sr-only">Test</span></th></tr></thead>
          <tbody>
            {targets.map((t, i) => (
              <tr key={`${t}-${i}`}>
                <td><span className="mono">{t}</span> {!knownTarget(props.snap, t) && <UnknownModel />}</td>
                <td>
                  <input id={`${fid}-hop-${i}-fb`} aria-label={`First-byte timeout for ${t}`} inputMode="numeric" placeholder="default" value={hop(t).firstByteTimeoutMs}
                    aria-invalid={hopErrs[t] ? true : undefined} onChange={(e) => setHops({ ...hops, [t]: { ...hop(t), firstByteTimeoutMs: e.target.value } })} />
                  {hopErrs[t] && <div className="field-msg" role="alert">{hopErrs[t]}</div>}
                </td>
                <td>
                  <input id={`${fid}-hop-${i}-te`} type="checkbox" aria-label={`Tool emulation for ${t}`} checked={hop(t).toolEmulation}
                    onChange={(e) => setHops({ ...hops, [t]: { ...hop(t), toolEmulation: e.target.checked } })} />
                </td>
                <td><AliasTestButton model={t} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {serverErr && <div className="form-error" role="alert">{serverErr}</div>}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={busy}>{busy ? 'Saving…' : 'Save alias'}</button>
        <button type="button" className="btn btn-ghost" onClick={props.onDone}>Cancel</button>
      </div>
    </form>
  );
}
