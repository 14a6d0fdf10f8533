// Owns: one check item as the task page shows it — status, target, error code with its hint from @conncheck/core,
// stage timeline, server version, TLS report with the certificate's expiry, where it ran. Must not: fetch anything.

import { type ItemErrorCode, itemErrorHints } from '@conncheck/core/error-codes';
import type { CheckItem } from '../api';
import { duration } from '../format';
import { StageTimeline } from './stage-timeline';
import { ItemBadge } from './status';
import { Time } from './time';

const hintOf = (code: string): string | undefined => (itemErrorHints as Partial<Record<string, string>>)[code as ItemErrorCode];

function target(item: CheckItem): string {
  const endpoints = item.target.endpoints.map((e) => (e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`));
  return endpoints.length > 0 ? endpoints.join(', ') : item.target.ip;
}

function Expiry({ days, notAfter }: { days: number; notAfter: string }) {
  const whole = Math.floor(days);
  if (days < 0) return <span class="badge tone-bad">✗ expired {-whole} days ago</span>;
  const tone = days < 30 ? 'wait' : 'ok';
  return (
    <span class={`badge tone-${tone}`} title={notAfter}>
      {days < 30 ? '⚠' : '✓'} expires in {whole} {whole === 1 ? 'day' : 'days'}
    </span>
  );
}

function TlsReport({ tls }: { tls: NonNullable<CheckItem['tls']> }) {
  return (
    <section class="tls" aria-label="TLS report">
      <h4>TLS</h4>
      <dl class="facts">
        <dt>protocol</dt>
        <dd>
          {tls.protocol} · {tls.cipher}
        </dd>
        <dt>subject</dt>
        <dd>
          <code>{tls.subject}</code>
        </dd>
        <dt>issuer</dt>
        <dd>
          <code>{tls.issuer}</code>
        </dd>
        {tls.subject_alt_names.length > 0 && (
          <>
            <dt>names</dt>
            <dd>{tls.subject_alt_names.join(', ')}</dd>
          </>
        )}
        <dt>valid</dt>
        <dd>
          <Time at={tls.not_before} /> → <Time at={tls.not_after} /> <Expiry days={tls.days_to_expiry} notAfter={tls.not_after} />
        </dd>
      </dl>
    </section>
  );
}

export function ItemCard({ item, scaleMs }: { item: CheckItem; scaleMs: number }) {
  const hint = item.error_code ? hintOf(item.error_code) : undefined;
  return (
    <article class={`item item-${item.status}`} data-item-index={item.index} data-item-id={item.id}>
      <header class="item-head">
        <span class="item-index">#{item.index}</span>
        <h3 class="item-id">{item.id}</h3>
        <span class="item-type">{item.db_type}</span>
        <ItemBadge status={item.status} />
        <span class="item-duration">{duration(item.duration_ms)}</span>
      </header>

      {item.error_code && (
        <div class="item-error" data-testid="item-error">
          <p>
            <code class="error-code">{item.error_code}</code>
            {item.error_msg && <span class="error-msg"> {item.error_msg}</span>}
          </p>
          {hint && (
            <p class="hint" data-testid="hint">
              <strong>What to do:</strong> {hint}
            </p>
          )}
        </div>
      )}
      {item.waiting && <p class="notice notice-wait">Waiting: {item.waiting}</p>}
      {item.warnings?.map((warning) => (
        <p key={warning} class="notice notice-wait">
          ⚠ {warning}
        </p>
      ))}

      <StageTimeline stages={item.stages} scaleMs={scaleMs} />

      <dl class="facts">
        <dt>target</dt>
        <dd>
          <code>{target(item)}</code>
          {item.target.db_user && <> as {item.target.db_user}</>}
          {item.target.db_name && <> · database {item.target.db_name}</>}
        </dd>
        {item.address && (
          <>
            <dt>connected to</dt>
            <dd>
              <code>{item.address}</code>
            </dd>
          </>
        )}
        {item.server && (
          <>
            <dt>server</dt>
            <dd data-testid="server">
              {item.server.product} {item.server.version}
            </dd>
          </>
        )}
        <dt>ran</dt>
        <dd>
          pool {item.pool}
          {item.worker && <> · worker {item.worker.id}</>} · {item.attempts} {item.attempts === 1 ? 'attempt' : 'attempts'}
          {item.started_at && (
            <>
              {' '}
              · <Time at={item.started_at} /> → <Time at={item.finished_at} />
            </>
          )}
        </dd>
      </dl>
      {item.tls && <TlsReport tls={item.tls} />}
    </article>
  );
}
