// Redis Cluster: six redis-server processes (3 masters + 3 replicas, Debian package redis-server, which also has
// redis-cli) joined with `redis-cli --cluster create`, no password, no persistence. A short cluster-node-timeout
// makes a crashed master's replica take over within a few seconds, for the failover tests (test/lib/cluster-control.ts).
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  AbortedError,
  FatalError,
  HOST,
  READY_TIMEOUT_MS,
  execOk,
  freePorts,
  mustWhich,
  say,
  secs,
  sleep,
  spawnServer,
  tail,
  waitReady,
  which,
} from './common.mjs';

const NODES = 6;
const SLOTS = 16384;
/** Milliseconds until an unreachable node is taken as failed: a failover takes about 2-3 times this. */
const NODE_TIMEOUT_MS = 1500;

export const redisCluster = {
  name: 'rediscluster',
  missing: () => (which('redis-server') && which('redis-cli') ? [] : ['redis-server']),

  async start(ctx, port) {
    const t0 = Date.now();
    const redisServer = mustWhich('redis-server');
    // Client ports: `port` and 5 more; cluster bus ports: 6 more. Redis's default bus port, port + 10000, does not
    // exist for a free port above 55535, so each node gets its own --cluster-port.
    const more = (await freePorts(2 * NODES)).filter((p) => p !== port).slice(0, 2 * NODES - 1);
    const ports = [port, ...more.slice(0, NODES - 1)];
    const busPorts = more.slice(NODES - 1);
    const base = path.join(ctx.dir, 'rediscluster');
    fs.mkdirSync(base, { mode: 0o700 });

    const nodes = ports.map((p, i) => {
      const dir = path.join(base, String(p));
      fs.mkdirSync(dir, { mode: 0o700 });
      const name = `rediscluster-${p}`;
      const pidFile = path.join(dir, 'redis.pid');
      // prettier-ignore
      const args = [
        '--port', String(p), '--bind', HOST, '--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i]),
        '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-node-timeout', String(NODE_TIMEOUT_MS),
        '--save', '', '--appendonly', 'no', '--dir', dir, '--pidfile', pidFile,
        // A replica's first sync would otherwise wait 5 s for more replicas to share the diskless transfer.
        '--repl-diskless-sync-delay', '0',
      ];
      const proc = spawnServer(ctx, name, redisServer, [...args, '--daemonize', 'no', '--logfile', ''], { pidFile });
      return {
        host: HOST,
        port: p,
        busPort: busPorts[i],
        dir,
        pidFile,
        log: proc.log,
        // What test/lib/cluster-control.ts restartNode() runs: the same node (its nodes.conf keeps its id and
        // epoch), daemonized, its pid in pidFile, which `test/services stop` also follows.
        restartArgs: [...args, '--daemonize', 'yes', '--logfile', proc.log],
        proc,
      };
    });
    await Promise.all(nodes.map((node) => waitReady(ctx, node.proc, 'PING', () => redisCall(node.port, ['PING']))));

    const create = path.join(ctx.dir, 'rediscluster-create.log');
    const created = Date.now();
    await execOk(
      'redis-cli --cluster create',
      mustWhich('redis-cli'),
      ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '1', '--cluster-yes'],
      // TERM=dumb: with an xterm TERM it colours its output even into a file.
      { logFile: create, timeoutMs: Math.max(5000, ctx.deadline - Date.now()), env: { ...process.env, TERM: 'dumb' } },
    );

    // Every node must agree: state ok, all slots on three masters, each with one replica whose link is up.
    let problem = '';
    let topology = null;
    for (;;) {
      const dead = nodes.find((node) => node.proc.exit);
      if (dead) {
        await sleep(50);
        throw new FatalError(`${dead.proc.name} ${dead.proc.exit} while the cluster formed; last lines of ${dead.proc.log}:\n${tail(dead.proc.log)}`);
      }
      try {
        topology = await clusterTopology(ports);
        problem = topology.problem;
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
      if (!problem) break;
      if (ctx.aborted) throw new AbortedError();
      if (Date.now() > ctx.deadline) {
        throw new FatalError(
          `the Redis Cluster was not ready after ${secs(READY_TIMEOUT_MS)} (${problem}); redis-cli --cluster create said:\n${tail(create, 25)}`,
        );
      }
      await sleep(100);
    }

    say(`rediscluster: 3 masters + 3 replicas ready in ${secs(Date.now() - t0)} (redis-cli --cluster create and sync ${secs(Date.now() - created)})`);
    return {
      host: HOST,
      port,
      nodes: nodes.map(({ host, port: p, busPort, dir, pidFile, log, restartArgs }) => ({ host, port: p, busPort, dir, pidFile, log, restartArgs })),
      masters: topology.shards.map((shard) => shard.master),
      replicas: topology.shards.map((shard) => shard.replica),
      shards: topology.shards,
      seeds: ports
        .slice(0, 3)
        .map((p) => `${HOST}:${p}`)
        .join(','),
      nodeTimeoutMs: NODE_TIMEOUT_MS,
      redisServer,
    };
  },

  /** For reusing a started set: every node still up and the cluster whole (see clusterTopology). */
  async healthy(endpoint) {
    if (!Array.isArray(endpoint?.nodes) || endpoint.nodes.length !== NODES) return false;
    try {
      return !(await clusterTopology(endpoint.nodes.map((node) => node.port))).problem;
    } catch {
      return false;
    }
  },
};

