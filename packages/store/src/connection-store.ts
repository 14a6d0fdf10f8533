// Owns: saved connections (the data lake's "enhanced datasource connections") — a destination with sealed
// credentials, bound to worker pools, each with a status that its latest check sets — and turning one into a check
// task. Must not: schedule checks (BullMQ job schedulers, in the apps) or probe anything.

import { randomUUID } from 'node:crypto';
import { type HostMapping, type ItemSecrets, type ItemSpec, type SecretBox, type Stage, TASK_TYPES } from '@conncheck/core';
import type { RedisClient } from './redis.js';
import type { StoreKeys } from './keys.js';
import { NameTakenError } from './name-taken-error.js';
import { type StoreCommands, defineScripts } from './scripts.js';
import type { TaskQueue } from './task-queue.js';
import type { TaskStore } from './task-store.js';

export type QueueStatus = 'CREATING' | 'ACTIVE' | 'FAILED';

/** What the latest check from a pool found (the task, with its stages, is `check_id`). */
export interface ConnectionCheckResult {
  check_id: string;
  success: boolean;
  error_code: string | null;
  error_msg: string | null;
  duration_ms: number | null;
  stages: Stage[];
  finished_at: string | null;
}

export interface ConnectionQueue {
  name: string;
  peer_id: string;
  status: QueueStatus;
  err_msg: string;
  create_time: number;
  update_time: number;
  /** The latest check whose result is recorded here. */
  check_id?: string;
  last?: ConnectionCheckResult;
}

export interface SavedConnection {
  id: string;
  project: string;
  name: string;
  status: 'ACTIVE' | 'DELETED';
  create_time: number;
  deleted_time?: number;
  /** The destination as a batch job became it (index 0; no secret). */
  spec: ItemSpec;
  hosts: HostMapping[];
  check_interval_seconds: number;
  /** Fields of the original's request that the checks do not use, kept (dest_vpc_id, dest_network_id, routetable_id, tags). */
  extra: Record<string, unknown>;
  queues: ConnectionQueue[];
}

export interface NewConnection {
  name: string;
  spec: ItemSpec;
  secrets: ItemSecrets;
  hosts: HostMapping[];
  queues: string[];
  check_interval_seconds: number;
  extra: Record<string, unknown>;
}

