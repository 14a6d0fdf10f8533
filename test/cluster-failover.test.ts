// conncheck on the test services' Redis Cluster while a master crashes (SIGKILL) in the middle of a batch: the master
// that holds the task's own keys, the ones every item result is written to. Its replica takes over within a few
// seconds (cluster-node-timeout 1.5 s); the worker and the API ride through on ioredis's cluster client. The batch must
// still end with every item accounted for: each item terminal once, the summary equal to the items, the project's
// backlog back to zero. What asynchronous replication can lose — a result the old master acknowledged but had not yet
// sent to its replica — comes back as an item still "running" with no job left to run it, which the reaper ends as
// INTERNAL_ERROR ("resubmit it"): that is the only other outcome the test allows, and it reports how many.

import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Task } from '@conncheck/core';
import { Redis } from 'ioredis';
import { masterOf, restartNode, stopNode, waitForFailover, waitForHealthy } from './lib/cluster-control.js';
import { waitFor } from './lib/harness.js';
import { type Pipeline, startPipeline } from './lib/pipeline.js';
import { type RedisClusterEndpoint, loadServices } from './lib/services.js';

const ITEMS = 400;

describe('a Redis Cluster master crashing mid-batch', () => {
  let endpoint: RedisClusterEndpoint;
  let p: Pipeline;
  let target: Server;
  let targetPort: number;

  before(async () => {
    endpoint = loadServices(['rediscluster']).rediscluster;
    await waitForHealthy(endpoint);
    p = await startPipeline({ REDIS_URL: 'redis://127.0.0.1', CONNCHECK_REDIS_CLUSTER_NODES: endpoint.seeds, CONNCHECK_WORKER_CONCURRENCY: '20' });
    // Each check takes about 150 ms (the target accepts, waits, then closes): the batch runs for a few seconds.
    target = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.resume();
      setTimeout(() => socket.end(), 150);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    targetPort = (target.address() as AddressInfo).port;
  });

  after(async () => {
    target?.close();
    await p?.close();
  });

  it('ends the batch with every item accounted for once the replica has taken over', async (t) => {
    const checkId = await p.submit(Array.from({ length: ITEMS }, (_, i) => ({ id: `i${i}`, db_type: 'tcp', ip: '127.0.0.1', db_port: targetPort })));
    const taskKey = p.h.store.keys.task(checkId).task;
    const oldMaster = await masterOf(endpoint, taskKey);
    // While it runs: a read may fail during the failover (the API answers 503 then), so polls go on through errors.
    const read = async (): Promise<Task | undefined> => {
      const res = await p.app.inject(`/v1/proj/checks/${checkId}`);
      return res.statusCode === 200 ? res.json<Task>() : undefined;
    };
    await waitFor(async () => (((await read())?.summary.succeeded ?? 0) >= ITEMS / 5 ? true : undefined), 30_000, 'a fifth of the items to end');
    const before = (await read())!.summary;

    await stopNode(endpoint, oldMaster);
    const crashed = Date.now();
    await waitForFailover(endpoint, oldMaster, 20_000);
    const failoverMs = Date.now() - crashed;

    const done = await waitFor(
      async () => {
        const task = await read().catch(() => undefined);
        return task?.finished_at ? task : undefined;
      },
      90_000,
      'the task to end after the failover',
    );
    const endedMs = Date.now() - crashed;

    const { summary, check_items: items } = done;
    assert.equal(items.length, ITEMS);
    assert.equal(summary.total, ITEMS);
    assert.equal(summary.pending + summary.running, 0);
    assert.equal(summary.succeeded + summary.failed, ITEMS, 'every item ended once, none canceled');
    assert.equal(items.filter((item) => item.status === 'success').length, summary.succeeded, 'the summary is the items');
    const lost = items.filter((item) => item.status !== 'success');
    for (const item of lost) assert.equal(item.error_code, 'INTERNAL_ERROR', `${item.id}: ${item.error_code} ${item.error_msg}`);
    assert.equal(done.status, lost.length === 0 ? 'Succeeded' : 'Failed');
    // The project's side followed: its backlog is back to zero and the task is listed once, under its final status.
    await waitFor(async () => ((await p.h.store.unfinishedItems('proj')) === 0 ? true : undefined), 10_000, 'the backlog to empty');
    const listed = (await p.app.inject('/v1/proj/checks')).json().checks as { check_id: string; status: string }[];
    assert.deepEqual(
      listed.filter((c) => c.check_id === checkId).map((c) => c.status),
      [done.status],
    );
    const rerun = items.filter((item) => item.attempts > 1).length;
    t.diagnostic(
      `${before.succeeded} of ${ITEMS} items done at the crash of the task's master; failover ${failoverMs} ms; task ${done.status} ` +
        `${endedMs} ms after the crash; ${rerun} items run twice, ${lost.length} lost to asynchronous replication (INTERNAL_ERROR)`,
    );

    // Back to the roles the endpoints file lists, for the tests that come after.
    const newMaster = await masterOf(endpoint, taskKey);
    await restartNode(endpoint, oldMaster);
    const node = new Redis({ host: '127.0.0.1', port: oldMaster, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    await node.connect();
    try {
      await node.call('CLUSTER', ['FAILOVER']);
    } finally {
      node.disconnect();
    }
    await waitForFailover(endpoint, newMaster, 20_000);
    await waitForHealthy(endpoint);
  });
});
