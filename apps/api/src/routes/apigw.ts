// Owns: the API gateway's routes (seed 001) — the synchronous backend connectivity check, as a facade over an ordinary
// task on the pool named by instance_id, and the load-balancing ("VPC") channels it can check — with the gateway's own
// error bodies and codes. Must not: probe anything itself; a member check is an ordinary tcp item.

import { randomBytes } from 'node:crypto';
import Type from 'typebox';
import {
  ApiError,
  ApiErrorCode,
  ApigErrorCode,
  type BatchJob,
  POOL_NAME_PATTERN,
  RequestLimits,
  TASK_TYPES,
  buildItems,
  parseEndpoints,
} from '@conncheck/core';
import { type Channel, ChannelStore, NameTakenError } from '@conncheck/store';
import type { ApiDeps, ApiInstance } from '../deps.js';
import { type RouteError, sendError, toApiError } from '../errors.js';
import { ProjectId, bodyErrors, projectErrors } from '../params.js';
import { SyncCheckError, checkHeaders, runSyncCheck } from '../sync-check.js';

const InstanceParams = Type.Object(
  {
    project_id: ProjectId,
    instance_id: Type.String({ pattern: POOL_NAME_PATTERN, description: 'Gateway ID: here, the worker pool (network zone) checks run from.' }),
  },
  { additionalProperties: false },
);
const ChannelParams = Type.Object(
  { ...InstanceParams.properties, vpc_channel_id: Type.String({ pattern: '^[0-9a-f]{32}$', description: 'VPC channel ID.' }) },
  { additionalProperties: false },
);

const CheckBody = Type.Object(
  {
    backend_type: Type.Enum(['backend_address', 'vpc_channel'], {
      description: 'backend_address: check one address; vpc_channel: check every member of a channel.',
    }),
    backend_address: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, description: 'host:port (IPv4, [IPv6]:port or a name); required for backend_address.' }),
    ),
    vpc_channel_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Required for vpc_channel.' })),
    ssl_link: Type.Optional(
      Type.Boolean({ description: 'Extension: also complete a TLS handshake (a channel whose health check uses HTTPS does so by itself).' }),
    ),
    timeout_ms: Type.Optional(
      Type.Integer({
        minimum: RequestLimits.minTimeoutMs,
        maximum: RequestLimits.maxTimeoutMs,
        description: `Extension: each backend's deadline (default ${RequestLimits.defaultTimeoutMs}).`,
      }),
    ),
  },
  { additionalProperties: false },
);
const CheckResult = Type.Object({
  check_result: Type.Enum(['SUCCESS', 'FAILED']),
  failures: Type.Array(Type.String(), { description: 'The backends (host:port) that could not be reached.' }),
  failure_reasons: Type.Optional(
    Type.Array(Type.Object({ backend: Type.String(), error_code: Type.String(), error_msg: Type.String() }), {
      description: 'Extension: why each failed, in the order of failures.',
    }),
  ),
});

const MemberInfo = Type.Object(
  {
    host: Type.Optional(Type.String({ maxLength: 255, description: 'IP address or name; required for member_type ip.' })),
    weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
    is_backup: Type.Optional(Type.Boolean()),
    member_group_name: Type.Optional(Type.String({ maxLength: 64 })),
    status: Type.Optional(Type.Integer({ minimum: 1, maximum: 2, description: '1 available, 2 unavailable.' })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: '0 or absent: the channel port.' })),
    ecs_id: Type.Optional(Type.String({ maxLength: 255 })),
    ecs_name: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
