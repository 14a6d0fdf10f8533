// The test services' Redis Cluster (test/services.d/redis-cluster.mjs) and the failover helpers of
// test/lib/cluster-control.ts, for real: keys on every master, a master crashed with SIGKILL, its replica promoted and
// serving the key, the old master started again and back as a replica, then master again as the endpoints file says.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { deleteAll, masterOf, restartNode, scanAll, stopNode, waitForFailover, waitForHealthy } from './lib/cluster-control.js';
import { type RedisClusterEndpoint, loadServices } from './lib/services.js';

/** A plain connection to one node, for commands that must reach that node (WAIT, ROLE, CLUSTER FAILOVER). */
async function withNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

describe('the Redis Cluster test service', () => {
  let endpoint: RedisClusterEndpoint;
  let cluster: Cluster;
  const prefix = `t${randomBytes(4).toString('hex')}`;

  before(async () => {
    endpoint = loadServices(['rediscluster']).rediscluster;
    await waitForHealthy(endpoint); // an earlier run's failover may still be settling
    cluster = new Cluster(endpoint.nodes.map(({ host, port }) => ({ host, port })));
  });

  after(async () => {
    if (cluster) {
      assert.equal(await deleteAll(cluster, `${prefix}:*`), 301);
      assert.deepEqual(await scanAll(cluster, `${prefix}:*`), []);
      cluster.disconnect();
    }
  });

  it('has three masters with a replica each over all 16384 slots, and spreads keys over every master', async () => {
    assert.equal(endpoint.nodes.length, 6);
    assert.deepEqual(endpoint.shards.map((shard) => shard.master).sort(), [...endpoint.masters].sort());
    assert.equal(endpoint.seeds.split(',').length, 3);
    const keys = Array.from({ length: 300 }, (_, i) => `${prefix}:k${i}`);
    await Promise.all(keys.map((key) => cluster.set(key, key)));
    assert.deepEqual(await scanAll(cluster, `${prefix}:*`), [...keys].sort());
    const perMaster = await Promise.all(cluster.nodes('master').map((node) => scanAll(node, `${prefix}:*`)));
    assert.equal(perMaster.length, 3);
    assert.ok(
      perMaster.every((found) => found.length > 50),
      `keys per master: ${perMaster.map((found) => found.length).join(', ')}`,
    );
    assert.equal(perMaster.flat().length, keys.length);
  });

  it('fails over when a master crashes, serves its keys from the promoted replica, and takes the old master back as a replica', async (t) => {
    const key = `${prefix}:failover`;
    const oldMaster = await masterOf(endpoint, key);
    // Written on the master itself and WAITed for: its replica has it before the crash.
    const replica = await withNode(oldMaster, async (redis) => {
      await redis.set(key, 'before the crash');
      assert.equal(await redis.wait(1, 2000), 1);
      const [role, , replicas] = (await redis.role()) as [string, number, [string, string, string][]];
      assert.equal(role, 'master');
      assert.equal(replicas.length, 1);
      return Number(replicas[0]?.[1]);
    });

    await stopNode(endpoint, oldMaster);
    const crashed = Date.now();
    await waitForFailover(endpoint, oldMaster, 20_000);
    const failoverMs = Date.now() - crashed;
    const newMaster = await masterOf(endpoint, key);
    assert.notEqual(newMaster, oldMaster);
    assert.equal(newMaster, replica);
    assert.equal(await withNode(newMaster, (redis) => redis.get(key)), 'before the crash');
    const readFrom = Date.now();
    assert.equal(await cluster.get(key), 'before the crash'); // the Cluster client finds the new master itself
    const clusterReadMs = Date.now() - readFrom;

    const restarted = Date.now();
    await restartNode(endpoint, oldMaster);
    const rejoinMs = Date.now() - restarted;
    const role = await withNode(oldMaster, (redis) => redis.role());
    assert.deepEqual(role.slice(0, 3), ['slave', '127.0.0.1', newMaster]);
    const resynced = await withNode(oldMaster, async (redis) => {
      await redis.readonly(); // a replica answers reads of its master's slots only in READONLY mode
      return redis.get(key);
    });
    assert.equal(resynced, 'before the crash');

    // Back to the roles the endpoints file lists, for the tests that come after.
    await withNode(oldMaster, (redis) => redis.call('CLUSTER', ['FAILOVER']));
    await waitForFailover(endpoint, newMaster, 20_000);
    await waitForHealthy(endpoint);
    assert.equal(await masterOf(endpoint, key), oldMaster);
    assert.equal(await cluster.get(key), 'before the crash');
    t.diagnostic(`failover ${failoverMs} ms after the crash; Cluster read after it ${clusterReadMs} ms; rejoin as replica ${rejoinMs} ms`);
  });
});
