/**
 * A finished request's status as a person reads it, the same in Live and Usage: a green status, an
 * amber "200 · stream broken" (the client got a 200 and the first bytes, then the stream failed) or
 * a red status with its error type. The rule is the relay's (`requestOutcomeKind`).
 */
import { requestOutcomeKind } from '../../src-main/core/state-types';
import { Badge } from './ui';

export function OutcomeBadge({ status, errorCode }: { status?: number; errorCode?: string | null }) {
  const s = status ?? 200;
  switch (requestOutcomeKind(s, errorCode)) {
    case 'stream_broken':
      return <span data-testid="outcome" data-kind="stream_broken"><Badge tone="warn" title={`The stream failed after its first byte${errorCode ? ` (${errorCode})` : ''}`}>{s} · stream broken</Badge></span>;
    case 'failed':
      return <span data-testid="outcome" data-kind="failed"><Badge tone="bad">{s}{errorCode ? ` ${errorCode}` : ''}</Badge></span>;
    default:
      return <span data-testid="outcome" data-kind="ok"><Badge tone="ok">{s}</Badge></span>;
  }
}
