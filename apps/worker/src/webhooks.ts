// Owns: calling a task's callback_url when it ends — moving due callbacks into a BullMQ queue, a signed POST of the
// task summary to an address the network policy allows, retries with backoff, and every attempt recorded on the task.
// Must not: decide when a task ends (the store marks callbacks due in the same script that ends the task).

import { promises as dns, type LookupAddress } from 'node:dns';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RedisClient } from '@conncheck/store';
import { type Logger, type SecretBox, webhookSecret, webhookSignature } from '@conncheck/core';
import { normalizeAddress } from '@conncheck/probes';
import { type TaskStore, logErrors } from '@conncheck/store';
import { isFinalFailure } from './final-failure.js';
import { Periodic } from './periodic.js';
import type { WorkerPolicies } from './policies.js';

export interface WebhookSenderOptions {
  store: TaskStore;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers need. */
  connection: RedisClient;
  box: SecretBox;
  policies: WorkerPolicies;
  logger: Logger;
  /** Delivery attempts before the callback is given up. @defaultValue 8 */
  attempts?: number;
  /** First retry delay; each next one doubles. @defaultValue 2000 */
  backoffMs?: number;
  /** How long one delivery may take. @defaultValue 10000 */
  timeoutMs?: number;
}

interface DeliveryJob {
  check_id: string;
}

const QUEUE = 'webhooks';

export class WebhookSender {
  private readonly queue: Queue<DeliveryJob>;
  private worker: Worker<DeliveryJob> | undefined;
  private readonly dispatcher: Periodic;
  private readonly attempts: number;
  private readonly backoffMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: WebhookSenderOptions) {
    const prefix = options.store.keys.queuePrefix(QUEUE);
    this.queue = new Queue<DeliveryJob>(QUEUE, { connection: options.connection, prefix });
    logErrors(this.queue, options.logger, 'webhook queue error');
    this.attempts = options.attempts ?? 8;
    this.backoffMs = options.backoffMs ?? 2000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.dispatcher = new Periodic('webhook dispatch', 1000, () => this.dispatchDue(), options.logger);
  }

  start(): void {
    const { store, connection, logger } = this.options;
    this.worker = new Worker<DeliveryJob>(QUEUE, (job) => this.deliver(job), { connection, prefix: store.keys.queuePrefix(QUEUE), concurrency: 10 });
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      if (isFinalFailure(job, err)) {
        logger.warn({ check_id: job.data.check_id, attempts: job.attemptsMade, err: err.message }, 'webhook given up');
        void store.callbackFailed(job.data.check_id).catch(() => undefined);
      }
    });
    logErrors(this.worker, logger, 'webhook worker error');
    this.dispatcher.start();
  }

  /** Moves ended tasks' due callbacks into the delivery queue (a job id per task, so a repeat adds nothing). */
  async dispatchDue(): Promise<number> {
    const { store } = this.options;
    const due = await store.dueCallbacks(100);
    for (const checkId of due) {
      await this.queue.add(
        'deliver',
        { check_id: checkId },
        {
          jobId: `hook.${checkId}`,
          attempts: this.attempts,
          backoff: { type: 'exponential', delay: this.backoffMs },
          removeOnComplete: true,
          removeOnFail: { age: 24 * 3600 },
        },
      );
      await store.clearDueCallback(checkId);
    }
    return due.length;
  }

  private async deliver(job: Job<DeliveryJob>): Promise<void> {
    const { store, box, logger } = this.options;
    const checkId = job.data.check_id;
    const callback = await store.callbackOf(checkId);
    if (!callback) return; // the task expired before it could be told: nothing to send
    const body = JSON.stringify({ event: 'task.ended', project: callback.project, ...callback.task });
    const timestamp = Math.floor(Date.now() / 1000);
    const started = performance.now();
    const attempt = job.attemptsMade + 1;
    const at = new Date().toISOString();
    let statusCode: number | undefined;
    try {
      statusCode = await this.post(callback.url, callback.allowLoopback, body, {
        'content-type': 'application/json',
        'user-agent': 'conncheck-webhook/1',
        'x-conncheck-event': 'task.ended',
        'x-conncheck-delivery': checkId,
        'x-conncheck-timestamp': String(timestamp),
        'x-conncheck-signature': webhookSignature(webhookSecret(box, callback.project), timestamp, body),
      });
    } catch (err) {
      const message = (err as Error).message;
      const forbidden = err instanceof UnrecoverableError;
      await store.recordCallbackAttempt(checkId, { attempt, at, error: message, duration_ms: elapsed(started) }, forbidden ? 'failed' : 'pending');
      throw err;
    }
    const ok = statusCode >= 200 && statusCode < 300;
    await store.recordCallbackAttempt(checkId, { attempt, at, status_code: statusCode, duration_ms: elapsed(started) }, ok ? 'delivered' : 'pending');
    if (!ok) throw new Error(`the receiver answered HTTP ${statusCode}`);
    logger.info({ check_id: checkId, attempt, status_code: statusCode }, 'webhook delivered');
  }

  /**
   * POSTs to the URL's host at an address the network policy allows — resolved once, every address checked, the
   * connection made to the checked one (the URL's name still used for TLS and Host). Resolves with the status code.
   */
  private async post(rawUrl: string, mayReachLoopback: boolean, body: string, headers: Record<string, string>): Promise<number> {
    const url = new URL(rawUrl);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const literal = normalizeAddress(host);
    let addresses: LookupAddress[];
    if (literal) {
      addresses = [{ address: literal.address, family: literal.family }];
    } else {
      try {
        addresses = await dns.lookup(host, { all: true, verbatim: true });
      } catch (err) {
        throw new Error(`cannot resolve "${host}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    }
    const policy = mayReachLoopback ? this.options.policies.open : this.options.policies.tenant;
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    for (const { address } of addresses) {
      const decision = policy.checkEndpoint(address, port);
      if (!decision.allowed)
        throw new UnrecoverableError(
          `callback_url ${literal ? '' : `"${host}" resolves to ${address}: `}${decision.reason}, which this deployment may not connect to`,
        );
    }
    const pinned = addresses[0]!;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<number>((resolve, reject) => {
      const req = send(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          timeout: this.timeoutMs,
          lookup: (_hostname, options, callback) => {
            if ((options as { all?: boolean }).all) (callback as (err: null, addresses: LookupAddress[]) => void)(null, [pinned]);
            else (callback as (err: null, address: string, family: number) => void)(null, pinned.address, pinned.family);
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ? `${err.code}: ${err.message}` : err.message)));
      req.end(body);
    });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
    await this.worker?.close();
    await this.queue.close();
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
