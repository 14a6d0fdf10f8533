// Owns: the JSON Schemas of what the API returns — task, check item, list, the migration-service result shape, errors.
// Must not: know how these are stored or computed; packages/store builds the values, apps/api serves them.

import Type from 'typebox';
import { EndpointView, ServerInfoView, StageView, TlsReportView } from './check-result.js';

export const TASK_STATUSES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const ITEM_STATUSES = ['pending', 'running', 'success', 'failed', 'canceled'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** The task type shown in `type`, after the cluster-check API's check method: what created the task. */
export const TASK_TYPES = {
  /** POST /v3/{project_id}/jobs/batch-connection */
  batch: 'BatchConnection',
  /** POST /v1.0/{project_id}/clusters/{cluster_id}/checkconnection */
  clusterConnectivity: 'ClusterConnectivityTest',
  /** POST /v2/{project_id}/apigw/instances/{instance_id}/backend/connectivity/check */
  backendConnectivity: 'BackendConnectivityCheck',
  /** A saved connection's check from one of its pools, on its schedule or on request. */
  connectionCheck: 'EnhancedConnectionCheck',
} as const;
export const TASK_TYPE = TASK_TYPES.batch;

export const ErrorBody = Type.Object(
  {
    error_code: Type.String({ description: 'Stable error code, e.g. CC.INVALID_PARAMETER.' }),
    error_msg: Type.String({ description: 'What is wrong, naming the field where there is one.' }),
    check_id: Type.Optional(
      Type.String({ description: 'Extension: the task this request created, when it created one (e.g. a synchronous check that did not end in time).' }),
    ),
  },
  { description: 'Every 4xx/5xx answer.' },
);
export type ErrorBody = Type.Static<typeof ErrorBody>;

export const CheckItem = Type.Object({
  index: Type.Integer({ description: 'Position in the submitted jobs array.' }),
  id: Type.String({ description: 'The job id as submitted.' }),
  db_type: Type.String(),
  end_point_type: Type.String(),
  net_type: Type.String(),
  target: Type.Object({
    ip: Type.String({ description: 'As submitted.' }),
    db_port: Type.Optional(Type.Integer()),
    endpoints: Type.Array(EndpointView),
    db_user: Type.Optional(Type.String()),
    db_name: Type.Optional(Type.String()),
    ssl_mode: Type.Optional(Type.String({ description: 'With ssl_link: the effective TLS mode (require, verify-ca, verify-full).' })),
    ssl_cert_name: Type.Optional(Type.String({ description: 'The certificate file name as submitted.' })),
  }),
  status: Type.Enum([...ITEM_STATUSES]),
  success: Type.Boolean(),
  error_code: Type.Union([Type.String(), Type.Null()]),
  error_msg: Type.Union([Type.String(), Type.Null()]),
  duration_ms: Type.Union([Type.Number(), Type.Null()]),
  stages: Type.Array(StageView),
  address: Type.Optional(Type.String({ description: 'The resolved address actually connected to.' })),
  server: Type.Optional(ServerInfoView),
  tls: Type.Optional(TlsReportView),
  cluster: Type.Optional(
    Type.Object({}, { additionalProperties: true, description: 'Kafka cluster (id, controller, brokers) or MongoDB replica set (name, members).' }),
  ),
  warnings: Type.Optional(Type.Array(Type.String())),
  attempts: Type.Integer({ description: 'How many times a worker started this item (at-least-once delivery).' }),
  worker: Type.Optional(Type.Object({ id: Type.String(), pool: Type.String() })),
  pool: Type.String({ description: 'The worker pool (network zone) the item is checked from.' }),
  waiting: Type.Optional(Type.String({ description: 'Why a pending item waits, when conncheck knows (e.g. no live worker serves its pool).' })),
  started_at: Type.Union([Type.String(), Type.Null()]),
  finished_at: Type.Union([Type.String(), Type.Null()]),
});
export type CheckItem = Type.Static<typeof CheckItem>;

export const TaskSummary = Type.Object({
  total: Type.Integer(),
  succeeded: Type.Integer(),
  failed: Type.Integer(),
  canceled: Type.Integer(),
  running: Type.Integer(),
  pending: Type.Integer({ description: 'Items waiting for a worker (not started, or handed back).' }),
});
export type TaskSummary = Type.Static<typeof TaskSummary>;

const TaskFields = {
  check_id: Type.String(),
  type: Type.String(),
  status: Type.Enum([...TASK_STATUSES]),
  message: Type.String(),
  created_at: Type.String({ description: 'ISO-8601 UTC.' }),
  finished_at: Type.Union([Type.String(), Type.Null()], { description: 'ISO-8601 UTC; null until the task ends.' }),
  summary: TaskSummary,
  pools: Type.Array(Type.String(), { description: 'The worker pools (network zones) its items are checked from.' }),
  callback: Type.Optional(
    Type.Object(
      {
        url: Type.String(),
        status: Type.Enum(['pending', 'delivered', 'failed'], { description: 'pending until the task ends and a delivery succeeds or runs out of attempts.' }),
        attempts: Type.Array(
          Type.Object({
            attempt: Type.Integer(),
            at: Type.String(),
            status_code: Type.Optional(Type.Integer()),
            error: Type.Optional(Type.String()),
            duration_ms: Type.Number(),
          }),
        ),
      },
      { description: "Extension: the submission's callback_url and every delivery attempt." },
    ),
  ),
};

export const TaskHeader = Type.Object(TaskFields);
export type TaskHeader = Type.Static<typeof TaskHeader>;

export const Task = Type.Object({ ...TaskFields, check_items: Type.Array(CheckItem) });
export type Task = Type.Static<typeof Task>;

export const TaskList = Type.Object({
  checks: Type.Array(TaskHeader),
  next_cursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last.' }),
});
export type TaskList = Type.Static<typeof TaskList>;

export const SubmitResponse = Type.Object({
  check_id: Type.String(),
  status: Type.String(),
  created_at: Type.String(),
  count: Type.Integer(),
});
export type SubmitResponse = Type.Static<typeof SubmitResponse>;

/** The migration service's result shape (seed 002, table 6), per item; `status` is also `pending`/`running`/`canceled` until done. */
export const BatchResults = Type.Object({
  results: Type.Array(
    Type.Object({
      id: Type.String(),
      status: Type.String(),
      success: Type.Boolean(),
      error_code: Type.Optional(Type.String({ description: 'Set when the item failed or was canceled.' })),
      error_msg: Type.Optional(Type.String()),
    }),
  ),
  count: Type.Integer(),
});
export type BatchResults = Type.Static<typeof BatchResults>;