const MemberGroupCreate = Type.Object(
  {
    member_group_name: Type.String({ minLength: 3, maxLength: 64 }),
    member_group_remark: Type.Optional(Type.String({ maxLength: 255 })),
    member_group_weight: Type.Optional(Type.Integer({ minimum: 0, maximum: 100 })),
    dict_code: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);
const VpcHealthConfig = Type.Object(
  {
    protocol: Type.Enum(['TCP', 'HTTP', 'HTTPS']),
    path: Type.Optional(Type.String({ maxLength: 512 })),
    method: Type.Optional(Type.Enum(['GET', 'HEAD'])),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    threshold_normal: Type.Integer({ minimum: 1, maximum: 10 }),
    threshold_abnormal: Type.Integer({ minimum: 1, maximum: 10 }),
    time_interval: Type.Integer({ minimum: 1, maximum: 300 }),
    timeout: Type.Integer({ minimum: 1, maximum: 30 }),
    http_code: Type.Optional(Type.String({ maxLength: 64 })),
    enable_client_ssl: Type.Optional(Type.Boolean()),
    status: Type.Optional(Type.Integer({ minimum: 1, maximum: 2 })),
  },
  { additionalProperties: false },
);
const VpcCreate = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{2,63}$', description: '3–64 characters, starting with a letter; letters, digits, -, _ and .' }),
    port: Type.Integer({ minimum: 1, maximum: 65535, description: "Host port of the channel: the members' port unless a member names its own." }),
    balance_strategy: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 4, default: 1, description: '1 WRR, 2 WLC, 3 source hashing, 4 URI hashing (kept; a check tries every member).' }),
    ),
    member_type: Type.Enum(['ip', 'ecs'], { description: 'conncheck checks addresses: ip.' }),
    type: Type.Optional(Type.Literal(2, { description: '2, a server channel (microservice channels, 3, are not supported: conncheck checks addresses).' })),
    vpc_channel_type: Type.Optional(Type.Literal('builtin', { description: 'builtin (microservice and reference channels are not supported).' })),
    dict_code: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{3,64}$' })),
    member_groups: Type.Optional(Type.Array(MemberGroupCreate)),
    members: Type.Array(MemberInfo, {
      minItems: 1,
      description: 'The backends: what a check checks (required here; the original allows a channel without members).',
    }),
    vpc_health_config: Type.Optional(VpcHealthConfig),
  },
  { additionalProperties: false },
);

const MemberGroupInfo = Type.Object({
  member_group_id: Type.String(),
  member_group_name: Type.String(),
  member_group_remark: Type.Optional(Type.String()),
  member_group_weight: Type.Optional(Type.Integer()),
  create_time: Type.String(),
  update_time: Type.String(),
});
const VpcChannelInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  port: Type.Integer(),
  balance_strategy: Type.Integer(),
  member_type: Type.String(),
  type: Type.Integer(),
  vpc_channel_type: Type.String(),
  dict_code: Type.Optional(Type.String()),
  create_time: Type.String(),
  status: Type.Integer({ description: '1 normal.' }),
  member_groups: Type.Array(MemberGroupInfo),
});
const VpcMemberInfo = Type.Object({
  id: Type.String(),
  vpc_channel_id: Type.String(),
  host: Type.String(),
  port: Type.Integer(),
  weight: Type.Integer(),
  is_backup: Type.Boolean(),
  member_group_name: Type.Optional(Type.String()),
  member_group_id: Type.Optional(Type.String()),
  status: Type.Integer(),
  create_time: Type.String(),
  health_status: Type.String({ description: 'unknown: conncheck runs no periodic health check; a connectivity check tells.' }),
});
const VpcChannelDetails = Type.Object({
  ...VpcChannelInfo.properties,
  members: Type.Array(VpcMemberInfo),
  vpc_health_config: Type.Optional(Type.Object({}, { additionalProperties: true })),
});
const ListQuery = Type.Object(
  {
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 20 })),
    id: Type.Optional(Type.String({ maxLength: 64 })),
    name: Type.Optional(Type.String({ maxLength: 64, description: 'Part of the name (the whole name with precise_search=name).' })),
    precise_search: Type.Optional(Type.String({ maxLength: 128, description: 'Comma-separated fields matched exactly: name, member_group_name.' })),
    member_host: Type.Optional(Type.String({ maxLength: 255 })),
    member_port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    member_group_name: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

const errors = projectErrors;
/** No body: JSON Schema's null for the document, nothing to send for the handler's type. */
const NoContent = Type.Unsafe<void>(Type.Null());

