// Owns: the search cluster's synchronous connectivity test (seed 000) — addresses and ports in, one integer status per
// address out, in input order — as a facade over an ordinary task on the pool named by cluster_id.
// Must not: probe anything itself or read message text: the status comes from each item's error_code.

import Type from 'typebox';
import {
  ApiError,
  ApiErrorCode,
  type BatchJob,
  type CheckItem,
  ErrorBody,
  ItemErrorCode,
  POOL_NAME_PATTERN,
  RequestLimits,
  TASK_TYPES,
  buildItems,
} from '@conncheck/core';
import type { ApiDeps, ApiInstance } from '../deps.js';
import { ProjectId, bodyErrors } from '../params.js';
import { SyncCheckError, checkHeaders, runSyncCheck } from '../sync-check.js';
import { unvalidatedLength } from '../validation.js';

/** The original's statuses. */
export const ConnectivityStatus = { ADDRESS_UNREACHABLE: 0, CONNECTED: 1, PORT_UNREACHABLE: 2, NAME_NOT_RESOLVED: 3 } as const;

/**
 * An item's verdict as the original's integer, from its error_code. Everything that is neither a refusal nor a
 * failed lookup means the address could not be reached from the pool (no route, host unreachable, connect timeout);
 * a forbidden target also gets 0, with its own error_code beside it, since the seed has no integer for it.
 */
export function connectivityStatus(item: Pick<CheckItem, 'success' | 'error_code'>): number {
  if (item.success) return ConnectivityStatus.CONNECTED;
  switch (item.error_code) {
    case ItemErrorCode.CONNECTION_REFUSED:
    case ItemErrorCode.CONNECTION_RESET:
      return ConnectivityStatus.PORT_UNREACHABLE;
    case ItemErrorCode.DNS_RESOLUTION_FAILED:
      return ConnectivityStatus.NAME_NOT_RESOLVED;
    default:
      return ConnectivityStatus.ADDRESS_UNREACHABLE;
  }
}

const Port = Type.Union(
  [
    Type.Integer({ minimum: 1, maximum: 65535 }),
    Type.String({ pattern: '^([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$' }),
  ],
  {
    description:
      'Port, 1–65535, as an integer or a string of digits (the original\'s own example sends "9200"); answered in the type sent. Required here: the original\'s default, 0, names no port.',
  },
);
const AddressAndPort = Type.Object(
  {
    address: Type.String({ minLength: 1, maxLength: RequestLimits.nameLength, description: 'IP address or domain name.' }),
    port: Port,
  },
  { additionalProperties: false },
);
const CheckConnectionBody = Type.Object(
  {
    address_and_ports: Type.Array(AddressAndPort, { minItems: 1, description: 'Address and port list (at most CONNCHECK_MAX_ITEMS).' }),
    timeout_ms: Type.Optional(
      Type.Integer({
        minimum: RequestLimits.minTimeoutMs,
        maximum: RequestLimits.maxTimeoutMs,
        description: `Extension: each address's deadline (default ${RequestLimits.defaultTimeoutMs}); the answer waits at most this plus CONNCHECK_SYNC_WAIT_MARGIN_MS.`,
      }),
    ),
  },
  { additionalProperties: false },
);

const Result = Type.Object({
  address: Type.String(),
  port: Port,
  status: Type.Integer({ description: '1 connected, 0 address unreachable, 2 port unreachable, 3 name not resolved.' }),
  error_code: Type.Optional(
    Type.String({ description: 'Extension: why it failed (docs/errors.md), e.g. TARGET_FORBIDDEN for an address this deployment may not check.' }),
  ),
  error_msg: Type.Optional(Type.String({ description: 'Extension: the failure in words.' })),
});

export async function clusterConnectivityRoutes(app: ApiInstance, deps: ApiDeps): Promise<void> {
  const { config } = deps;
  app.post(
    '/v1.0/:project_id/clusters/:cluster_id/checkconnection',
    {
      schema: {
        tags: ['synchronous checks'],
        summary: "Performing a connectivity test (a search cluster's checkconnection)",
        description:
          'Checks that each address and port can be reached from the worker pool named by cluster_id, and answers when all are known. The test is an ordinary task (X-Check-Id and Location name it). 412 when no live worker serves the pool; 503 with Retry-After and the check_id when it does not end in time.',
        params: Type.Object(
          {
            project_id: ProjectId,
            cluster_id: Type.String({ pattern: POOL_NAME_PATTERN, description: 'The worker pool (network zone) the test runs from.' }),
          },
          { additionalProperties: false },
        ),
        body: CheckConnectionBody,
        response: { 200: Type.Object({ result: Type.Array(Result) }), 412: ErrorBody, ...bodyErrors },
      },
      preValidation: async (request) => {
        const count = unvalidatedLength(request.body, 'address_and_ports');
        if (count > config.maxItemsPerBatch) {
          throw new ApiError(413, ApiErrorCode.TOO_MANY_ITEMS, `address_and_ports: ${count} entries; at most ${config.maxItemsPerBatch} (CONNCHECK_MAX_ITEMS)`);
        }
      },
    },
    async (request, reply) => {
      const { project_id: project, cluster_id: pool } = request.params;
      const { body } = request;
      const jobs: BatchJob[] = body.address_and_ports.map((entry) => {
        const port = Number(entry.port);
        return {
          id: `${entry.address}:${port}`,
          db_type: 'tcp',
          ip: entry.address,
          db_port: port,
          timeout_ms: body.timeout_ms ?? RequestLimits.defaultTimeoutMs,
        };
      });
      const { problems, items } = buildItems(jobs, { allowLoopback: deps.auth.openMode });
      if (problems.length > 0) {
        const first = problems[0]!;
        const field = (text: string) =>
          text.replace(/jobs\[(\d+)\]\.ip/g, 'address_and_ports[$1].address').replace(/jobs\[(\d+)\]\.db_port/g, 'address_and_ports[$1].port');
        throw new ApiError(400, first.error_code, field(first.error_msg));
      }
      let checkId: string;
      let checkItems: CheckItem[];
      try {
        ({
          checkId,
          task: { check_items: checkItems },
        } = await runSyncCheck(deps, project, pool, TASK_TYPES.clusterConnectivity, items, request.log));
      } catch (err) {
        if (!(err instanceof SyncCheckError)) throw err;
        if (err.kind === 'pool-not-served') throw new ApiError(412, ApiErrorCode.POOL_NOT_SERVED, `cluster_id ${pool}: ${err.message}`);
        if (err.kind === 'backlog') throw new ApiError(429, ApiErrorCode.RATE_LIMITED, err.message, { retryAfter: 5 });
        throw new ApiError(503, ApiErrorCode.CHECK_NOT_FINISHED, err.message, { checkId: err.checkId, project, retryAfter: 5 });
      }
      const result = body.address_and_ports.map((entry, i) => {
        const item = checkItems[i]!;
        const row: Type.Static<typeof Result> = { address: entry.address, port: entry.port, status: connectivityStatus(item) };
        if (!item.success) {
          if (item.error_code !== null) row.error_code = item.error_code;
          if (item.error_msg !== null) row.error_msg = item.error_msg;
        }
        return row;
      });
      request.log.info({ check_id: checkId, project, pool, count: items.length }, 'connectivity test answered');
      return reply.status(200).headers(checkHeaders(project, checkId)).send({ result });
    },
  );
}
