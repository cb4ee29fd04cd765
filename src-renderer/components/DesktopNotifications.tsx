/**
 * Settings: desktop notifications on or off (an account needing a person, running out of
 * credits). The setting lives in the desktop app (`electron/settings.ts`, the tray toggles the
 * same one); in a browser there are none, and this card says so instead of offering a switch.
 */
import { useEffect, useState } from 'react';
import { desktop } from '../api/connection';
import { useDash } from '../store';
import { Card } from './ui';

export function DesktopNotifications() {
  const d = desktop();
  const can = typeof d?.notifications === 'function' && typeof d?.setNotifications === 'function';
  const [on, setOn] = useState<boolean | undefined>(undefined);
  useEffect(() => {
    if (!can) return;
    Promise.resolve(d!.notifications!()).then((v) => setOn(v === true)).catch(() => setOn(undefined));
  }, [can, d]);
  const change = (v: boolean): void => {
    setOn(v);
    Promise.resolve(d!.setNotifications!(v))
      .then((now) => setOn(now === true))
      .catch((e: unknown) => useDash.getState().toast('error', `Notifications: ${e instanceof Error ? e.message : String(e)}`));
  };
  return (
    <Card title="Desktop notifications" testId="notifications-card">
      {can ? (
        <label className="switch">
          <input type="checkbox" checked={on === true} disabled={on === undefined} onChange={(e) => change(e.target.checked)} data-testid="notifications-toggle" />
          Notify me when an account needs a person or runs out of credits
        </label>
      ) : (
        <p className="muted small">Desktop notifications come from the desktop app (its tray menu and this switch there). In a browser there are none.</p>
      )}
    </Card>
  );
}
