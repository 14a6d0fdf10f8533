// Owns: the task routes — submit a batch, read a task (two shapes), list, cancel.
// Must not: run a probe or build a Redis key; it validates, authorizes and calls the store.

import Type from 'typebox';
import {
  ApiError,
  ApiErrorCode,
  BatchResults,
  batchRequestSchema,
  ErrorBody,
  type FieldProblem,
  SubmitResponse,
  TASK_STATUSES,
  Task,
  TaskList,
  type TaskStatus,
  buildItems,
  callbackUrlProblem,
  checkIdTime,
  webhookSecret,
} from '@conncheck/core';
import { BacklogFullError, CursorError, IdempotencyConflictError, type Submitted } from '@conncheck/store';
import type { ApiDeps, ApiInstance } from '../deps.js';
import { ProjectId, ProjectParams, bodyErrors, projectErrors } from '../params.js';
import { canceledItems, submittedItems, submittedTasks } from '../metrics.js';
import { dryRunProblems, unvalidatedLength } from '../validation.js';

const TaskParams = Type.Object(
  {
    project_id: ProjectId,
    check_id: Type.String({ maxLength: 64, description: 'The check_id the submission returned.' }),
  },
  { additionalProperties: false },
);
const WaitQuery = Type.Object(
  {
    wait_ms: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 30_000,
        default: 0,
        description: 'Extension: hold the answer until the task has ended, at most this long (long polling).',
      }),
    ),
  },
  { additionalProperties: false },
);
const TaskQuery = Type.Object(
  {
    ...WaitQuery.properties,
    include_items: Type.Optional(
      Type.Boolean({ default: true, description: 'Extension: false returns the header and summary only (check_items empty), cheap for watching large tasks.' }),
    ),
  },
  { additionalProperties: false },
);
const errors = projectErrors;

const DryRunResult = Type.Object({
  valid: Type.Boolean(),
  count: Type.Integer(),
  problems: Type.Array(Type.Object({ field: Type.String(), error_code: Type.String(), error_msg: Type.String() })),
});

const SubmitHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description:
        'Extension: a key of your choosing (1–255 visible ASCII characters) that makes a retry safe: the same key with the same body returns the check_id of the first request (header Idempotent-Replayed: true); with another body the answer is 409 CC.IDEMPOTENCY_KEY_REUSED. Kept as long as the task.',
    }),
  ),
});

/**
 * 404 for a check that is not in this project. The message says what the id's creation time allows — never whether
 * the task exists in another project — instead of guessing at expiry.
 */
function notFound(checkId: string, deps: ApiDeps): ApiError {
  const created = checkIdTime(checkId);
  const iso = (ms: number) => new Date(ms).toISOString();
  let why = 'unknown: no check with this id was submitted to this project';
  if (created !== undefined && created < deps.dataSince()) {
    why = `it was created at ${iso(created)}, before this Redis's data begins (${iso(deps.dataSince())}): it was lost with Redis's earlier data (a restart without persistence?)`;
  } else if (created !== undefined && created < Date.now() - deps.config.retentionSeconds * 1000) {
    why = `unknown now: it was created at ${iso(created)}, and tasks are removed ${deps.config.retentionSeconds} s after they end (CONNCHECK_RETENTION_SECONDS), if it was one of this project's`;
  }
  return new ApiError(404, ApiErrorCode.NOT_FOUND, `no check ${checkId} in this project: ${why}`);
}

