// Owns: the saved-resources page — the project's enhanced datasource connections with each pool's status and last
// check (linking to its task), and the VPC channels of each pool with their members. Must not: create, change or
// delete any of them (the API's own routes do that).

import { itemErrorHints, type ItemErrorCode } from '@conncheck/core/error-codes';
import { useState } from 'preact/hooks';
import { type EnhancedConnection, type Pool, type VpcChannel, type VpcChannelMember, api } from '../api';
import { Empty, ErrorNotice, Loading, PolledState } from '../components/notice';
import { QueueBadge } from '../components/status';
import { Time } from '../components/time';
import { duration } from '../format';
import { usePolling } from '../polling';
import { href } from '../route';

const REFRESH_MS = 5000;

function destination(connection: EnhancedConnection): string {
  const d = connection.destination;
  return [d.db_type, d.ip && `${d.ip}${d.db_port ? `:${d.db_port}` : ''}`, d.db_user && `as ${d.db_user}`, d.db_name && `database ${d.db_name}`]
    .filter(Boolean)
    .join(' ');
}

function Connections({ project }: { project: string }) {
  const list = usePolling((signal) => api.connections(project, signal), project, REFRESH_MS);
  return (
    <section aria-labelledby="connections">
      <h2 id="connections">Enhanced datasource connections</h2>
      <PolledState polled={list} what="connections" isEmpty={(data) => data.connections.length === 0} empty={<>No saved connections in {project}.</>} />
      <div class="cards">
        {list.data?.connections.map((connection) => (
          <ConnectionCard key={connection.id} project={project} connection={connection} />
        ))}
      </div>
    </section>
  );
}

function ConnectionCard({ project, connection }: { project: string; connection: EnhancedConnection }) {
  return (
    <article class="card connection" data-connection={connection.name}>
      <header class="card-head">
        <h3>{connection.name}</h3>
        <span class="muted">
          <code>{connection.id}</code>
        </span>
      </header>
      <p>
        <code>{destination(connection)}</code> · re-checked every {connection.check_interval_seconds} s · created <Time at={connection.create_time} />
      </p>
      {connection.hosts.length > 0 && <p class="muted">hosts: {connection.hosts.map((h) => `${h.name} → ${h.ip}`).join(', ')}</p>}
      <table class="queues">
        <thead>
          <tr>
            <th scope="col">pool</th>
            <th scope="col">status</th>
            <th scope="col">last check</th>
          </tr>
        </thead>
        <tbody>
          {connection.available_queue_info.map((queue) => {
            const last = queue.last_check;
            const hint = last?.error_code ? (itemErrorHints as Partial<Record<string, string>>)[last.error_code as ItemErrorCode] : undefined;
            return (
              <tr key={queue.name}>
                <td>{queue.name}</td>
                <td>
                  <QueueBadge status={queue.status} />
                  {queue.err_msg && <div class="error-msg">{queue.err_msg}</div>}
                  {queue.waiting && <div class="muted">{queue.waiting}</div>}
                </td>
                <td>
                  {last ? (
                    <>
                      <a class="check-id" href={href({ page: 'task', project, checkId: last.check_id })}>
                        {last.check_id}
                      </a>
                      <div>
                        {last.success ? '✓ reached' : <code class="error-code">{last.error_code}</code>} in {duration(last.duration_ms)} ·{' '}
                        <Time at={last.finished_at} />
                      </div>
                      {hint && <div class="hint">{hint}</div>}
                    </>
                  ) : (
                    <span class="muted">not checked yet</span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </article>
  );
}

function Members({ project, pool, channel }: { project: string; pool: string; channel: VpcChannel }) {
  const [members, setMembers] = useState<VpcChannelMember[]>();
  const [error, setError] = useState<Error>();
  return (
    <details
      onToggle={(e) => {
        if (e.currentTarget.open && !members) api.vpcChannel(project, pool, channel.id).then((c) => setMembers(c.members), setError);
      }}
    >
      <summary>members</summary>
      {error && <ErrorNotice error={error} />}
      {members?.length === 0 && <Empty>No members.</Empty>}
      {members && members.length > 0 && (
        <ul>
          {members.map((m) => (
            <li key={m.id}>
              <code>
                {m.host}:{m.port || channel.port}
              </code>{' '}
              weight {m.weight}
              {m.is_backup && ' · backup'}
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}

function PoolChannels({ project, pool }: { project: string; pool: Pool }) {
  const list = usePolling((signal) => api.vpcChannels(project, pool.name, signal), `${project}|${pool.name}`, 0);
  if (list.error) return <ErrorNotice error={list.error} />;
  if (!list.data) return <Loading what={`channels of ${pool.name}`} />;
  if (list.data.vpc_channels.length === 0) return <p class="muted">pool {pool.name}: no channels</p>;
  return (
    <article class="card" data-channels-pool={pool.name}>
      <header class="card-head">
        <h3>pool {pool.name}</h3>
        <span class="muted">{list.data.total} channels</span>
      </header>
      <ul class="channels">
        {list.data.vpc_channels.map((channel) => (
          <li key={channel.id} data-channel={channel.name}>
            <strong>{channel.name}</strong> port {channel.port} · <code>{channel.id}</code> · created <Time at={channel.create_time} />
            <Members project={project} pool={pool.name} channel={channel} />
          </li>
        ))}
      </ul>
    </article>
  );
}

function Channels({ project }: { project: string }) {
  const pools = usePolling((signal) => api.pools(project, signal), project, 0);
  return (
    <section aria-labelledby="channels">
      <h2 id="channels">VPC channels</h2>
      <p class="muted">Load-balancing channels a gateway backend check can check, per pool (gateway instance).</p>
      <PolledState polled={pools} what="pools" />
      <div class="cards">
        {pools.data?.pools.map((pool) => (
          <PoolChannels key={pool.name} project={project} pool={pool} />
        ))}
      </div>
    </section>
  );
}

export function ResourcesPage({ project }: { project: string }) {
  return (
    <section class="page resources-page">
      <div class="page-head">
        <h1>Saved resources</h1>
      </div>
      <Connections project={project} />
      <Channels project={project} />
    </section>
  );
}
