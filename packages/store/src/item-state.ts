// Owns: the shape of an item's mutable state as stored in the items hash, and turning stored values into API views.
// Must not: talk to Redis; task-store.ts reads and writes, this only converts.

import {
  type CheckItem,
  type ItemOutcome,
  type ItemSpec,
  type ItemStatus,
  type ServerInfo,
  type Task,
  type TaskHeader,
  type TaskStatus,
  TASK_TYPE,
} from '@conncheck/core';
import type { PoolRuns } from './task-queue.js';

export interface WorkerRef {
  id: string;
  pool: string;
}

/** What changes about an item over its life. Times are epoch ms. Arrays are never empty (Lua's cjson would turn [] into {}). */
export interface ItemState {
  status: ItemStatus;
  attempts: number;
  started_at?: number;
  finished_at?: number;
  worker?: WorkerRef;
  success?: boolean;
  error_code?: string;
  error_msg?: string;
  duration_ms?: number;
  stages?: CheckItem['stages'];
  address?: string;
  server?: ServerInfo;
  tls?: CheckItem['tls'];
  cluster?: Record<string, unknown>;
  warnings?: string[];
}

/** A finished probe, as the worker hands it to the store (defined in core, with the rest of a result's vocabulary). */
export type { ItemOutcome };

export const INITIAL_ITEM_STATE: ItemState = { status: 'pending', attempts: 0 };

const iso = (ms: number | undefined | null): string | null => (ms === undefined || ms === null || Number.isNaN(ms) ? null : new Date(ms).toISOString());

/**
 * The stored state of an item that has ended. Without `claimed` the state carries no attempts, start or worker:
 * the store keeps those the item already has (it was failed for a job that will not run it, not run here).
 */
export function terminalState(claimed: { attempts: number; started_at: number; worker: WorkerRef } | undefined, outcome: ItemOutcome, now: number): ItemState {
  const state = {
    status: outcome.success ? 'success' : 'failed',
    ...(claimed && { attempts: claimed.attempts, started_at: claimed.started_at, worker: claimed.worker }),
    finished_at: now,
    success: outcome.success,
    duration_ms: Math.round(outcome.duration_ms * 10) / 10,
  } as ItemState;
  if (!outcome.success) {
    state.error_code = outcome.error_code ?? 'INTERNAL_ERROR';
    state.error_msg = outcome.error_msg ?? '';
  }
  if (outcome.stages.length > 0) state.stages = outcome.stages;
  if (outcome.address) state.address = outcome.address;
  if (outcome.server) state.server = outcome.server;
  if (outcome.tls) state.tls = outcome.tls;
  if (outcome.cluster) state.cluster = outcome.cluster;
  if (outcome.warnings && outcome.warnings.length > 0) state.warnings = outcome.warnings;
  return state;
}

export function itemView(spec: ItemSpec, state: ItemState): CheckItem {
  const target: CheckItem['target'] = { ip: spec.ip, endpoints: spec.endpoints };
  if (spec.db_port !== undefined) target.db_port = spec.db_port;
  if (spec.db_user !== undefined) target.db_user = spec.db_user;
  if (spec.db_name !== undefined) target.db_name = spec.db_name;
  if (spec.ssl_link && spec.ssl_mode !== undefined) target.ssl_mode = spec.ssl_mode;
  if (spec.ssl_cert_name !== undefined) target.ssl_cert_name = spec.ssl_cert_name;
  const item: CheckItem = {
    index: spec.index,
    id: spec.id,
    db_type: spec.db_type,
    end_point_type: spec.end_point_type,
    net_type: spec.net_type,
    target,
    status: state.status,
    success: state.success ?? false,
    error_code: state.error_code ?? null,
    error_msg: state.error_msg ?? null,
    duration_ms: state.duration_ms ?? null,
    stages: Array.isArray(state.stages) ? state.stages : [],
    attempts: state.attempts ?? 0,
    pool: spec.pool ?? 'default',
    started_at: iso(state.started_at),
    finished_at: iso(state.finished_at),
  };
  if (state.address) item.address = state.address;
  if (state.server) item.server = state.server;
  if (state.tls) item.tls = state.tls;
  if (state.cluster) item.cluster = state.cluster;
  if (Array.isArray(state.warnings) && state.warnings.length > 0) item.warnings = state.warnings;
  if (state.worker) item.worker = state.worker;
  return item;
}

/** The task hash as stored (all values are strings). */
export type TaskHash = Record<string, string>;

export function taskHeaderView(checkId: string, hash: TaskHash): TaskHeader {
  const n = (field: string) => Number(hash[field] ?? 0) || 0;
  const total = n('total');
  const succeeded = n('succeeded');
  const failed = n('failed');
  const canceled = n('canceled');
  const running = n('running');
  const status = (hash.status ?? 'Pending') as TaskStatus;
  return {
    check_id: checkId,
    type: hash.type ?? TASK_TYPE,
    status,
    message: hash.message ?? openTaskMessage(status, total, succeeded + failed + canceled, running, poolsOf(hash)),
    created_at: iso(n('created_at')) ?? '',
    finished_at: hash.finished_at ? iso(Number(hash.finished_at)) : null,
    summary: { total, succeeded, failed, canceled, running, pending: Math.max(0, total - succeeded - failed - canceled - running) },
    pools: poolsOf(hash),
    ...(hash.callback !== undefined && {
      callback: {
        url: hash.callback,
        status: (hash.callback_status ?? 'pending') as 'pending' | 'delivered' | 'failed',
        attempts: hash.callback_attempts ? (JSON.parse(hash.callback_attempts) as NonNullable<TaskHeader['callback']>['attempts']) : [],
      },
    }),
  };
}

/** An open task's message, from its counts (an ended task's message is stored when it ends). */
function openTaskMessage(status: TaskStatus, total: number, ended: number, running: number, pools: string[]): string {
  if (status === 'Pending') return `waiting for a worker of pool${pools.length > 1 ? 's' : ''} ${pools.map((p) => `"${p}"`).join(', ')}`;
  return `running: ${ended} of ${total} items finished, ${running} running`;
}

/** A task's items by pool, from its hash's `pools` and `total` (a task stored before pools existed ran all in 'default'). */
export function runsOf(pools: string | null | undefined, total: string | null | undefined): PoolRuns {
  return pools ? (JSON.parse(pools) as PoolRuns) : [['default', Number(total ?? 0)]];
}

/** The pools a task's items run in, from its stored runs. */
function poolsOf(hash: TaskHash): string[] {
  return [...new Set(runsOf(hash.pools, hash.total).map(([pool]) => pool))];
}

export function taskView(checkId: string, hash: TaskHash, specs: Record<string, string>, states: Record<string, string>): Task {
  const items: CheckItem[] = [];
  for (const [index, rawSpec] of Object.entries(specs)) {
    const spec = JSON.parse(rawSpec) as ItemSpec;
    const rawState = states[index];
    const state = rawState ? (JSON.parse(rawState) as ItemState) : INITIAL_ITEM_STATE;
    items.push(itemView(spec, state));
  }
  items.sort((a, b) => a.index - b.index);
  return { ...taskHeaderView(checkId, hash), check_items: items };
}
