/**
 * The request detail's sections: what the client sent, what it got back, what went upstream,
 * tokens, cost and the ledger row, and the log lines of that request. Each says plainly when
 * there is nothing to show.
 */
import type { ReactNode } from 'react';
import type { AdminLogLine, UsageRow } from '../../../src-main/core/admin/api-types';
import type { CapturedAnswer, CapturedUpstream } from '../../../src-main/core/inspector/types';
import { fmtDateTime, fmtInt, fmtMs, fmtTime, fmtUsd } from '../../lib/format';
import { Badge } from '../ui';

export function pretty(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 2);
}

export function KV({ rows }: { rows: Array<[string, ReactNode]> }) {
  const shown = rows.filter(([, v]) => v !== undefined && v !== null && v !== '');
  return (
    <dl className="rd-kv">
      {shown.map(([k, v]) => (
        <div key={k} className="rd-kv-row"><dt>{k}</dt><dd>{v}</dd></div>
      ))}
    </dl>
  );
}

export function Pre({ text, testId, label }: { text: string; testId?: string; label: string }) {
  return <pre className="rd-pre" data-testid={testId} aria-label={label} tabIndex={0}>{text}</pre>;
}

export function RequestBody({ body, truncated }: { body: unknown; truncated: boolean }) {
  return (
    <>
      {truncated && <p className="banner banner-warn"><span>Part of this request was cut by the inspector (<code>inspector.maxBodyBytes</code>); long strings end with a marker.</span></p>}
      {body === undefined || body === null ? <p className="muted">The request had no JSON body.</p> : <Pre text={pretty(body)} testId="rd-request" label="Request body" />}
    </>
  );
}

export function Answer({ answer, error }: { answer?: CapturedAnswer; error?: { code: string; status: number; message: string } }) {
  return (
    <>
      {error && (
        <div className="banner banner-bad" role="alert" data-testid="rd-error">
          <span><strong>{error.status} {error.code}</strong>: {error.message}</span>
        </div>
      )}
      {!answer ? (
        <p className="muted">{error ? 'No answer reached the client.' : 'No answer was recorded.'}</p>
      ) : (
        <>
          <h3 className="sub">Text</h3>
          {answer.text ? <Pre text={answer.text} testId="rd-answer" label="Answer text" /> : <p className="muted">No text.</p>}
          {answer.reasoning && (
            <details className="rd-details">
              <summary>Reasoning ({fmtInt(answer.reasoning.length)} characters)</summary>
              <Pre text={answer.reasoning} label="Reasoning" />
            </details>
          )}
          {answer.toolCalls.length > 0 && (
            <>
              <h3 className="sub">Tool calls</h3>
              {answer.toolCalls.map((t) => (
                <div key={t.id} className="rd-tool">
                  <div><span className="strong mono">{t.name}</span> <span className="muted small mono">{t.id}</span></div>
                  <Pre text={prettyJsonText(t.arguments)} label={`Arguments of ${t.name}`} />
                </div>
              ))}
            </>
          )}
          <KV rows={[
            ['Finish reason', answer.finishReason],
            ['Tokens in', answer.usage ? fmtInt(answer.usage.promptTokens) : undefined],
            ['Tokens out', answer.usage ? fmtInt(answer.usage.completionTokens) : undefined],
            ['Reasoning tokens', answer.usage?.reasoningTokens ? fmtInt(answer.usage.reasoningTokens) : undefined],
            ['Cached tokens', answer.usage?.cachedTokens ? fmtInt(answer.usage.cachedTokens) : undefined],
            ['Counted', answer.usage ? (answer.usage.estimated ? 'estimated by the relay' : 'reported by the backend') : undefined],
          ]} />
        </>
      )}
    </>
  );
}

function prettyJsonText(s: string): string {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}

export function Upstream({ up }: { up?: CapturedUpstream }) {
  if (!up) return <p className="muted">No backend reported what it sent (the request ended before reaching one).</p>;
  return (
    <>
      <KV rows={[['Backend', up.kind], ['Instance', up.instance], ...Object.entries(up.info ?? {}).map(([k, v]): [string, ReactNode] => [k, String(v)])]} />
      {up.body !== undefined && <Pre text={pretty(up.body)} testId="rd-upstream" label="Upstream body" />}
      {up.prompt !== undefined && (
        <>
          <h3 className="sub">Prompt as sent</h3>
          <Pre text={up.prompt} testId="rd-upstream-prompt" label="Upstream prompt" />
        </>
      )}
    </>
  );
}

/** Tokens, cost and the stored usage row (`GET /admin/usage/recent?requestId=`). */
export function LedgerRow({ row, problem }: { row?: UsageRow; problem?: string }) {
  if (!row) return <p className="muted" data-testid="rd-ledger-none">{problem ?? 'No usage row for this request yet (the ledger writes in batches; it may also be off).'}</p>;
  return (
    <div data-testid="rd-ledger">
      <KV rows={[
        ['Row', `#${row.id}`],
        ['Received', fmtDateTime(row.receivedAt)],
        ['Model', row.label || row.model],
        ['Requested', row.requestedModel],
        ['Alias', row.alias],
        ['Instance', row.instance],
        ['Status', <Badge key="s" tone={row.status >= 400 ? 'bad' : 'ok'}>{row.status}{row.errorType ? ` ${row.errorType}` : ''}</Badge>],
        ['Switches', row.switches ? `${row.switches}: ${row.switchReasons.join(', ')}` : 'none'],
        ['Tokens in / out', `${fmtInt(row.promptTokens)} / ${fmtInt(row.completionTokens)}${row.tokensEstimated ? ' (estimated)' : ''}`],
        ['Reasoning / cached', row.reasoningTokens || row.cachedTokens ? `${fmtInt(row.reasoningTokens ?? 0)} / ${fmtInt(row.cachedTokens ?? 0)}` : undefined],
        ['Cost', row.costUsd === null ? 'no price configured for this model' : fmtUsd(row.costUsd)],
        ['Time to first byte', fmtMs(row.ttftMs)],
        ['Total', fmtMs(row.totalMs)],
        ['Session reused', row.sessionReuse ? 'yes' : 'no'],
        ['Client', row.userAgent],
        ['Endpoint', `${row.endpoint} (${row.protocol}${row.stream ? ', streamed' : ''})`],
      ]} />
    </div>
  );
}

export function RequestLogs({ lines }: { lines: AdminLogLine[] }) {
  if (!lines.length) return <p className="muted" data-testid="rd-logs-none">No log lines of this request are in the recent log (it keeps the last lines only).</p>;
  return (
    <div className="rd-logs mono small" data-testid="rd-logs">
      {lines.map((l, n) => (
        <div key={n} className={`rd-log lvl-${l.level}`}>
          <span className="muted">{fmtTime(l.time)}</span> <span className="rd-lvl">{l.level}</span> {l.instance && <span className="muted">[{l.instance}] </span>}
          <span>{l.msg}</span>
          {l.fields && <span className="muted"> {Object.entries(l.fields).filter(([k]) => !['reqId', 'requestId'].includes(k)).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}</span>}
        </div>
      ))}
    </div>
  );
}
