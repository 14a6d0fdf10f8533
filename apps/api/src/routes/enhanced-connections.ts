// Owns: saved connections (seed 003, the data lake's enhanced datasource connections) — create, read, list, delete,
// bind and unbind pools, check now — in the original's shapes, and their schedules (BullMQ job schedulers in each
// bound pool's queue). Must not: probe anything; a check is an ordinary task that a worker of the pool runs.

import { isIP } from 'node:net';
import Type from 'typebox';
import { ApiError, ApiErrorCode, BatchJob, ErrorBody, POOL_NAME_PATTERN, StageView, buildItems } from '@conncheck/core';
import { ConnectionStore, NameTakenError, type SavedConnection } from '@conncheck/store';
import type { ApiDeps, ApiInstance } from '../deps.js';
import { ProjectId, ProjectParams, bodyErrors } from '../params.js';

const { id: _id, pool: _pool, ...destinationFields } = BatchJob.properties;
const Destination = Type.Object(
  {
    ...destinationFields,
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "Shown as the check item's id (default: the connection name)." })),
  },
  {
    additionalProperties: false,
    description: 'What to check: one job of the batch request, validated exactly like one (any db_type, credentials and TLS fields).',
  },
);
const Pools = Type.Array(Type.String({ pattern: POOL_NAME_PATTERN }), { maxItems: 32, uniqueItems: true });
const HostEntry = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,127}$', description: 'A host name the destination (or the brokers and members it names) uses.' }),
    ip: Type.String({ minLength: 2, maxLength: 45, description: 'The address to use for it instead of DNS (still under the network policy).' }),
  },
  { additionalProperties: false },
);
const Tag = Type.Object(
  { key: Type.String({ minLength: 1, maxLength: 128 }), value: Type.String({ minLength: 1, maxLength: 255 }) },
  { additionalProperties: false },
);
const CreateBody = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_]{1,64}$', description: 'Letters, digits and _, at most 64; unique in the project.' }),
    destination: Destination,
    queues: Type.Optional({ ...Pools, description: 'The worker pools (network zones) to check from.' }),
    elastic_resource_pools: Type.Optional({ ...Pools, description: 'The same as queues (the original is moving from one to the other).' }),
    hosts: Type.Optional(Type.Array(HostEntry, { maxItems: 1000 })),
    check_interval_seconds: Type.Optional(
      Type.Integer({ minimum: 5, maximum: 86_400, default: 60, description: 'Extension: how often each pool re-checks it.' }),
    ),
    dest_vpc_id: Type.Optional(Type.String({ maxLength: 64, description: 'Kept, not used by the checks.' })),
    dest_network_id: Type.Optional(Type.String({ maxLength: 64, description: 'Kept, not used by the checks.' })),
    routetable_id: Type.Optional(Type.String({ maxLength: 64, description: 'Kept, not used by the checks.' })),
    tags: Type.Optional(Type.Array(Tag, { maxItems: 20 })),
  },
  { additionalProperties: false },
);
const QueuesBody = Type.Object({ queues: Type.Optional(Pools), elastic_resource_pools: Type.Optional(Pools) }, { additionalProperties: false });
type QueuesBody = Type.Static<typeof QueuesBody>;

const LastCheck = Type.Object({
  check_id: Type.String(),
  success: Type.Boolean(),
  error_code: Type.Union([Type.String(), Type.Null()]),
  error_msg: Type.Union([Type.String(), Type.Null()]),
  duration_ms: Type.Union([Type.Number(), Type.Null()]),
  stages: Type.Array(StageView),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});
