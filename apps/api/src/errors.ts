// Owns: turning every error into `{ error_code, error_msg }` with the right status; validation errors name the field.
// Must not: leak internals — a 5xx body never carries an exception message or a stack.

import { ApiError, ApiErrorCode, type FieldProblem } from '@conncheck/core';
import { type ConnectionState, isUnavailableError } from '@conncheck/store';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
  /** The value that failed (Ajv's `verbose`). */
  data?: unknown;
  /** The schema holding the keyword that failed (Ajv's `verbose`). */
  parentSchema?: unknown;
}

/** `/jobs/0/db_port` → `jobs[0].db_port`. */
export function fieldPath(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (extra) parts.push(extra);
  let out = '';
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/**
 * The error to report of a failed validation: the first, except where a value matches none of a union's forms (an
 * integer or a string of digits): then the union itself, whose description names the forms, rather than the first
 * form's complaint.
 */
function firstProblem(errors: AjvError[]): AjvError {
  const first = errors[0]!;
  const union = errors.find((e) => e.keyword === 'anyOf' && e.instancePath === first.instancePath);
  return union ?? first;
}

export function describeValidationError(error: AjvError, context: string): ApiError {
  const problem = validationProblem(error, context);
  return new ApiError(400, problem.error_code, problem.error_msg);
}

/** One schema violation as a problem naming its field (error_msg starts with the field, as ProblemList's do). */
export function validationProblem(error: AjvError, context: string): FieldProblem {
  const where = context === 'body' ? '' : `${context} `;
  const problem = (field: string, error_code: ApiErrorCode, message: string): FieldProblem => ({
    field,
    error_code,
    error_msg: `${where}${field}: ${message}`,
  });
  switch (error.keyword) {
    case 'additionalProperties':
      return problem(fieldPath(error.instancePath, String(error.params.additionalProperty)), ApiErrorCode.UNKNOWN_FIELD, 'unknown field');
    case 'required':
      return problem(fieldPath(error.instancePath, String(error.params.missingProperty)), ApiErrorCode.MISSING_FIELD, 'is required');
    case 'anyOf': {
      const forms = (error.parentSchema as { description?: string } | undefined)?.description;
      return problem(
        fieldPath(error.instancePath) || 'value',
        ApiErrorCode.INVALID_PARAMETER,
        forms ? `is none of the accepted forms: ${forms}` : 'is none of the accepted forms',
      );
    }
    case 'enum': {
      const allowed = (error.params.allowedValues as unknown[] | undefined)?.map(String).join(', ');
      const field = fieldPath(error.instancePath) || 'value';
      if (field.endsWith('db_type') && typeof error.data === 'string') {
        return problem(field, ApiErrorCode.INVALID_PARAMETER, `unknown db_type ${JSON.stringify(error.data)}; expected one of ${allowed}`);
      }
      return problem(field, ApiErrorCode.INVALID_PARAMETER, `must be one of ${allowed}`);
    }
    default:
      return problem(fieldPath(error.instancePath) || (context === 'body' ? 'body' : 'value'), ApiErrorCode.INVALID_PARAMETER, error.message ?? 'is invalid');
  }
}

/** What a route or the framework throws: any error, a validation error with Ajv's details. */
export type RouteError = FastifyError & { validation?: AjvError[]; validationContext?: string };

/**
 * Any error a route or the framework raises, as the ApiError to answer with (internals logged, never sent). `redis` is
 * the connection the routes use: whether an error means it is unavailable depends on its state.
 */
export function toApiError(error: RouteError, request: FastifyRequest, redis: ConnectionState): ApiError {
  if (error instanceof ApiError) return error;
  if (error.validation && error.validation.length > 0) return describeValidationError(firstProblem(error.validation), error.validationContext ?? 'body');
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new ApiError(413, ApiErrorCode.PAYLOAD_TOO_LARGE, 'request body is larger than CONNCHECK_BODY_LIMIT allows');
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new ApiError(415, ApiErrorCode.UNSUPPORTED_MEDIA_TYPE, 'send the body as application/json');
  if (
    error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    (error instanceof SyntaxError && error.statusCode === 400)
  ) {
    return new ApiError(400, ApiErrorCode.INVALID_JSON, 'the body is not valid JSON');
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
    return new ApiError(error.statusCode, ApiErrorCode.INVALID_PARAMETER, error.message);
  if (isUnavailableError(error, redis)) {
    request.log.warn({ err: error }, 'redis unavailable');
    return new ApiError(503, ApiErrorCode.SERVICE_UNAVAILABLE, 'the task store is unavailable; retry shortly', { retryAfter: 5 });
  }
  request.log.error({ err: error }, 'unhandled error');
  return new ApiError(500, ApiErrorCode.INTERNAL_ERROR, 'internal error');
}

/** Sends an error answer: `{error_code, error_msg}` (and `check_id` when the request created a task), with its headers. */
export function sendError(reply: FastifyReply, error: ApiError): void {
  const { checkId, project, retryAfter } = error.details;
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  const body: { error_code: string; error_msg: string; check_id?: string } = { error_code: error.errorCode, error_msg: error.message };
  if (checkId !== undefined) {
    reply.header('x-check-id', checkId);
    if (project !== undefined) reply.header('location', `/v1/${project}/checks/${checkId}`);
    body.check_id = checkId;
  }
  void reply.status(error.statusCode).send(body);
}

/**
 * Every error answer is logged with its code, whoever sent it (a route, the framework, the router): 4xx at info as
 * "request refused", 5xx at warn as "request failed". The answer's `error_msg` is ours and names fields, never values
 * of secrets; bodies are never logged.
 */
export function logErrorAnswers(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode < 400 || typeof payload !== 'string') return payload;
    let answer: { error_code?: unknown; error_msg?: unknown };
    try {
      answer = JSON.parse(payload) as typeof answer;
    } catch {
      return payload;
    }
    logErrorAnswer(request.log, reply.statusCode, answer.error_code, answer.error_msg);
    return payload;
  });
}

export function logErrorAnswer(log: FastifyBaseLogger, status: number, errorCode: unknown, errorMsg: unknown): void {
  const fields = { status_code: status, error_code: errorCode, error_msg: errorMsg };
  if (status >= 500) log.warn(fields, 'request failed');
  else log.info(fields, 'request refused');
}

/**
 * `redis`: the routes' connection (see toApiError). `allowedMethods(method, path)`: the methods a known path takes when
 * this method is not one of them (else none).
 */
export function registerErrorHandling(
  app: FastifyInstance,
  redis: ConnectionState,
  allowedMethods: (method: string, path: string) => string[] = () => [],
): void {
  app.setErrorHandler((error: RouteError, request, reply) => sendError(reply, toApiError(error, request, redis)));

  const notFound = (request: FastifyRequest, reply: FastifyReply): void => {
    const path = request.url.split('?')[0] ?? '';
    const allow = allowedMethods(request.method, path);
    if (allow.length > 0) {
      void reply
        .status(405)
        .header('allow', allow.join(', '))
        .send({ error_code: ApiErrorCode.METHOD_NOT_ALLOWED, error_msg: `${path} takes ${allow.join(', ')}, not ${request.method}` });
      return;
    }
    void reply.status(404).send({ error_code: ApiErrorCode.ROUTE_NOT_FOUND, error_msg: `no route ${request.method} ${path}` });
  };
  // Before any body is read: an unknown route answers 404/405 whatever its body or Content-Type (a QUERY or a POST
  // without one would otherwise get the parser's 400 first).
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) notFound(request, reply);
  });
  app.setNotFoundHandler(notFound);
}