/** `host:port`, with brackets for IPv6, as the original lists failures. */
function backendName(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

const invalid = (field: string, detail: string) =>
  new ApiError(400, ApigErrorCode.INVALID_PARAMETER, `Invalid parameter value,parameterName:${field}. Please refer to the support documentation (${detail})`);
const required = (field: string) => new ApiError(400, ApigErrorCode.PARAMETER_REQUIRED, `The request parameters must be specified, parameter name:${field}`);
const channelNotFound = (id: string) => new ApiError(404, ApigErrorCode.CHANNEL_NOT_FOUND, `The VPC channel does not exist,id:${id}`);

/**
 * Any error on these routes in the gateway's terms: its codes for a bad parameter, a token, a permission and a system
 * error, with conncheck's detail kept in the message. Conditions the gateway has no code for (a check that did not end
 * in time, the project's backlog) keep conncheck's code.
 */
export function toApigError(error: ApiError): ApiError {
  if (error.errorCode.startsWith('APIG.')) return error;
  const { details } = error;
  const field = /^(?:(?:querystring|params|headers) )?([A-Za-z_][\w.[\]]*): /.exec(error.message)?.[1] ?? 'body';
  switch (error.errorCode) {
    case ApiErrorCode.UNAUTHORIZED:
      return new ApiError(401, ApigErrorCode.BAD_TOKEN, `Incorrect token or token resolution failed (${error.message})`, details);
    case ApiErrorCode.FORBIDDEN:
      return new ApiError(403, ApigErrorCode.NO_PERMISSION, `No permissions to request this method (${error.message})`, details);
    case ApiErrorCode.MISSING_FIELD:
      return new ApiError(400, ApigErrorCode.PARAMETER_REQUIRED, `The request parameters must be specified, parameter name:${field}`, details);
    case ApiErrorCode.INTERNAL_ERROR:
      return new ApiError(500, ApigErrorCode.SYSTEM_ERROR, 'System error', details);
    case ApiErrorCode.SERVICE_UNAVAILABLE:
      return new ApiError(503, ApigErrorCode.SYSTEM_ERROR, `System error (${error.message})`, details);
    default:
      if (error.statusCode >= 400 && error.statusCode < 500 && error.statusCode !== 429) {
        return new ApiError(error.statusCode === 413 ? 413 : 400, ApigErrorCode.INVALID_PARAMETER, invalid(field, error.message).message, details);
      }
      return error;
  }
}

export async function apigwRoutes(app: ApiInstance, deps: ApiDeps): Promise<void> {
  const { config, store } = deps;
  const channels = new ChannelStore(store.connection, store.keys);
  app.setErrorHandler((error: RouteError, request, reply) => sendError(reply, toApigError(toApiError(error, request, store.connection))));
  app.post(
    '/v2/:project_id/apigw/instances/:instance_id/backend/connectivity/check',
    {
      schema: {
        tags: ['synchronous checks'],
        summary: "Backend connectivity check (the API gateway's)",
        description:
          'Checks that a backend address, or every member of a VPC channel, can be reached from the worker pool named by instance_id, and answers when all are known. The check is an ordinary task (X-Check-Id and Location name it). 404 APIG.3030 when no live worker serves the pool; 503 with Retry-After and the check_id when it does not end in time.',
        params: InstanceParams,
        body: CheckBody,
        response: { 201: CheckResult, ...bodyErrors },
      },
    },
    async (request, reply) => {
      const { project_id: project, instance_id: pool } = request.params;
      const { body } = request;
      const timeout = body.timeout_ms ?? RequestLimits.defaultTimeoutMs;
      let jobs: BatchJob[];
      if (body.backend_type === 'backend_address') {
        if (body.backend_address === undefined) throw required('backend_address');
        const parsed = parseEndpoints(body.backend_address, undefined, 'tcp');
        if ('error' in parsed) throw invalid('backend_address', `${parsed.error}; give host:port`);
        const { host, port } = parsed.endpoints[0]!;
        jobs = [{ id: backendName(host, port), db_type: 'tcp', ip: body.backend_address, ssl_link: body.ssl_link ?? false, timeout_ms: timeout }];
      } else {
        if (body.vpc_channel_id === undefined) throw required('vpc_channel_id');
        const channel = await channels.get(project, pool, body.vpc_channel_id);
        if (!channel) throw channelNotFound(body.vpc_channel_id);
        const tls = body.ssl_link ?? channel.vpc_health_config?.protocol === 'HTTPS';
        jobs = channel.members.map((member) => {
          const port = member.port || channel.port;
          return { id: backendName(member.host, port), db_type: 'tcp', ip: backendName(member.host, port), ssl_link: tls, timeout_ms: timeout };
        });
      }
      const { problems, items } = buildItems(jobs, { allowLoopback: deps.auth.openMode });
      if (problems.length > 0) throw invalid(body.backend_type === 'backend_address' ? 'backend_address' : 'vpc_channel_id', problems[0]!.error_msg);
      let result;
      try {
        result = await runSyncCheck(deps, project, pool, TASK_TYPES.backendConnectivity, items, request.log);
      } catch (err) {
        if (!(err instanceof SyncCheckError)) throw err;
        if (err.kind === 'pool-not-served')
          throw new ApiError(404, ApigErrorCode.INSTANCE_NOT_FOUND, `The instance does not exist;id:${pool} (${err.message})`);
        if (err.kind === 'backlog') throw new ApiError(429, ApiErrorCode.RATE_LIMITED, err.message, { retryAfter: 5 });
        throw new ApiError(503, ApiErrorCode.CHECK_NOT_FINISHED, err.message, { checkId: err.checkId, project, retryAfter: 5 });
      }
      const failed = result.task.check_items.filter((item) => !item.success);
      request.log.info({ check_id: result.checkId, project, pool, count: items.length, failed: failed.length }, 'backend connectivity check answered');
      return reply
        .status(201)
        .headers(checkHeaders(project, result.checkId))
        .send({
          check_result: failed.length === 0 ? 'SUCCESS' : 'FAILED',
          failures: failed.map((item) => item.id),
          ...(failed.length > 0 && {
            failure_reasons: failed.map((item) => ({ backend: item.id, error_code: item.error_code ?? 'INTERNAL_ERROR', error_msg: item.error_msg ?? '' })),
          }),
        });
    },
  );

  app.post(
    '/v2/:project_id/apigw/instances/:instance_id/vpc-channels',
    {
      schema: {
        tags: ['VPC channels'],
        summary: 'Create a VPC channel (load-balancing channel) whose members a backend check can check',
        params: InstanceParams,
        body: VpcCreate,
        response: { 201: VpcChannelInfo, ...bodyErrors },
      },
    },
    async (request, reply) => {
      const { project_id: project, instance_id: instance } = request.params;
      const { body } = request;
      if (body.member_type === 'ecs')
        throw invalid(
          'member_type',
          "conncheck checks addresses: use member_type ip with each member's host (an ECS member is known by its cloud id, which conncheck cannot look up)",
        );
      if (body.vpc_health_config && body.vpc_health_config.time_interval <= body.vpc_health_config.timeout) {
        throw invalid('vpc_health_config.time_interval', 'must be greater than timeout');
      }
      const { members } = body;
      if (members.length > config.maxItemsPerBatch)
        throw invalid('members', `${members.length} members; at most ${config.maxItemsPerBatch} (CONNCHECK_MAX_ITEMS), as a check checks every one`);
      const now = new Date().toISOString();
      const id = randomBytes(16).toString('hex');
      const groups = (body.member_groups ?? []).map((g) => ({
        member_group_id: randomBytes(16).toString('hex'),
        member_group_name: g.member_group_name,
        ...(g.member_group_remark !== undefined && { member_group_remark: g.member_group_remark }),
        ...(g.member_group_weight !== undefined && { member_group_weight: g.member_group_weight }),
        create_time: now,
        update_time: now,
      }));
      const channel: Channel = {
        id,
        name: body.name,
        port: body.port,
        balance_strategy: body.balance_strategy ?? 1,
        member_type: 'ip',
        type: 2,
        vpc_channel_type: 'builtin',
        ...(body.dict_code !== undefined && { dict_code: body.dict_code }),
        create_time: now,
        status: 1,
        member_groups: groups,
        members: members.map((m, i) => {
          if (m.host === undefined || m.host === '') throw required(`members[${i}].host`);
          const parsed = parseEndpoints(m.host, m.port || body.port, 'tcp');
          if ('error' in parsed || m.host.includes(',')) throw invalid(`members[${i}].host`, 'error' in parsed ? parsed.error : 'one host per member');
          if (m.member_group_name !== undefined && !groups.some((g) => g.member_group_name === m.member_group_name)) {
            throw invalid(`members[${i}].member_group_name`, `no member group "${m.member_group_name}" in member_groups`);
          }
          return {
            id: randomBytes(16).toString('hex'),
            host: m.host,
            port: m.port ?? 0,
            weight: m.weight ?? 1,
            is_backup: m.is_backup ?? false,
            ...(m.member_group_name !== undefined && { member_group_name: m.member_group_name }),
            status: m.status ?? 1,
            create_time: now,
          };
        }),
        ...(body.vpc_health_config && { vpc_health_config: body.vpc_health_config }),
      };
      try {
        await channels.create(project, instance, channel);
      } catch (err) {
        if (err instanceof NameTakenError) throw new ApiError(400, ApigErrorCode.CHANNEL_NAME_TAKEN, `The VPC channel name already exists,name:${body.name}`);
        throw err;
      }
      request.log.info({ project, instance, vpc_channel_id: id, members: channel.members.length }, 'vpc channel created');
      return reply.status(201).send(channelInfo(channel));
    },
  );

  app.get(
    '/v2/:project_id/apigw/instances/:instance_id/vpc-channels',
    {
      schema: {
        tags: ['VPC channels'],
        summary: 'List VPC channels',
        params: InstanceParams,
        querystring: ListQuery,
        response: { 200: Type.Object({ size: Type.Integer(), total: Type.Integer(), vpc_channels: Type.Array(VpcChannelInfo) }), ...errors },
      },
    },
    async (request) => {
      const { project_id: project, instance_id: instance } = request.params;
      const q = request.query;
      const precise = new Set((q.precise_search ?? '').split(',').map((s) => s.trim()));
      const matches = (value: string | undefined, wanted: string | undefined, field: string) =>
        wanted === undefined || (value !== undefined && (precise.has(field) ? value === wanted : value.toLowerCase().includes(wanted.toLowerCase())));
      const all = (await channels.list(project, instance)).filter(
        (c) =>
          (q.id === undefined || c.id === q.id) &&
          matches(c.name, q.name, 'name') &&
          (q.member_host === undefined || c.members.some((m) => m.host === q.member_host)) &&
          (q.member_port === undefined || c.members.some((m) => (m.port || c.port) === q.member_port)) &&
          (q.member_group_name === undefined || c.member_groups.some((g) => matches(g.member_group_name, q.member_group_name, 'member_group_name'))),
      );
      const page = all.slice(q.offset ?? 0, (q.offset ?? 0) + (q.limit ?? 20)).map(channelInfo);
      return { size: page.length, total: all.length, vpc_channels: page };
    },
  );

  app.get(
    '/v2/:project_id/apigw/instances/:instance_id/vpc-channels/:vpc_channel_id',
    {
      schema: {
        tags: ['VPC channels'],
        summary: 'Show a VPC channel with its members',
        params: ChannelParams,
        response: { 200: VpcChannelDetails, ...errors },
      },
    },
    async (request) => {
      const { project_id: project, instance_id: instance, vpc_channel_id: id } = request.params;
      const channel = await channels.get(project, instance, id);
      if (!channel) throw channelNotFound(id);
      return {
        ...channelInfo(channel),
        members: channel.members.map((m) => ({
          ...m,
          vpc_channel_id: channel.id,
          ...(m.member_group_name !== undefined && {
            member_group_id: channel.member_groups.find((g) => g.member_group_name === m.member_group_name)?.member_group_id,
          }),
          health_status: 'unknown',
        })),
        ...(channel.vpc_health_config && { vpc_health_config: { ...channel.vpc_health_config, vpc_channel_id: channel.id } }),
      };
    },
  );

  app.delete(
    '/v2/:project_id/apigw/instances/:instance_id/vpc-channels/:vpc_channel_id',
    { schema: { tags: ['VPC channels'], summary: 'Delete a VPC channel', params: ChannelParams, response: { 204: NoContent, ...errors } } },
    async (request, reply) => {
      const { project_id: project, instance_id: instance, vpc_channel_id: id } = request.params;
      if (!(await channels.delete(project, instance, id))) throw channelNotFound(id);
      request.log.info({ project, instance, vpc_channel_id: id }, 'vpc channel deleted');
      return reply.status(204).send();
    },
  );
}

/** A channel as the gateway lists it: without members and health check. */
function channelInfo(channel: Channel): Type.Static<typeof VpcChannelInfo> {
  const { members: _members, vpc_health_config: _health, ...info } = channel;
  return info;
}
