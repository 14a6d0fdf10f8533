// Owns: every HTTP call the CLI makes to a conncheck API (URL, X-Auth-Token, Idempotency-Key and its retries) and
// turning a network failure or a 4xx/5xx into one CliError line with the API's error_msg. Must not: print or exit.

import type { BatchRequest, SubmitResponse, Task, TaskList, TaskStatus } from '@conncheck/core';
import { CliError } from './exit-codes.js';

export interface ClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  url: string;
  token?: string | undefined;
}

export interface DryRunAnswer {
  valid: boolean;
  count: number;
  problems: { field: string; error_code: string; error_msg: string }[];
}

export interface ProjectsAnswer {
  open_mode: boolean;
  all_projects: boolean;
  projects: string[];
}

/** A request gets this long before the CLI gives up on it; a long poll gets its wait on top. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Waits between tries of a submission that got no answer (same Idempotency-Key, so a retry cannot submit twice). */
const SUBMIT_RETRY_DELAYS_MS = [500, 1_000, 2_000];

export class ApiClient {
  readonly base: string;
  readonly token: string | undefined;

  constructor(options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new CliError(`--url / CONNCHECK_URL: "${options.url}" is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--url / CONNCHECK_URL: "${options.url}" is not http:// or https://`);
    this.base = url.href.replace(/\/+$/, '');
    this.token = options.token === '' ? undefined : options.token;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token === undefined ? {} : { 'x-auth-token': this.token }), ...extra };
  }

  url(path: string, query: Record<string, string | number | boolean | undefined> = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
    const search = params.toString();
    return `${this.base}${path}${search === '' ? '' : `?${search}`}`;
  }

  /** One request; a 2xx answer's JSON, or a CliError saying what the API (or the network) said. */
  async call<T>(
    method: string,
    path: string,
    init: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const target = this.url(path, init.query);
    let response: Response;
    try {
      response = await fetch(target, {
        method,
        headers: this.headers({ accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers }),
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: AbortSignal.timeout(init.timeoutMs ?? REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new NetworkError(`${method} ${target}: ${networkReason(err)}`);
    }
    const text = await response.text().catch(() => '');
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.status >= 200 && response.status < 300) return { status: response.status, body: body as T, headers: response.headers };
    const error = body as { error_code?: string; error_msg?: string } | undefined;
    const said = error?.error_code ? `${error.error_code}: ${error.error_msg ?? ''}` : text.slice(0, 200) || response.statusText;
    throw new ApiCallError(response.status, error?.error_code, `${method} ${path}: ${response.status} ${said}`);
  }

  /**
   * POST a batch. A submission that gets no answer (network error) or a 502/503/504 is sent again with the same
   * Idempotency-Key, so it is stored once whatever happened to the first answer.
   */
  async submit(project: string, body: BatchRequest, idempotencyKey: string): Promise<SubmitResponse & { replayed: boolean }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await this.call<SubmitResponse>('POST', `/v3/${encodeURIComponent(project)}/jobs/batch-connection`, {
          body,
          headers: { 'idempotency-key': idempotencyKey },
        });
        return { ...answer.body, replayed: answer.headers.get('idempotent-replayed') === 'true' };
      } catch (err) {
        const retriable = err instanceof NetworkError || (err instanceof ApiCallError && [502, 503, 504].includes(err.status));
        const delay = SUBMIT_RETRY_DELAYS_MS[attempt];
        if (!retriable || delay === undefined) throw err;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  async dryRun(project: string, body: BatchRequest): Promise<DryRunAnswer> {
    return (await this.call<DryRunAnswer>('POST', `/v3/${encodeURIComponent(project)}/jobs/batch-connection`, { body, query: { dry_run: true } })).body;
  }

  async task(project: string, checkId: string, options: { includeItems?: boolean; waitMs?: number } = {}): Promise<Task> {
    const query = { include_items: options.includeItems === false ? false : undefined, wait_ms: options.waitMs };
    const timeoutMs = REQUEST_TIMEOUT_MS + (options.waitMs ?? 0);
    return (await this.call<Task>('GET', taskPath(project, checkId), { query, timeoutMs })).body;
  }

  async list(project: string, query: { status?: TaskStatus | undefined; limit?: number | undefined; cursor?: string | undefined }): Promise<TaskList> {
    return (await this.call<TaskList>('GET', `/v1/${encodeURIComponent(project)}/checks`, { query })).body;
  }

  async cancel(project: string, checkId: string): Promise<Task> {
    return (await this.call<Task>('DELETE', taskPath(project, checkId))).body;
  }

  async projects(): Promise<ProjectsAnswer> {
    return (await this.call<ProjectsAnswer>('GET', '/v1/projects')).body;
  }

  eventsUrl(project: string, checkId: string): string {
    return this.url(`${taskPath(project, checkId)}/events`);
  }
}

export class NetworkError extends CliError {
  override name = 'NetworkError';
}

export class ApiCallError extends CliError {
  override name = 'ApiCallError';
  constructor(
    readonly status: number,
    readonly errorCode: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

function taskPath(project: string, checkId: string): string {
  return `/v1/${encodeURIComponent(project)}/checks/${encodeURIComponent(checkId)}`;
}

/** fetch's TypeError hides the reason in `cause` (ECONNREFUSED, ENOTFOUND …); a timeout is an AbortError. */
export function networkReason(err: unknown): string {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'no answer in time';
  const cause = error.cause;
  if (cause?.code) return `cannot connect (${cause.code})`;
  return cause?.message ?? error.message;
}
