/**
 * Saving aliases: a file that is broken on disk is replaced only after the person saw the diff
 * (the server answers 409 with it); targets no provider lists come back as warnings.
 */
import { useState } from 'react';
import type { AliasesBrokenBody } from '../../../src-main/core/admin/api-types';
import { brokenFile, type AliasesSaved } from '../../api/manage';
import type { AdminClient } from '../../api/client';
import { useDash } from '../../store';
import { DiffView } from '../Connect';

type Send = (c: AdminClient, confirm: boolean) => Promise<AliasesSaved>;

export function useAliasSave() {
  const [pending, setPending] = useState<{ body: AliasesBrokenBody; send: Send; done: string }>();

  /** Save; resolves true when saved, false when it waits for the person's confirmation. Throws other errors. */
  const save = async (send: Send, done: string): Promise<boolean> => {
    const { client, toast } = useDash.getState();
    if (!client) return false;
    try {
      const r = await send(client, false);
      report(r, done);
      return true;
    } catch (e) {
      const body = brokenFile(e);
      if (!body) throw e;
      setPending({ body, send, done });
      return false;
    }
    function report(r: AliasesSaved, text: string) {
      toast('ok', text);
      for (const w of r.warnings ?? []) toast('error', `Saved, but ${w.message}.`);
    }
  };

  const confirm = async () => {
    const { client, toast } = useDash.getState();
    if (!client || !pending) return;
    try {
      const r = await pending.send(client, true);
      toast('ok', pending.done);
      for (const w of r.warnings ?? []) toast('error', `Saved, but ${w.message}.`);
    } catch (e) {
      toast('error', e instanceof Error ? e.message : String(e));
    } finally {
      setPending(undefined);
    }
  };

  const dialog = pending ? (
    <div className="banner banner-warn" role="alertdialog" aria-labelledby="broken-title" data-testid="aliases-overwrite">
      <div id="broken-title"><strong>The aliases file on disk is broken</strong> ({pending.body.problem}). Saving replaces it with:</div>
      <DiffView diff={pending.body.diff} testId="aliases-overwrite-diff" />
      <div className="form-actions">
        <button type="button" className="btn btn-danger" onClick={() => void confirm()}>Overwrite the broken file</button>
        <button type="button" className="btn btn-ghost" onClick={() => setPending(undefined)}>Keep the file</button>
      </div>
    </div>
  ) : null;

  return { save, dialog };
}
