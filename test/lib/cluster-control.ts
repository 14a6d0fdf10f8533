// Failover tests against the test services' Redis Cluster (services.json `rediscluster`, see test/SERVICES.md): which
// master serves a key, crash a node, wait for its replica to take over, start the node again, and SCAN/delete keys
// across every master.
//
// A node restarted here runs daemonized (its parent is not the test process) and writes its pid to its pidFile;
// `test/services stop` stops the pid found there too, so no redis-server outlives the set. A test that stops a node
// must restart it (and should wait for waitForHealthy()): a set with a node down is not reused by the next
// `test/services start`, which then stops it and starts every service afresh.

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import type { RedisClusterEndpoint, RedisClusterNode } from './services.js';

const SLOTS = 16384;
const POLL_MS = 100;
const run = promisify(execFile);

/** The port of the master currently serving `key`'s slot, as most of the nodes that answer see it. */
export async function masterOf(endpoint: RedisClusterEndpoint, key: string): Promise<number> {
  const answers = await Promise.allSettled(
    endpoint.nodes.map((node) =>
      onNode(node, async (redis) => {
        const slot = Number(await redis.call('CLUSTER', ['KEYSLOT', key]));
        const range = (await slotRanges(redis)).find((r) => r.start <= slot && slot <= r.end);
        if (!range) throw new Error(`:${node.port} has no master for slot ${slot}`);
        return range.master;
      }),
    ),
  );
  // A node just started again claims its old slots until the others correct it: go by the majority.
  const votes = new Map<number, number>();
  for (const answer of answers) if (answer.status === 'fulfilled') votes.set(answer.value, (votes.get(answer.value) ?? 0) + 1);
  const best = [...votes].sort((a, b) => b[1] - a[1])[0];
  if (!best) throw new Error(`no Redis Cluster node answered (${answers.map((a) => (a.status === 'rejected' ? String(a.reason) : '')).join('; ')})`);
  return best[0];
}

/** Crash a node: SIGKILL to the redis-server on `port` (its pid as the node itself reports it); resolves once it is gone. */
export async function stopNode(endpoint: RedisClusterEndpoint, port: number): Promise<void> {
  const node = nodeAt(endpoint, port);
  const pid = await onNode(node, async (redis) => Number(parseInfo(await redis.info('server')).process_id));
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`:${port} reported no process_id`);
  process.kill(pid, 'SIGKILL');
  await until(`redis-server :${port} (pid ${pid}) to exit after SIGKILL`, 5000, async () => (pidRunning(pid) ? 'still running' : ''));
}

/**
 * Start a stopped node again with its own config (its nodes.conf keeps its id; it rejoins as a replica of the node
 * promoted meanwhile) and wait until the whole cluster is healthy again (waitForHealthy), that node resynced.
 */
export async function restartNode(endpoint: RedisClusterEndpoint, port: number, timeoutMs = 20_000): Promise<void> {
  const node = nodeAt(endpoint, port);
  // --daemonize yes: redis-server forks, detaches and writes node.pidFile; this returns when the parent exits.
  await run(endpoint.redisServer, node.restartArgs, { timeout: 10_000 });
  try {
    await waitForHealthy(endpoint, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last lines of ${node.log}:\n${logTail(node.log)}`);
  }
}

/** Resolves when no survivor routes a slot to the old master any more, and each survivor has all slots and cluster_state:ok. */
export async function waitForFailover(endpoint: RedisClusterEndpoint, oldMasterPort: number, timeoutMs = 20_000): Promise<void> {
  const survivors = endpoint.nodes.filter((node) => node.port !== nodeAt(endpoint, oldMasterPort).port);
  await until(`the failover of :${oldMasterPort}`, timeoutMs, async () => {
    for (const node of survivors) {
      const problem = await onNode(node, async (redis) => {
        const state = parseInfo(String(await redis.call('CLUSTER', ['INFO']))).cluster_state;
        if (state !== 'ok') return `:${node.port} has cluster_state:${state}`;
        const ranges = await slotRanges(redis);
        const covered = ranges.reduce((sum, r) => sum + r.end - r.start + 1, 0);
        if (covered !== SLOTS) return `:${node.port} routes ${covered} slots`;
        if (ranges.some((r) => r.master === oldMasterPort)) return `:${node.port} still routes slots to :${oldMasterPort}`;
        return '';
      });
      if (problem) return problem;
    }
    return '';
  });
}

/**
 * Resolves when the cluster is whole, as at start: every node answers and reports cluster_state:ok with all slots ok,
 * sees all six nodes, three masters with one replica each and none flagged as failing, and every replica's link is up.
 */
export async function waitForHealthy(endpoint: RedisClusterEndpoint, timeoutMs = 20_000): Promise<void> {
  await until('a healthy Redis Cluster', timeoutMs, async () => {
    for (const node of endpoint.nodes) {
      const problem = await onNode(node, async (redis) => {
        const info = parseInfo(String(await redis.call('CLUSTER', ['INFO'])));
        if (info.cluster_state !== 'ok') return `:${node.port} has cluster_state:${info.cluster_state}`;
        if (Number(info.cluster_slots_ok) !== SLOTS) return `:${node.port} has cluster_slots_ok:${info.cluster_slots_ok}`;
        const nodes = parseNodes(String(await redis.call('CLUSTER', ['NODES'])));
        if (nodes.length !== endpoint.nodes.length) return `:${node.port} knows ${nodes.length} nodes`;
        const failing = nodes.find((n) => /fail|handshake|noaddr/.test(n.flags));
        if (failing) return `:${node.port} sees ${failing.address} as ${failing.flags}`;
        const masters = nodes.filter((n) => n.flags.includes('master') && n.slots > 0);
        if (masters.length !== endpoint.nodes.length / 2) return `:${node.port} sees ${masters.length} masters with slots`;
        const lone = masters.find((master) => nodes.filter((n) => n.masterId === master.id).length !== 1);
        if (lone) return `:${node.port} sees master ${lone.address} without exactly one replica`;
        const replication = parseInfo(await redis.info('replication'));
        if (replication.role === 'slave' && replication.master_link_status !== 'up') return `:${node.port}'s link to its master is down`;
        return '';
      });
      if (problem) return problem;
    }
    return '';
  });
}

