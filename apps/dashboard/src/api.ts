// Owns: every call the dashboard makes to the API — the X-Auth-Token header, JSON errors as ApiFailure — and the
// shapes of the answers it reads. Must not: touch the page; task and item shapes come from @conncheck/core's types.

import type { Task, TaskList } from '@conncheck/core/task-view';
import { session } from './session';

export type { CheckItem, Task, TaskHeader, TaskList, TaskStatus, TaskSummary } from '@conncheck/core/task-view';

/** An answer other than 2xx: the API's `{error_code, error_msg}` (or what the page could make of it). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }
}

/** Listeners told when the API refuses the token (401), so the page can ask for another. */
const unauthorizedListeners = new Set<(failure: ApiFailure) => void>();
export function onUnauthorized(listener: (failure: ApiFailure) => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function authHeaders(): Record<string, string> {
  const token = session.token();
  return token ? { 'x-auth-token': token } : {};
}

/** A failed answer's body as an ApiFailure. */
export async function failureOf(res: Response): Promise<ApiFailure> {
  let code = `HTTP_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error_code?: string; error_msg?: string };
    if (body.error_code) code = body.error_code;
    if (body.error_msg) message = body.error_msg;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiFailure(res.status, code, message);
}

export async function request<T>(method: 'GET' | 'DELETE', path: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { method, headers: { accept: 'application/json', ...authHeaders() }, ...(signal && { signal }) });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiFailure(0, 'NETWORK', `cannot reach the API (${(err as Error).message})`);
  }
  if (!res.ok) {
    const failure = await failureOf(res);
    if (res.status === 401) for (const listener of unauthorizedListeners) listener(failure);
    throw failure;
  }
  return (await res.json()) as T;
}

const get = <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, signal);
const enc = encodeURIComponent;

export interface Projects {
  open_mode: boolean;
  all_projects: boolean;
  projects: string[];
}

export interface PoolWorker {
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  running: number;
  started_at: string;
}

export interface Pool {
  name: string;
  served: boolean;
  workers: PoolWorker[];
  queue: { waiting: number; active: number; delayed: number; failed: number };
  oldest_wait_ms: number | null;
}

export interface LastCheck {
  check_id: string;
  success: boolean;
  error_code: string | null;
  error_msg: string | null;
  duration_ms: number | null;
  finished_at: string | null;
}

export type QueueStatus = 'CREATING' | 'ACTIVE' | 'FAILED';

export interface QueueInfo {
  name: string;
  status: QueueStatus;
  err_msg: string;
  update_time: number;
  last_check?: LastCheck;
  waiting?: string;
}

export interface EnhancedConnection {
  id: string;
  name: string;
  status: 'ACTIVE' | 'DELETED';
  create_time: number;
  check_interval_seconds: number;
  available_queue_info: QueueInfo[];
  hosts: { name: string; ip: string }[];
  destination: { db_type?: string; ip?: string; db_port?: number; db_user?: string; db_name?: string };
}

export interface VpcChannel {
  id: string;
  name: string;
  port: number;
  create_time: string;
  status: number;
}

export interface VpcChannelMember {
  id: string;
  host: string;
  port: number;
  weight: number;
  is_backup: boolean;
  status: number;
}

export const api = {
  /** Before a token: whether the server runs without tokens (served with the page, never a 401). */
  session: (signal?: AbortSignal) => get<{ open_mode: boolean }>('/ui/session.json', signal),
  projects: (signal?: AbortSignal) => get<Projects>('/v1/projects', signal),
  checks(project: string, query: { status?: string; cursor?: string; limit?: number }, signal?: AbortSignal) {
    const params = new URLSearchParams({ limit: String(query.limit ?? 20) });
    if (query.status) params.set('status', query.status);
    if (query.cursor) params.set('cursor', query.cursor);
    return get<TaskList>(`/v1/${enc(project)}/checks?${params}`, signal);
  },
  task: (project: string, checkId: string, signal?: AbortSignal) => get<Task>(`/v1/${enc(project)}/checks/${enc(checkId)}`, signal),
  cancel: (project: string, checkId: string) => request<Task>('DELETE', `/v1/${enc(project)}/checks/${enc(checkId)}`),
  eventsUrl: (project: string, checkId: string) => `/v1/${enc(project)}/checks/${enc(checkId)}/events`,
  pools: (project: string, signal?: AbortSignal) => get<{ pools: Pool[] }>(`/v1/${enc(project)}/pools`, signal),
  connections: (project: string, signal?: AbortSignal) =>
    get<{ connections: EnhancedConnection[]; count: number }>(`/v2.0/${enc(project)}/datasource/enhanced-connections?limit=0`, signal),
  vpcChannels: (project: string, pool: string, signal?: AbortSignal) =>
    get<{ total: number; vpc_channels: VpcChannel[] }>(`/v2/${enc(project)}/apigw/instances/${enc(pool)}/vpc-channels?limit=500`, signal),
  vpcChannel: (project: string, pool: string, id: string, signal?: AbortSignal) =>
    get<VpcChannel & { members: VpcChannelMember[] }>(`/v2/${enc(project)}/apigw/instances/${enc(pool)}/vpc-channels/${enc(id)}`, signal),
};