export class ConnectionStore {
  private readonly redis: RedisClient & StoreCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: StoreKeys,
    private readonly box: SecretBox,
    /** How long a deleted connection stays readable (as DELETED). */
    private readonly retentionSeconds: number,
  ) {
    this.redis = defineScripts(redis);
  }

  /** Saves a connection; its pools start CREATING. Throws NameTakenError when its name is taken in the project. */
  async create(project: string, connection: NewConnection, now: number = Date.now()): Promise<string> {
    const id = randomUUID();
    const fields = {
      project,
      name: connection.name,
      status: 'ACTIVE',
      create_time: String(now),
      spec: JSON.stringify(connection.spec),
      hosts: JSON.stringify(connection.hosts),
      interval: String(connection.check_interval_seconds),
      extra: JSON.stringify(connection.extra),
      ...(Object.keys(connection.secrets).length > 0 ? { secrets: this.box.seal(connection.secrets, aad(id)) } : {}),
    };
    const reply = await this.redis.createConnection(
      ...this.keys.connectionScriptKeys(id, project),
      id,
      connection.name,
      now,
      JSON.stringify(fields),
      ...connection.queues.flatMap((pool) => [pool, JSON.stringify(newQueue(pool, now))]),
    );
    if (Array.isArray(reply)) throw new NameTakenError(reply[1]);
    return id;
  }

  /** The connection, or undefined when it is not in this project (or has expired after its deletion). */
  async get(project: string, id: string): Promise<SavedConnection | undefined> {
    const [[, hash], [, queues]] = (await this.redis.multi().hgetall(this.keys.connection(id)).hgetall(this.keys.connectionQueues(id)).exec()) as [
      [null, Record<string, string>],
      [null, Record<string, string>],
    ];
    if (hash.project !== project) return undefined;
    return view(id, hash, queues);
  }

  /** Newest first, with the total before paging. */
  async list(
    project: string,
    filter: { status?: string; name?: string; offset: number; limit: number },
  ): Promise<{ connections: SavedConnection[]; count: number }> {
    const ids = await this.redis.zrevrange(this.keys.projectConnections(project), 0, -1);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.connection(id)).hgetall(this.keys.connectionQueues(id));
    const rows = (await pipeline.exec()) ?? [];
    const all: SavedConnection[] = [];
    const gone: string[] = [];
    ids.forEach((id, i) => {
      const hash = rows[2 * i]?.[1] as Record<string, string> | undefined;
      if (!hash || hash.project !== project) {
        gone.push(id);
        return;
      }
      all.push(view(id, hash, rows[2 * i + 1]?.[1] as Record<string, string>));
    });
    if (gone.length > 0) await this.redis.zrem(this.keys.projectConnections(project), ...gone);
    const matching = all.filter(
      (c) => (filter.status === undefined || c.status === filter.status.toUpperCase()) && (filter.name === undefined || c.name.includes(filter.name)),
    );
    return {
      connections: filter.limit === 0 ? matching.slice(filter.offset) : matching.slice(filter.offset, filter.offset + filter.limit),
      count: matching.length,
    };
  }

  /** Deletes it: credentials at once, the rest after the retention. Returns the pools it was bound to, or undefined. */
  async delete(project: string, id: string, now: number = Date.now()): Promise<string[] | undefined> {
    const pools = await this.redis.deleteConnection(...this.keys.connectionScriptKeys(id, project), id, project, now, this.retentionSeconds);
    return pools ?? undefined;
  }

  /** Binds pools (those already bound are left as they are). Returns the pools newly bound. */
  async associate(id: string, pools: string[], now: number = Date.now()): Promise<string[]> {
    const tx = this.redis.multi();
    for (const pool of pools) tx.hsetnx(this.keys.connectionQueues(id), pool, JSON.stringify(newQueue(pool, now)));
    const replies = (await tx.exec()) ?? [];
    return pools.filter((_, i) => replies[i]?.[1] === 1);
  }

  /** Unbinds pools. Returns those that were bound. */
  async disassociate(id: string, pools: string[]): Promise<string[]> {
    const tx = this.redis.multi();
    for (const pool of pools) tx.hdel(this.keys.connectionQueues(id), pool);
    const replies = (await tx.exec()) ?? [];
    return pools.filter((_, i) => replies[i]?.[1] === 1);
  }

  /**
   * Starts a check of the connection from `pool`: an ordinary one-item task on the pool's queue, carrying the
   * connection's id so its end is recorded here. Credentials sealed with an earlier key (a rotation under way) are
   * sealed again with the current one. Undefined when the connection is gone, deleted or not bound to the pool.
   */
  async startCheck(project: string, id: string, pool: string, tasks: TaskStore, queue: TaskQueue): Promise<string | undefined> {
    const key = this.keys.connection(id);
    const [[, hash], [, bound]] = (await this.redis.multi().hgetall(key).hexists(this.keys.connectionQueues(id), pool).exec()) as [
      [null, Record<string, string>],
      [null, number],
    ];
    if (hash.project !== project || hash.status !== 'ACTIVE' || bound !== 1) return undefined;
    let secrets: ItemSecrets = {};
    if (hash.secrets) {
      secrets = this.box.open<ItemSecrets>(hash.secrets, aad(id));
      if (this.box.sealedWithPreviousKey(hash.secrets)) await this.redis.hset(key, 'secrets', this.box.seal(secrets, aad(id)));
    }
    const interval = Number(hash.interval);
    const spec: ItemSpec = { ...(JSON.parse(hash.spec!) as ItemSpec), pool };
    const hosts = JSON.parse(hash.hosts ?? '[]') as HostMapping[];
    if (hosts.length > 0) spec.hosts = hosts;
    const { check_id } = await tasks.submit(project, [{ spec, secrets }], queue, pool, {
      type: TASK_TYPES.connectionCheck,
      connection: id,
      // The status keeps the latest result; a few intervals of history are enough to look into.
      retentionSeconds: Math.max(3 * interval, 3600),
    });
    return check_id;
  }

  /**
   * Records the end of one of its check tasks: the pool's status becomes ACTIVE or FAILED with the error. Returns the
   * change, or undefined when nothing was recorded (the connection deleted, the pool unbound, a later check first).
   */
  async recordCheck(
    id: string,
    pool: string,
    result: ConnectionCheckResult,
    now: number = Date.now(),
  ): Promise<{ from: QueueStatus; to: QueueStatus } | undefined> {
    const status: QueueStatus = result.success ? 'ACTIVE' : 'FAILED';
    const errMsg = result.success ? '' : `${result.error_code ?? 'INTERNAL_ERROR'}: ${result.error_msg ?? ''}`;
    const reply = await this.redis.recordConnectionCheck(
      this.keys.connection(id),
      this.keys.connectionQueues(id),
      pool,
      result.check_id,
      now,
      status,
      errMsg,
      JSON.stringify(result),
    );
    return reply ? { from: reply[0] as QueueStatus, to: reply[1] as QueueStatus } : undefined;
  }
}

function newQueue(pool: string, now: number): ConnectionQueue {
  return { name: pool, peer_id: randomUUID(), status: 'CREATING', err_msg: '', create_time: now, update_time: now };
}

function view(id: string, hash: Record<string, string>, queues: Record<string, string>): SavedConnection {
  return {
    id,
    project: hash.project!,
    name: hash.name!,
    status: hash.status as SavedConnection['status'],
    create_time: Number(hash.create_time),
    ...(hash.deleted_time ? { deleted_time: Number(hash.deleted_time) } : {}),
    spec: JSON.parse(hash.spec!) as ItemSpec,
    hosts: JSON.parse(hash.hosts ?? '[]') as HostMapping[],
    check_interval_seconds: Number(hash.interval),
    extra: JSON.parse(hash.extra ?? '{}') as Record<string, unknown>,
    queues: Object.values(queues)
      .map((raw) => {
        const queue = JSON.parse(raw) as ConnectionQueue & { last?: string | ConnectionCheckResult };
        return { ...queue, ...(typeof queue.last === 'string' ? { last: JSON.parse(queue.last) as ConnectionCheckResult } : {}) };
      })
      .sort((a, b) => a.create_time - b.create_time || (a.name < b.name ? -1 : 1)),
  };
}

function aad(id: string): string {
  return `connection:${id}`;
}