const QueueInfo = Type.Object({
  peer_id: Type.String(),
  status: Type.Enum(['CREATING', 'ACTIVE', 'FAILED']),
  name: Type.String({ description: 'The pool.' }),
  err_msg: Type.String(),
  update_time: Type.Integer(),
  create_time: Type.Integer(),
  last_check: Type.Optional({ ...LastCheck, description: 'Extension: the latest check from this pool; check_id is its task.' }),
  waiting: Type.Optional(Type.String({ description: 'Extension: why it is still CREATING, when conncheck knows.' })),
});
const ConnectionView = Type.Object({
  is_success: Type.Boolean(),
  message: Type.String(),
  id: Type.String(),
  name: Type.String(),
  status: Type.Enum(['ACTIVE', 'DELETED']),
  available_queue_info: Type.Array(QueueInfo),
  elastic_resource_pools: Type.Array(QueueInfo),
  dest_vpc_id: Type.Optional(Type.String()),
  dest_network_id: Type.Optional(Type.String()),
  routetable_id: Type.Optional(Type.String()),
  create_time: Type.Integer(),
  hosts: Type.Array(Type.Object({ name: Type.String(), ip: Type.String() })),
  tags: Type.Optional(Type.Array(Type.Object({ key: Type.String(), value: Type.String() }))),
  destination: Type.Object({}, { additionalProperties: true, description: 'Extension: what is checked, without its secrets.' }),
  check_interval_seconds: Type.Integer(),
});
const ListItem = Type.Object({ ...ConnectionView.properties, is_success: Type.Optional(Type.Boolean()), message: Type.Optional(Type.String()) });
const Done = Type.Object({ is_success: Type.Boolean(), message: Type.String() });

const ConnParams = Type.Object(
  { project_id: ProjectId, connection_id: Type.String({ maxLength: 64, description: 'Connection ID.' }) },
  { additionalProperties: false },
);
type ConnParams = Type.Static<typeof ConnParams>;
const errors = bodyErrors;