export async function checkRoutes(app: ApiInstance, deps: ApiDeps): Promise<void> {
  const { store, queue, config } = deps;

  app.post(
    '/v3/:project_id/jobs/batch-connection',
    {
      bodyLimit: config.bodyLimit,
      // The handler decides: a dry run answers every problem, a submission the first (see the handler).
      attachValidation: true,
      schema: {
        tags: ['checks'],
        summary: 'Test connections in batches',
        description:
          'Validates and stores the batch, enqueues it and answers at once with the check_id to poll. With `dry_run=true` it only validates and answers 200 with every problem found.',
        params: ProjectParams,
        querystring: Type.Object({ dry_run: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false }),
        headers: SubmitHeaders,
        body: batchRequestSchema(config.maxItemsPerBatch),
        response: { 202: SubmitResponse, 200: DryRunResult, 409: ErrorBody, ...bodyErrors },
      },
      // Counted before schema validation so that an oversized batch costs no per-item validation work.
      preValidation: async (request) => {
        const count = unvalidatedLength(request.body, 'jobs');
        if (count > config.maxItemsPerBatch) {
          throw new ApiError(413, ApiErrorCode.TOO_MANY_ITEMS, `jobs: ${count} items; at most ${config.maxItemsPerBatch} per batch (CONNCHECK_MAX_ITEMS)`);
        }
      },
    },
    async (request, reply) => {
      const { project_id: project } = request.params;
      // Fastify validates the body before the query string: after a body error the query is still text.
      const dryRunParam: unknown = request.query.dry_run;
      const dryRun = dryRunParam === true || dryRunParam === 'true';
      if (request.validationError) {
        // A submission stops at the first schema error; a dry run lists every problem of every job.
        if (!dryRun || request.validationError.validationContext !== 'body') throw request.validationError;
        const { count, problems } = dryRunProblems(request.body);
        return reply.status(200).send({ valid: false, count, problems });
      }
      const { body } = request;
      const { problems, items } = buildItems(body.jobs, {
        poolFor: (job) => job.pool ?? config.netTypePools[job.net_type ?? 'eip'] ?? config.workerPool,
        allowLoopback: deps.auth.openMode,
      });
      const callbackProblem = body.callback_url === undefined ? undefined : callbackUrlProblem(body.callback_url);
      if (callbackProblem)
        problems.unshift({ field: 'callback_url', error_code: ApiErrorCode.INVALID_PARAMETER, error_msg: `callback_url: ${callbackProblem}` });
      if (dryRun) return reply.status(200).send({ valid: problems.length === 0, count: body.jobs.length, problems });
      if (problems.length > 0) throw problemError(problems);
      const idempotencyKey = request.headers['idempotency-key'];
      let submitted: Submitted;
      try {
        submitted = await store.submit(project, items, queue, undefined, {
          maxUnfinished: config.maxPendingItemsPerProject,
          idempotency: idempotencyKey === undefined ? undefined : { key: idempotencyKey, body },
          ...(body.callback_url !== undefined && { callbackUrl: body.callback_url, callbackMayReachLoopback: deps.auth.openMode }),
        });
      } catch (err) {
        if (err instanceof IdempotencyConflictError) {
          throw new ApiError(
            409,
            ApiErrorCode.IDEMPOTENCY_KEY_REUSED,
            `Idempotency-Key was used in this project for a request with another body (check ${err.checkId}); send the same body to retry, or a new key`,
          );
        }
        if (!(err instanceof BacklogFullError)) throw err;
        throw new ApiError(
          429,
          ApiErrorCode.RATE_LIMITED,
          `project ${project} has ${err.backlog} unfinished items; ${items.length} more would pass the limit of ${err.limit} (CONNCHECK_MAX_PENDING_ITEMS)`,
          { retryAfter: 10 },
        );
      }
      const { check_id, created_at, replayed } = submitted;
      void submitted.enqueued.then((added) => {
        if (!added) request.log.warn({ check_id, project }, 'could not add the jobs; a worker adds them from the enqueue intent within seconds');
      });
      let status: TaskStatus = 'Pending';
      if (replayed) {
        status = (await store.taskInfo(check_id))?.status ?? 'Pending';
        reply.header('idempotent-replayed', 'true');
        request.log.info({ check_id, project }, 'idempotent retry: answered with the task the key created');
      } else {
        submittedTasks.inc();
        for (const { spec } of items) submittedItems.inc({ db_type: spec.db_type });
        request.log.info({ check_id, project, count: items.length }, 'check submitted');
      }
      return reply.status(202).header('location', `/v1/${project}/checks/${check_id}`).send({ check_id, status, created_at, count: items.length });
    },
  );

  app.get(
    '/v1/:project_id/checks/:check_id',
    {
      schema: { tags: ['checks'], summary: 'Get a check task with its items', params: TaskParams, querystring: TaskQuery, response: { 200: Task, ...errors } },
    },
    async (request) => {
      const { project_id: project, check_id: checkId } = request.params;
      const { wait_ms: waitMs = 0, include_items: includeItems } = request.query;
      const task = await store.getTaskWhenEnded(checkId, project, waitMs, { items: includeItems !== false });
      if (!task) throw notFound(checkId, deps);
      return explainWaiting(task, deps);
    },
  );

  app.get(
    '/v3/:project_id/jobs/batch-connection/:check_id',
    {
      schema: {
        tags: ['checks'],
        summary: "Get a batch's results in the migration service's shape",
        params: TaskParams,
        querystring: WaitQuery,
        response: { 200: BatchResults, ...errors },
      },
    },
    async (request) => {
      const { project_id: project, check_id: checkId } = request.params;
      const task = await store.getTaskWhenEnded(checkId, project, request.query.wait_ms ?? 0);
      if (!task) throw notFound(checkId, deps);
      const results = task.check_items.map((item) => {
        const row: BatchResults['results'][number] = { id: item.id, status: item.status, success: item.success };
        if (item.error_code !== null) row.error_code = item.error_code;
        if (item.error_msg !== null) row.error_msg = item.error_msg;
        return row;
      });
      return { results, count: results.length };
    },
  );

  app.get(
    '/v1/:project_id/checks',
    {
      schema: {
        tags: ['checks'],
        summary: 'List check tasks, newest first',
        params: ProjectParams,
        querystring: Type.Object(
          {
            status: Type.Optional(Type.Enum([...TASK_STATUSES])),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
            cursor: Type.Optional(
              Type.String({ maxLength: 128, pattern: '^[A-Za-z0-9_-]+$', description: 'next_cursor of the previous page, as given (opaque).' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: TaskList, ...errors },
      },
    },
    async (request) => {
      const { project_id: project } = request.params;
      const { status, limit = 20, cursor } = request.query;
      try {
        return await store.listTasks(project, { status, limit, cursor });
      } catch (err) {
        if (err instanceof CursorError) throw new ApiError(400, ApiErrorCode.INVALID_CURSOR, `cursor: ${err.message}`);
        throw err;
      }
    },
  );

  app.delete(
    '/v1/:project_id/checks/:check_id',
    {
      schema: {
        tags: ['checks'],
        summary: 'Cancel a check task: unfinished items end as canceled',
        params: TaskParams,
        response: { 200: Task, 409: ErrorBody, ...errors },
      },
    },
    async (request, reply) => {
      const { project_id: project, check_id: checkId } = request.params;
      const outcome = await store.cancel(checkId, project);
      if (!outcome) throw notFound(checkId, deps);
      if ('ended' in outcome) throw new ApiError(409, ApiErrorCode.ALREADY_FINISHED, `check ${checkId} already ended as ${outcome.ended}`);
      await queue.removeWaiting(checkId, outcome.runs).catch(() => undefined);
      canceledItems.inc(outcome.canceled);
      request.log.info({ check_id: checkId, project, canceled: outcome.canceled }, 'check canceled');
      return reply.status(200).send(outcome.task);
    },
  );
}

/**
 * An open task whose items wait in a pool no live worker serves says so, in its message and on each such item:
 * they wait (a worker may come), and the reader learns why.
 */
async function explainWaiting(task: Task, deps: ApiDeps): Promise<Task> {
  if (task.finished_at !== null) return task;
  const live = await deps.registry.live();
  const unserved = task.pools.filter((pool) => !live.has(pool));
  if (unserved.length === 0) return task;
  const why = (pool: string) => `no live worker serves pool "${pool}"`;
  for (const item of task.check_items)
    if (item.status === 'pending' && unserved.includes(item.pool)) item.waiting = `${why(item.pool)}; the item runs when one starts`;
  return { ...task, message: `${task.message}; ${unserved.map(why).join('; ')}` };
}

export async function webhookSecretRoute(app: ApiInstance, deps: ApiDeps): Promise<void> {
  app.get(
    '/v1/:project_id/webhook-secret',
    {
      schema: {
        tags: ['checks'],
        summary: "The secret that signs this project's callback deliveries",
        description:
          'Derived from CONNCHECK_SECRET_KEY (it changes when the key is rotated). A delivery carries X-Conncheck-Timestamp and X-Conncheck-Signature: `v1=` and the hex HMAC-SHA256, under this secret, of `<timestamp>.<raw body>`.',
        params: ProjectParams,
        response: { 200: Type.Object({ secret: Type.String(), header: Type.String(), algorithm: Type.String() }), ...errors },
      },
    },
    async (request) => {
      const { project_id: project } = request.params;
      return {
        secret: webhookSecret(deps.store.secretBox, project),
        header: 'X-Conncheck-Signature',
        algorithm: 'v1=hex(HMAC-SHA256(secret, timestamp + "." + body))',
      };
    },
  );
}

function problemError(problems: FieldProblem[]): ApiError {
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''}; POST with ?dry_run=true to see all)` : '';
  return new ApiError(400, first.error_code, `${first.error_msg}${more}`);
}