/** Every key matching `pattern`, sorted: SCAN on each master of a Cluster (ioredis's current view), or on one Redis. */
export async function scanAll(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  if (redis instanceof Cluster && redis.status !== 'ready') throw new Error(`scanAll needs a ready Cluster (it is ${redis.status})`);
  const found = new Set<string>(); // a key can be met twice while roles change
  for (const node of redis instanceof Cluster ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) found.add(key);
    } while (cursor !== '0');
  }
  return [...found].sort();
}

/** Delete every key matching `pattern` (see scanAll), one slot's keys per DEL, so a Cluster never answers CROSSSLOT. Resolves the count deleted. */
export async function deleteAll(redis: Redis | Cluster, pattern: string): Promise<number> {
  const bySlot = new Map<number, string[]>();
  for (const key of await scanAll(redis, pattern)) {
    const slot = redis instanceof Cluster ? keySlot(key) : 0;
    const keys = bySlot.get(slot);
    if (keys) keys.push(key);
    else bySlot.set(slot, [key]);
  }
  let deleted = 0;
  for (const keys of bySlot.values()) {
    for (let i = 0; i < keys.length; i += 500) deleted += await redis.del(...keys.slice(i, i + 500));
  }
  return deleted;
}

// ---------------------------------------------------------------------------------------------

function nodeAt(endpoint: RedisClusterEndpoint, port: number): RedisClusterNode {
  const node = endpoint.nodes.find((n) => n.port === port);
  if (!node) throw new Error(`:${port} is not a node of the Redis Cluster (${endpoint.nodes.map((n) => n.port).join(', ')})`);
  return node;
}

/** A short-lived connection to one node: no retries, no offline queue, so a dead node fails at once. */
async function onNode<T>(node: { host: string; port: number }, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    host: node.host,
    port: node.port,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on('error', () => {}); // a refused connection rejects connect() below
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** CLUSTER SLOTS as { start, end, master port } ranges. */
async function slotRanges(redis: Redis): Promise<{ start: number; end: number; master: number }[]> {
  const reply = (await redis.call('CLUSTER', ['SLOTS'])) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
  return reply.map(([start, end, [, port]]) => ({ start: Number(start), end: Number(end), master: Number(port) }));
}

/** CLUSTER NODES lines: <id> <ip:port@cport> <flags> <master id or -> <ping> <pong> <epoch> <link> <slot ranges…> */
function parseNodes(text: string): { id: string; address: string; flags: string; masterId: string; slots: number }[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', address = '', flags = '', masterId = '', ...rest] = line.trim().split(' ');
      return { id, address, flags, masterId, slots: rest.slice(4).length };
    });
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** Poll `check` ('' = done, else what is still missing) until done; throws with the last answer after timeoutMs. */
async function until(what: string, timeoutMs: number, check: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      last = await check();
      if (!last) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}: ${last}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Alive and not a zombie (a crashed node's parent may not have reaped it yet). */
function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The cluster slot of a key: CRC16 (XMODEM) of the key, or of its {hash tag}, mod 16384. */
function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf('{');
  if (open >= 0) {
    const close = bytes.indexOf('}', open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % SLOTS;
}