export async function enhancedConnectionRoutes(app: ApiInstance, deps: ApiDeps): Promise<void> {
  const { store, queue, config, registry } = deps;
  const connections = new ConnectionStore(store.connection, store.keys, store.secretBox, config.retentionSeconds);
  const base = '/v2.0/:project_id/datasource/enhanced-connections';
  const notFound = (id: string) => new ApiError(404, ApiErrorCode.NOT_FOUND, `no enhanced connection ${id} in this project`);
  const load = async (project: string, id: string): Promise<SavedConnection> => {
    const connection = await connections.get(project, id);
    if (!connection) throw notFound(id);
    return connection;
  };
  /** A connection not deleted: the only kind whose pools can be bound, unbound or checked. */
  const loadActive = async (project: string, id: string): Promise<SavedConnection> => {
    const connection = await load(project, id);
    if (connection.status !== 'ACTIVE') throw notFound(id);
    return connection;
  };
  /** What binding or unbinding pools acts on: the pools the body names (400 without any) of a connection not deleted. */
  const poolsRequest = async (params: ConnParams, body: QueuesBody) => {
    const pools = requirePools(body);
    return { project: params.project_id, connection: await loadActive(params.project_id, params.connection_id), pools };
  };

  /** Binds pools: each gets its schedule and a first check at once (its status leaves CREATING with it). */
  const start = async (project: string, connection: { id: string; check_interval_seconds: number }, pools: string[]) => {
    for (const pool of pools) {
      await queue.scheduleConnection(connection.id, project, pool, connection.check_interval_seconds * 1000);
      await connections.startCheck(project, connection.id, pool, store, queue);
    }
  };
  const stop = async (id: string, pools: string[]) => {
    await Promise.all(pools.map((pool) => queue.unscheduleConnection(id, pool)));
  };

  app.post(
    base,
    {
      schema: {
        tags: ['enhanced connections'],
        summary: 'Create an enhanced datasource connection: a saved destination checked from every bound pool',
        params: ProjectParams,
        body: CreateBody,
        response: { 201: Type.Object({ is_success: Type.Boolean(), message: Type.String(), connection_id: Type.String() }), 409: ErrorBody, ...errors },
      },
    },
    async (request, reply) => {
      const { project_id: project } = request.params;
      const { body } = request;
      const { problems, items } = buildItems([{ ...body.destination, id: body.destination.id ?? body.name }], { allowLoopback: deps.auth.openMode });
      if (problems.length > 0) {
        const first = problems[0]!;
        throw new ApiError(400, first.error_code, first.error_msg.replace(/^jobs\[0\]\./, 'destination.'));
      }
      const hosts = body.hosts ?? [];
      hosts.forEach(({ name, ip }, i) => {
        if (!isIP(ip)) throw new ApiError(400, ApiErrorCode.INVALID_PARAMETER, `hosts[${i}].ip: "${ip}" is not an IP address`);
        if (hosts.findIndex((h) => h.name.toLowerCase() === name.toLowerCase()) !== i)
          throw new ApiError(400, ApiErrorCode.INVALID_PARAMETER, `hosts[${i}].name: "${name}" is mapped twice`);
      });
      const pools = unionOfPools(body);
      const { spec, secrets } = items[0]!;
      const interval = body.check_interval_seconds ?? 60;
      let id: string;
      try {
        id = await connections.create(project, {
          name: body.name,
          spec,
          secrets,
          hosts,
          queues: pools,
          check_interval_seconds: interval,
          extra: pick(body, ['dest_vpc_id', 'dest_network_id', 'routetable_id', 'tags']),
        });
      } catch (err) {
        if (err instanceof NameTakenError)
          throw new ApiError(409, ApiErrorCode.NAME_TAKEN, `name: an enhanced connection named "${body.name}" exists in this project (${err.id})`);
        throw err;
      }
      await start(project, { id, check_interval_seconds: interval }, pools);
      request.log.info({ project, connection_id: id, pools }, 'enhanced connection created');
      return reply.status(201).send({ is_success: true, message: `Create peer connection for queues:{${pools.join(',')}}`, connection_id: id });
    },
  );

  app.get(
    `${base}/:connection_id`,
    {
      schema: {
        tags: ['enhanced connections'],
        summary: 'Query an enhanced datasource connection',
        params: ConnParams,
        response: { 200: ConnectionView, ...errors },
      },
    },
    async (request) => {
      const { project_id: project, connection_id: id } = request.params;
      return { is_success: true, message: '', ...(await present(await load(project, id), registry)) };
    },
  );

  app.get(
    base,
    {
      schema: {
        tags: ['enhanced connections'],
        summary: 'List enhanced datasource connections, newest first',
        params: ProjectParams,
        querystring: Type.Object(
          {
            limit: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 100, description: '0 = all.' })),
            offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
            status: Type.Optional(Type.Enum(['ACTIVE', 'DELETED', 'active', 'deleted'])),
            name: Type.Optional(Type.String({ maxLength: 64, description: 'Part of the name.' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ is_success: Type.Boolean(), message: Type.String(), connections: Type.Array(ListItem), count: Type.Integer() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { project_id: project } = request.params;
      const q = request.query;
      const { connections: page, count } = await connections.list(project, { status: q.status, name: q.name, offset: q.offset ?? 0, limit: q.limit ?? 100 });
      return { is_success: true, message: '', connections: await Promise.all(page.map((c) => present(c, registry))), count };
    },
  );

  app.delete(
    `${base}/:connection_id`,
    {
      schema: {
        tags: ['enhanced connections'],
        summary: 'Delete an enhanced datasource connection (its schedules and credentials go)',
        params: ConnParams,
        response: { 200: Done, ...errors },
      },
    },
    async (request) => {
      const { project_id: project, connection_id: id } = request.params;
      const pools = await connections.delete(project, id);
      if (!pools) throw notFound(id);
      await stop(id, pools);
      request.log.info({ project, connection_id: id }, 'enhanced connection deleted');
      return { is_success: true, message: 'Deleted' };
    },
  );

  app.post(
    `${base}/:connection_id/associate-queue`,
    {
      schema: {
        tags: ['enhanced connections'],
        summary: 'Bind pools to an enhanced connection',
        params: ConnParams,
        body: QueuesBody,
        response: { 200: Done, ...errors },
      },
    },
    async (request) => {
      const { project, connection, pools } = await poolsRequest(request.params, request.body);
      await start(project, connection, await connections.associate(connection.id, pools));
      return { is_success: true, message: `associated peer connection for queues: {${pools.join(',')}}.` };
    },
  );

  app.post(
    `${base}/:connection_id/disassociate-queue`,
    {
      schema: {
        tags: ['enhanced connections'],
        summary: 'Unbind pools from an enhanced connection',
        params: ConnParams,
        body: QueuesBody,
        response: { 200: Done, ...errors },
      },
    },
    async (request) => {
      const { connection, pools } = await poolsRequest(request.params, request.body);
      const bound = new Set(connection.queues.map((q) => q.name));
      const unknown = pools.filter((pool) => !bound.has(pool));
      if (unknown.length > 0)
        throw new ApiError(
          400,
          ApiErrorCode.INVALID_PARAMETER,
          `queues: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not bound to this connection`,
        );
      await stop(connection.id, await connections.disassociate(connection.id, pools));
      return { is_success: true, message: `Disassociated peer connection for queues:{${pools.join(',')}}.` };
    },
  );

  app.post(
    `${base}/:connection_id/check`,
    {
      schema: {
        tags: ['enhanced connections'],
        summary: 'Extension: check an enhanced connection now, from every bound pool',
        description: 'Each check is a task (its check_id below); the status of each pool follows when it ends.',
        params: ConnParams,
        response: {
          202: Type.Object({
            is_success: Type.Boolean(),
            message: Type.String(),
            checks: Type.Array(Type.Object({ queue: Type.String(), check_id: Type.String() })),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const { project_id: project, connection_id: id } = request.params;
      const connection = await loadActive(project, id);
      const checks: { queue: string; check_id: string }[] = [];
      for (const { name } of connection.queues) {
        const checkId = await connections.startCheck(project, id, name, store, queue);
        if (checkId) checks.push({ queue: name, check_id: checkId });
      }
      return reply.status(202).send({ is_success: true, message: `checking from ${checks.length} queue${checks.length === 1 ? '' : 's'}`, checks });
    },
  );
}

function unionOfPools(body: { queues?: string[]; elastic_resource_pools?: string[] }): string[] {
  return [...new Set([...(body.queues ?? []), ...(body.elastic_resource_pools ?? [])])];
}

function requirePools(body: QueuesBody): string[] {
  const pools = unionOfPools(body);
  if (pools.length === 0) throw new ApiError(400, ApiErrorCode.MISSING_FIELD, 'queues: name at least one pool (queues or elastic_resource_pools)');
  return pools;
}

function pick(body: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((f) => body[f] !== undefined).map((f) => [f, body[f]]));
}

/** A connection in the original's shape, with the extensions: the destination (no secret), each pool's last check. */
async function present(connection: SavedConnection, registry: ApiDeps['registry']) {
  const live = connection.status === 'ACTIVE' && connection.queues.some((q) => q.status === 'CREATING') ? await registry.live() : undefined;
  const { spec } = connection;
  const destination = {
    db_type: spec.db_type,
    ip: spec.ip,
    ...pick(spec as unknown as Record<string, unknown>, ['db_port', 'db_user', 'db_name', 'ssl_mode', 'ssl_cert_name', 'kafka']),
    ssl_link: spec.ssl_link,
    net_type: spec.net_type,
    end_point_type: spec.end_point_type,
    timeout_ms: spec.timeout_ms,
  };
  return {
    id: connection.id,
    name: connection.name,
    status: connection.status,
    available_queue_info: connection.queues.map((q) => ({
      peer_id: q.peer_id,
      status: q.status,
      name: q.name,
      err_msg: q.err_msg,
      update_time: q.update_time,
      create_time: q.create_time,
      ...(q.last ? { last_check: { ...q.last, stages: Array.isArray(q.last.stages) ? q.last.stages : [] } } : {}),
      ...(live && q.status === 'CREATING' && !live.has(q.name)
        ? { waiting: `no live worker serves pool "${q.name}"; the first check runs when one starts` }
        : {}),
    })),
    elastic_resource_pools: [],
    ...(pick(connection.extra, ['dest_vpc_id', 'dest_network_id', 'routetable_id', 'tags']) as { dest_vpc_id?: string }),
    create_time: connection.create_time,
    hosts: connection.hosts,
    destination,
    check_interval_seconds: connection.check_interval_seconds,
  };
}
