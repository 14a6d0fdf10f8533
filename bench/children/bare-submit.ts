// Baseline for submissions: bare Fastify with JSON parsing and one BullMQ `add` per request, answering 202 with an
// id — the least a queueing API can do. conncheck's POST is measured against this under the same load.

import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { report } from '../lib/child.js';

const [redisUrl, prefix] = process.argv.slice(2);
const connection = new Redis(redisUrl!, { maxRetriesPerRequest: null });
const queue = new Queue('bare-submit', { connection, prefix: prefix! });
const app = Fastify({ logger: false });
app.post('/submit', async (request, reply) => {
  const id = randomUUID();
  await queue.add('check', { id, jobs: (request.body as { jobs: unknown[] }).jobs }, { jobId: id, removeOnComplete: true });
  return reply.status(202).send({ check_id: id });
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
report({ port: typeof address === 'object' && address ? address.port : 0 });
