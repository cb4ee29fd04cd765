/**
 * When the dashboard loses the relay (the live socket is down after it was up), a full-width
 * banner says so; the Shell dims the data and disables every action under it until it is back.
 */
import type { SocketStatus } from '../api/socket';
import { useDash } from '../store';

/** The socket is down: shown data may be stale and actions cannot reach the relay. */
export function isOffline(s: SocketStatus): boolean {
  return s === 'reconnecting' || s === 'closed' || s === 'unauthorized';
}

export function useOffline(): boolean {
  return useDash((st) => isOffline(st.socket));
}

export function ConnectionBanner() {
  const s = useDash((st) => st.socket);
  if (!isOffline(s)) return null;
  return (
    <div className="conn-banner" role="alert" data-testid="conn-banner">
      <strong>Lost the connection to Lingma Relay.</strong>{' '}
      {s === 'unauthorized' ? 'The admin token was refused.' : 'Trying to reconnect…'}{' '}
      The figures below may be out of date, and actions are paused until the connection is back.
    </div>
  );
}