/**
 * The cluster as every node sees it. `problem` is '' when each node reports cluster_state:ok with all 16384 slots
 * ok, knows all the nodes, sees three masters with slots and one replica each and no node flagged as failing, and
 * every replica's link to its master is up. `shards`: [{ master, replica }] ports, by the masters' first slot.
 */
async function clusterTopology(ports) {
  const views = await Promise.all(
    ports.map(async (port) => ({
      port,
      info: parseInfo(await redisCall(port, ['CLUSTER', 'INFO'])),
      nodes: parseNodes(await redisCall(port, ['CLUSTER', 'NODES'])),
      replication: parseInfo(await redisCall(port, ['INFO', 'replication'])),
    })),
  );
  let shards = [];
  for (const { port, info, nodes, replication } of views) {
    if (info.cluster_state !== 'ok') return { problem: `:${port} has cluster_state:${info.cluster_state}`, shards };
    if (Number(info.cluster_slots_ok) !== SLOTS) return { problem: `:${port} has cluster_slots_ok:${info.cluster_slots_ok}`, shards };
    if (nodes.length !== ports.length) return { problem: `:${port} knows ${nodes.length} nodes`, shards };
    const failing = nodes.find((node) => node.flags.some((flag) => ['fail', 'fail?', 'handshake', 'noaddr'].includes(flag)));
    if (failing) return { problem: `:${port} sees :${failing.port} as ${failing.flags.join(',')}`, shards };
    const masters = nodes.filter((node) => node.flags.includes('master') && node.slots.length > 0);
    shards = masters
      .map((master) => ({ master, replicas: nodes.filter((node) => node.masterId === master.id) }))
      .sort((a, b) => a.master.firstSlot - b.master.firstSlot)
      .map(({ master, replicas }) => ({ master: master.port, replica: replicas.length === 1 ? replicas[0].port : 0 }));
    if (shards.length !== NODES / 2 || shards.some((shard) => !shard.replica)) {
      return { problem: `:${port} sees masters ${shards.map((s) => `:${s.master} (replica :${s.replica || 'none'})`).join(', ')}`, shards };
    }
    if (replication.role === 'slave' && replication.master_link_status !== 'up') {
      return { problem: `replica :${port}'s link to its master is ${replication.master_link_status}`, shards };
    }
  }
  return { problem: '', shards };
}

function parseInfo(text) {
  return Object.fromEntries(
    String(text)
      .split(/\r?\n/)
      .filter((line) => line.includes(':') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  );
}

/** CLUSTER NODES lines: <id> <ip:port@cport> <flags> <master id or -> <ping> <pong> <epoch> <link> <slot>... */
function parseNodes(text) {
  return String(text)
    .trim()
    .split('\n')
    .map((line) => {
      const [id, address, flags, masterId, , , , , ...slots] = line.trim().split(' ');
      const port = Number(address.split('@')[0].split(':').pop());
      const ranges = slots.filter((slot) => !slot.startsWith('[')); // [slot->-id]: a migration in progress
      return { id, port, flags: flags.split(','), masterId, slots: ranges, firstSlot: ranges.length ? Number(ranges[0].split('-')[0]) : SLOTS };
    });
}

/** One command to the node on `port` over RESP; resolves its reply (an error reply rejects). No redis-cli per call. */
function redisCall(port, args, timeoutMs = 1000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let data = Buffer.alloc(0);
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`${args.join(' ')} to :${port} timed out`));
    });
    socket.once('error', (err) => reject(err));
    socket.once('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`);
    });
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const parsed = parseReply(data, 0);
      if (!parsed) return;
      socket.destroy();
      if (parsed.value instanceof Error) reject(new Error(`${args.join(' ')} to :${port}: ${parsed.value.message}`));
      else resolve(parsed.value);
    });
  });
}

/** One RESP2 reply from buf at offset: { value, end }, or null while incomplete. */
function parseReply(buf, offset) {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[offset]);
  const line = buf.toString('utf8', offset + 1, eol);
  switch (type) {
    case '+':
      return { value: line, end: eol + 2 };
    case '-':
      return { value: new Error(line), end: eol + 2 };
    case ':':
      return { value: Number(line), end: eol + 2 };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + length + 2) return null;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + length), end: eol + 2 + length + 2 };
    }
    case '*': {
      const count = Number(line);
      const items = [];
      let end = eol + 2;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, end);
        if (!item) return null;
        items.push(item.value);
        end = item.end;
      }
      return { value: count < 0 ? null : items, end };
    }
    default:
      return { value: new Error(`unexpected RESP reply ${JSON.stringify(buf.toString('utf8', offset, eol))}`), end: buf.length };
  }
}
